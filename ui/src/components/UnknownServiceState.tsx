import type { ServiceSummary } from '@kiln/wire'
import { mostRecentService } from '../selection'
import type { ViewState } from '../url-state'
import { AppLink } from './AppLink'

interface UnknownServiceStateProps {
  /** The service the link asked for. */
  name: string
  services: readonly ServiceSummary[]
  view: ViewState
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

/**
 * A link names a service this server has no profiles of (mistyped, renamed, another tenant, or
 * gone past retention): say so, and offer the services there are, most recent first, instead
 * of silently showing another one.
 */
export function UnknownServiceState({ name, services, view }: UnknownServiceStateProps) {
  const recent = mostRecentService(services)
  const sorted = [...services].sort((a, b) => b.lastSeen - a.lastSeen)
  return (
    <section className="notice" data-testid="unknown-service">
      <h2>No profiles of “{name}”</h2>
      <p>
        This server has no profiles of a service named <code>{name}</code> in this tenant: the name
        may be mistyped, the service renamed, or its profiles past retention.
      </p>
      {recent ? (
        <p>
          <AppLink to={{ ...view, service: recent.name, type: null } as ViewState}>
            Open {recent.name}
          </AppLink>
          , the most recently active service, or another one:
        </p>
      ) : null}
      <ul className="service-list">
        {sorted.map((s) => (
          <li key={s.name}>
            <AppLink to={{ ...view, service: s.name, type: null } as ViewState}>{s.name}</AppLink>{' '}
            <span className="muted">last profile {dateTime.format(s.lastSeen)}</span>
          </li>
        ))}
      </ul>
    </section>
  )
}
