import { useEffect } from 'react'
import { fetchOpen } from '../api'
import { useResource } from '../hooks/use-resource'
import { ErrorState } from './ErrorState'
import { LoadingState } from './LoadingState'

/**
 * An alert's link that reached the UI unresolved (`/open?...` without a token that could read):
 * asks the server where it leads, with the session's token, and replaces the page with that
 * view. Only the target's query string is kept, so the UI stays on its own origin whatever
 * `KILN_PUBLIC_URL` says.
 */
export function OpenLink({ params }: { params: URLSearchParams }) {
  const target = useResource(
    { key: `open?${params.toString()}`, load: (signal) => fetchOpen(params, signal) },
    0,
  )
  const url = target.data?.url
  useEffect(() => {
    if (url === undefined) return
    const { search } = new URL(url)
    window.location.replace(`${window.location.pathname}${search}`)
  }, [url])
  if (target.error !== undefined) {
    return (
      <main className="app-main">
        <ErrorState
          what="the alert's view"
          error={target.error}
          onRetry={() => window.location.reload()}
        />
      </main>
    )
  }
  return (
    <main className="app-main">
      <LoadingState what="the alert's view" />
    </main>
  )
}
