import { useState, type MouseEvent } from 'react'
import { exportPprofUrl, fetchPprof, type TracedWindowQuery } from '../api'
import { downloadBlob, exportFileName, fileTime } from '../flame-export'

interface PprofLinkProps {
  query: TracedWindowQuery
  testId: string
  title?: string
}

/**
 * "Download pprof". The link keeps the export URL (to copy, or to open on a server without
 * tokens), but a click fetches the file with the session's token and tenant, which a plain link
 * cannot send, and saves it under the server's file name.
 */
export function PprofLink({ query, testId, title }: PprofLinkProps) {
  const [busy, setBusy] = useState(false)
  const [failure, setFailure] = useState<string | null>(null)

  async function save(event: MouseEvent) {
    event.preventDefault()
    if (busy) return
    setBusy(true)
    setFailure(null)
    try {
      const { blob, fileName } = await fetchPprof(query)
      const fallback = exportFileName(
        ['kiln', query.service, query.type, fileTime(query.from)],
        'pb.gz',
      )
      downloadBlob(blob, fileName ?? fallback)
    } catch (error) {
      setFailure(error instanceof Error ? error.message : String(error))
    } finally {
      setBusy(false)
    }
  }

  return (
    <>
      <a
        href={exportPprofUrl(query)}
        download
        onClick={(event) => void save(event)}
        aria-busy={busy}
        data-testid={testId}
        {...(title !== undefined ? { title } : {})}
      >
        {busy ? 'Downloading pprof…' : 'Download pprof'}
      </a>
      {failure !== null ? (
        <span className="export-failure" role="alert" data-testid={`${testId}-failure`}>
          pprof download failed: {failure}
        </span>
      ) : null}
    </>
  )
}
