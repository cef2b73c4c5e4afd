import type { ServicesResponse } from '@kiln/wire'
import { useEffect } from 'react'
import { fetchFlamegraph, fetchServices } from './api'
import { Controls } from './components/Controls'
import { EmptyState } from './components/EmptyState'
import { ErrorState } from './components/ErrorState'
import { LoadingState } from './components/LoadingState'
import { ProfileView } from './components/ProfileView'
import { useAutoRefresh } from './hooks/use-auto-refresh'
import { useResource, type ResourceRequest } from './hooks/use-resource'
import { useViewState } from './hooks/use-view-state'
import { resolveSelection } from './selection'
import { timeRangeOf, timeWindow } from './time-range'

const AUTO_REFRESH_INTERVAL_MS = 10_000

const SERVICES_REQUEST: ResourceRequest<ServicesResponse> = {
  key: 'services',
  load: fetchServices,
}

export function App() {
  const [view, setView] = useViewState()
  const { refreshToken, refresh } = useAutoRefresh(AUTO_REFRESH_INTERVAL_MS)
  const services = useResource(SERVICES_REQUEST, refreshToken)
  const selection = services.data ? resolveSelection(services.data.services, view) : null
  const service = selection?.service.name ?? null
  const type = selection?.type ?? null
  const { range } = view

  // Write the service and type actually shown back to the URL, so the link reopens them.
  useEffect(() => {
    if (service !== null && (service !== view.service || type !== view.type)) {
      setView({ ...view, service, type }, 'replace')
    }
  }, [service, type, view, setView])

  const profile = useResource(
    service !== null && type !== null
      ? {
          key: JSON.stringify([service, type, range]),
          load: (signal) =>
            fetchFlamegraph({ service, type, ...timeWindow(range, Date.now()) }, signal),
        }
      : null,
    refreshToken,
  )

  function content() {
    if (services.error !== undefined) {
      return <ErrorState what="services" error={services.error} onRetry={refresh} />
    }
    if (services.data === undefined) return <LoadingState what="services" />
    if (selection === null) return <EmptyState refreshIntervalMs={AUTO_REFRESH_INTERVAL_MS} />
    return (
      <>
        <Controls
          services={services.data.services}
          service={selection.service}
          type={type}
          range={range}
          onServiceChange={(next) => setView({ ...view, service: next }, 'push')}
          onTypeChange={(next) => setView({ ...view, type: next }, 'push')}
          onRangeChange={(next) => setView({ ...view, range: next }, 'push')}
        />
        <ProfileView
          profile={profile}
          service={selection.service.name}
          type={type}
          rangeLabel={timeRangeOf(range).label}
          onRetry={refresh}
        />
      </>
    )
  }

  const busy = services.loading || profile.loading
  return (
    <div className="app">
      <header className="app-header">
        <h1>Kiln</h1>
        <div className="refresh">
          <span className="refresh-note">
            {busy ? 'Refreshing…' : `Auto-refresh every ${AUTO_REFRESH_INTERVAL_MS / 1000} s`}
          </span>
          <button type="button" onClick={refresh} aria-busy={busy}>
            Refresh
          </button>
        </div>
      </header>
      <main className="app-main">{content()}</main>
    </div>
  )
}
