import type { AlertSource } from '@kiln/wire'

/**
 * The payloads of the inbound hooks, reduced to one shape. Alertmanager's webhook
 * (`webhook_config`, payload `version: "4"`) and Grafana's webhook contact point (the same
 * layout plus `orgId`, `title`, `state`, `message`, and per alert `values`, `silenceURL`,
 * `dashboardURL`, `panelURL`) carry a list of alerts with labels, annotations and
 * `startsAt`/`endsAt`; the generic form is one such alert, or `{alerts: [...]}`.
 */
export interface IncomingAlert {
  source: AlertSource
  name: string
  /** As sent; anything but `resolved` is firing. */
  status: string
  startsAt: unknown
  endsAt: unknown
  labels: Record<string, string>
  annotations: Record<string, string>
  /** Alertmanager's and Grafana's label fingerprint; `''` when absent. */
  fingerprint: string
  generatorUrl: string
  /** Generic form only: the service and profile type named outright. */
  service?: string | undefined
  type?: string | undefined
  /** Grafana only: `silence`, `dashboard`, `panel`, `image` URLs of the alert. */
  urls?: Record<string, string>
  /** Grafana only: the values of the rule's queries and expressions (`{"B": 812, "C": 1}`). */
  values?: Record<string, number>
}

type Labels = Record<string, string> | undefined

export interface WebhookAlert {
  status?: string
  labels?: Labels
  annotations?: Labels
  startsAt?: string
  endsAt?: string
  generatorURL?: string
  fingerprint?: string
  panelURL?: string
  dashboardURL?: string
  silenceURL?: string
  imageURL?: string
  values?: Record<string, number | null> | null
}

/** Alertmanager's webhook body (Grafana's is a superset). */
export interface WebhookBody {
  status?: string
  alerts: WebhookAlert[]
  commonLabels?: Labels
  commonAnnotations?: Labels
  groupLabels?: Labels
  /** Grafana only: `[FIRING:2]  (blue)`. */
  title?: string
}

export interface GenericAlertBody {
  service?: string
  name?: string
  type?: string
  status?: string
  startsAt: string | number
  endsAt?: string | number
  labels?: Labels
  annotations?: Labels
  url?: string
}

function webhookAlerts(source: AlertSource, body: WebhookBody): IncomingAlert[] {
  return body.alerts.map((alert) => {
    // Each alert carries all of its labels; the common ones fill in for senders that trim them.
    const labels = { ...body.groupLabels, ...body.commonLabels, ...alert.labels }
    const annotations = { ...body.commonAnnotations, ...alert.annotations }
    return {
      source,
      name: labels.alertname ?? body.title ?? '',
      status: alert.status ?? body.status ?? 'firing',
      startsAt: alert.startsAt,
      endsAt: alert.endsAt,
      labels,
      annotations,
      fingerprint: alert.fingerprint ?? '',
      generatorUrl: alert.generatorURL || alert.panelURL || alert.dashboardURL || '',
      ...(source === 'grafana' ? grafanaExtras(alert) : {}),
    }
  })
}

/** Grafana's links to silence the alert and to its dashboard, panel and image, and its values. */
function grafanaExtras(alert: WebhookAlert): Pick<IncomingAlert, 'urls' | 'values'> {
  const urls: Record<string, string> = {}
  for (const [key, url] of [
    ['silence', alert.silenceURL],
    ['dashboard', alert.dashboardURL],
    ['panel', alert.panelURL],
    ['image', alert.imageURL],
  ] as const) {
    if (url) urls[key] = url
  }
  const values: Record<string, number> = {}
  for (const [key, value] of Object.entries(alert.values ?? {})) {
    if (typeof value === 'number' && Number.isFinite(value)) values[key] = value
  }
  return { urls, values }
}

export function fromAlertmanager(body: WebhookBody): IncomingAlert[] {
  return webhookAlerts('alertmanager', body)
}

export function fromGrafana(body: WebhookBody): IncomingAlert[] {
  return webhookAlerts('grafana', body)
}

export function fromGeneric(
  body: GenericAlertBody | { alerts: GenericAlertBody[] },
): IncomingAlert[] {
  const alerts = 'alerts' in body ? body.alerts : [body]
  return alerts.map((a) => ({
    source: 'generic',
    name: a.name ?? a.labels?.alertname ?? '',
    status: a.status ?? 'firing',
    startsAt: a.startsAt,
    endsAt: a.endsAt,
    labels: { ...a.labels },
    annotations: { ...a.annotations },
    fingerprint: '',
    generatorUrl: a.url ?? '',
    service: a.service,
    type: a.type,
  }))
}
