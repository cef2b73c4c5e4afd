import type { AlertView, Finding } from '@kiln/wire'
import { fetchAlerts, fetchFindings } from '../api'
import { AppLink } from '../components/AppLink'
import { ErrorState } from '../components/ErrorState'
import { LoadingState } from '../components/LoadingState'
import { formatNumber } from '../format'
import type { Resource } from '../hooks/use-resource'
import { useResource } from '../hooks/use-resource'
import { formatWindow } from '../time-window'
import { safeHref } from '../safe-href'
import { viewOfLink, type AlertsState } from '../url-state'

const LIST_LIMIT = 200

interface AlertsViewProps {
  state: AlertsState
  refreshToken: number
  onRetry(): void
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' })

function Links({ links, what }: { links: AlertView['links']; what: string }) {
  if (links === null) return <span className="muted">no service: no links</span>
  return (
    <span className="row-links">
      <AppLink
        to={viewOfLink(links.diff)}
        className="button-link"
        data-testid="open-comparison"
        title={`Compare the ${what}'s window with its baseline`}
      >
        Compare
      </AppLink>
      <AppLink to={viewOfLink(links.flamegraph)} title={`Flame graph of the ${what}'s window`}>
        Flame graph
      </AppLink>
    </span>
  )
}

const ALERT_URLS: readonly [key: string, label: string][] = [
  ['silence', 'Silence'],
  ['dashboard', 'Dashboard'],
  ['panel', 'Panel'],
  ['image', 'Image'],
]

/** The alert's own links (its rule, Grafana's silence, dashboard, panel) and Grafana's values. */
function AlertOrigin({ alert }: { alert: AlertView }) {
  const links = [['generator', 'Source'] as const, ...ALERT_URLS].flatMap(([key, label]) => {
    const href = safeHref(key === 'generator' ? alert.generatorUrl : alert.urls[key])
    return href === null ? [] : [{ key, label, href }]
  })
  const values = Object.entries(alert.values)
  if (links.length === 0 && values.length === 0) return null
  return (
    <div className="muted alert-origin">
      {links.map((l) => (
        <a key={l.key} href={l.href} target="_blank" rel="noreferrer noopener">
          {l.label}
        </a>
      ))}
      {values.length > 0 && (
        <span data-testid="alert-values">
          {values.map(([k, v]) => `${k} = ${formatNumber(v)}`).join(', ')}
        </span>
      )}
    </div>
  )
}

function AlertsTable({ alerts }: { alerts: readonly AlertView[] }) {
  if (alerts.length === 0) {
    return (
      <p className="table-note">
        No alerts in the last 24 hours. Point an Alertmanager or Grafana webhook at{' '}
        <code>/api/v1/hooks/alertmanager</code> or <code>/api/v1/hooks/grafana</code>, or POST JSON
        to <code>/api/v1/hooks/generic</code>.
      </p>
    )
  }
  return (
    <table className="list-table" data-testid="alerts-table">
      <thead>
        <tr>
          <th scope="col">Alert</th>
          <th scope="col">Service</th>
          <th scope="col">Status</th>
          <th scope="col">Window</th>
          <th scope="col">Open</th>
        </tr>
      </thead>
      <tbody>
        {alerts.map((alert) => (
          <tr key={alert.id} data-alert={alert.name}>
            <td>
              <strong>{alert.name}</strong>
              <div className="muted">{alert.source}</div>
              <AlertOrigin alert={alert} />
            </td>
            <td>
              {alert.service || <span className="muted">unmapped</span>}
              {alert.mapping.rule && alert.mapping.rule !== 'service' && (
                <div className="muted">by label {alert.mapping.rule}</div>
              )}
              {alert.selector && (
                <div>
                  <code>{alert.selector}</code>
                </div>
              )}
              {alert.mapping.warning && (
                <div className="alert-warning" role="note" data-testid="mapping-warning">
                  {alert.mapping.warning}
                </div>
              )}
            </td>
            <td>
              <span className={`status status-${alert.status}`}>{alert.status}</span>
            </td>
            <td>
              {formatWindow(alert.window)}
              {alert.onset && (
                <div className="muted">started {dateTime.format(alert.startsAt)}</div>
              )}
            </td>
            <td>
              <Links links={alert.links} what="alert" />
              {alert.onsetLinks && (
                <div>
                  <AppLink
                    to={viewOfLink(alert.onsetLinks.diff)}
                    title="Compare the alert's first half hour with the half hour before it"
                  >
                    Onset
                  </AppLink>
                </div>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function findingDetail(finding: Finding): string {
  const fns = finding.functions.slice(0, 3).map((fn) => {
    if (fn.baseShare !== undefined && fn.compShare !== undefined) {
      return `${fn.name} ${formatNumber(fn.baseShare * 100)}% → ${formatNumber(fn.compShare * 100)}%`
    }
    return fn.name
  })
  return fns.join(', ')
}

function FindingsTable({ findings }: { findings: readonly Finding[] }) {
  if (findings.length === 0) {
    return (
      <p className="table-note">
        No findings in the last 24 hours. Kiln looks for CPU regressions between versions and for
        heap in use that keeps growing.
      </p>
    )
  }
  return (
    <table className="list-table" data-testid="findings-table">
      <thead>
        <tr>
          <th scope="col">Finding</th>
          <th scope="col">Service</th>
          <th scope="col">Since</th>
          <th scope="col">Functions</th>
          <th scope="col">Open</th>
        </tr>
      </thead>
      <tbody>
        {findings.map((finding) => (
          <tr key={finding.id} data-finding={finding.kind}>
            <td>
              <strong>{finding.title}</strong>
              <div className="muted">
                {finding.kind === 'cpu_regression' ? 'CPU regression' : 'Heap growth'}
              </div>
            </td>
            <td>{finding.service}</td>
            <td>{dateTime.format(finding.time)}</td>
            <td>{findingDetail(finding)}</td>
            <td>
              <Links links={finding.links} what="finding" />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function List<T>(props: {
  title: string
  resource: Resource<T>
  onRetry(): void
  render(data: T): React.ReactNode
}) {
  const { resource } = props
  return (
    <section className="list-section" aria-label={props.title}>
      <h2>{props.title}</h2>
      {resource.error !== undefined ? (
        <ErrorState
          what={props.title.toLowerCase()}
          error={resource.error}
          onRetry={props.onRetry}
        />
      ) : resource.data === undefined ? (
        <LoadingState what={props.title.toLowerCase()} />
      ) : (
        props.render(resource.data)
      )}
    </section>
  )
}

/** Alerts received and Kiln's own findings of the last day, each opening its comparison. */
export function AlertsView({ state, refreshToken, onRetry }: AlertsViewProps) {
  const service = state.service ?? undefined
  const filter = { ...(service !== undefined ? { service } : {}), limit: LIST_LIMIT }
  const alerts = useResource(
    { key: `alerts${service ?? ''}`, load: (signal) => fetchAlerts(filter, signal) },
    refreshToken,
  )
  const findings = useResource(
    { key: `findings${service ?? ''}`, load: (signal) => fetchFindings(filter, signal) },
    refreshToken,
  )
  return (
    <>
      <p className="summary">
        {service !== undefined ? (
          <>
            <span>
              Only <strong>{service}</strong>
            </span>
            <AppLink to={{ ...state, service: null }}>Show every service</AppLink>
          </>
        ) : (
          <span>Every service, last 24 hours, newest first</span>
        )}
      </p>
      <List
        title="Alerts"
        resource={alerts}
        onRetry={onRetry}
        render={(data) => <AlertsTable alerts={data.alerts} />}
      />
      <List
        title="Findings"
        resource={findings}
        onRetry={onRetry}
        render={(data) => <FindingsTable findings={data.findings} />}
      />
    </>
  )
}
