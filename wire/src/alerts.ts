import type { DeepLinks, TimeWindow } from './links.js'

/*
 * Alerting hooks. Inbound: alerts from Prometheus Alertmanager, Grafana or any tool that can
 * POST JSON, each mapped to a service and a window and answered with deep links. Outbound:
 * Kiln's own findings (a function's CPU share jumped with a version; heap in use kept growing),
 * stored, listed, and POSTed to configured webhooks. Times are Unix milliseconds.
 */

export type AlertSource = 'alertmanager' | 'grafana' | 'generic'

/**
 * `POST /api/v1/hooks/generic`: one alert, or `{alerts: [...]}`. `startsAt`/`endsAt` are RFC 3339
 * strings or Unix ms; without `endsAt` (or with one in the future) the window ends now.
 */
export interface GenericAlert {
  /** The service; else read from `labels` like Alertmanager's (`service`, `service_name`, `job`). */
  service?: string
  name?: string
  /** Profile type of the links; default `cpu`. */
  type?: string
  status?: 'firing' | 'resolved'
  startsAt: string | number
  endsAt?: string | number
  labels?: Record<string, string>
  annotations?: Record<string, string>
  /** Where the alert came from (a dashboard, a rule). */
  url?: string
}

/** A stored alert, as listed by `GET /api/v1/alerts` and answered by the hooks. */
export interface AlertView {
  /** Stable per alert instance (source, fingerprint, start): a resolution replaces its firing. */
  id: string
  source: AlertSource
  /** `alertname`, Grafana's rule title, or the generic `name`. */
  name: string
  status: 'firing' | 'resolved'
  /** The mapped service; `''` when no configured label named one (then there are no links). */
  service: string
  /** Profile type of the links (label or annotation `profile_type`, default `cpu`). */
  type: string
  startsAt: number
  /** `null` while firing (Alertmanager's `0001-01-01T00:00:00Z`, absent, or in the future). */
  endsAt: number | null
  /**
   * The anomaly window: from `startsAt` (or, for an alert longer than an hour, the last hour) to
   * `endsAt`, or to now while it fires (to its last notification once it was not heard of for
   * 12 h). At least a minute.
   */
  window: TimeWindow
  /** The same length just before the window. */
  baseline: TimeWindow
  /** Alerts longer than an hour: their first half hour, and the half hour before it started. */
  onset: { window: TimeWindow; baseline: TimeWindow } | null
  /**
   * The alert's labels that the service's profiles carry with the same value (pod, instance,
   * region…), as the selector of both sides of the links; `''` for none.
   */
  selector: string
  /**
   * Which service rule (`KILN_ALERT_SERVICE_LABELS`) named the service, and a warning when
   * none named a service that has profiles (the links may then show nothing).
   */
  mapping: { rule: string; warning: string }
  labels: Record<string, string>
  annotations: Record<string, string>
  /** Alertmanager's `generatorURL`, Grafana's `generatorURL`/`panelURL`, or the generic `url`. */
  generatorUrl: string
  /** Grafana: `silence`, `dashboard`, `panel`, `image` URLs of the alert. */
  urls: Record<string, string>
  /** Grafana: the values of the alert rule's queries and expressions, e.g. `{"B": 812}`. */
  values: Record<string, number>
  receivedAt: number
  links: DeepLinks | null
  /** Links of the onset window (alerts longer than an hour). */
  onsetLinks: DeepLinks | null
}

/** Answer of every `POST /api/v1/hooks/*`. */
export interface HookResponse {
  /** Alerts stored (mapped or not). */
  stored: number
  alerts: AlertView[]
  /** Alerts of the payload that were not stored, with why (e.g. an unreadable `startsAt`). */
  rejected: { index: number; reason: string }[]
  /**
   * Alerts past `KILN_ALERT_MAX_PER_REQUEST` in the payload, not stored (the first ones are).
   * The answer is still 200: Alertmanager does not retry a 4xx, which would lose them all.
   */
  dropped: number
}

/**
 * `GET /api/v1/open?service=&start=&end=&at=&type=&label.<name>=<value>`: where the link of an
 * alert leads. `GET /open` with the same parameters redirects there (a stable URL for
 * Alertmanager and Grafana templates).
 */
export interface OpenResponse {
  service: string
  type: string
  /** The service rule that named the service (`service` when named outright). */
  rule: string
  /** Set when no rule named a service with profiles. */
  warning: string
  /** The alert's labels that the service's profiles carry, `''` for none. */
  selector: string
  /** The anomaly window (the last hour of a longer alert). */
  window: TimeWindow
  onset: { window: TimeWindow; baseline: TimeWindow } | null
  /**
   * `previous-version`: a version was deployed within 6 h before the window's end, and the link
   * compares it with the version before; `previous-window`: the window against the window of the
   * same length before it.
   */
  comparison: 'previous-version' | 'previous-window'
  /** The two sides of the comparison. */
  baseline: TimeWindow
  compared: TimeWindow
  versions: { base: string; comp: string } | null
  /** The UI view the link opens: `links.diff`. */
  url: string
  links: DeepLinks
}

/** `GET /api/v1/alerts?service=&from=&to=&status=&limit=`: alerts whose window overlaps, newest first. */
export interface AlertsResponse {
  from: number
  to: number
  alerts: AlertView[]
}

export type FindingKind = 'cpu_regression' | 'heap_growth'

/**
 * A function named by a finding. For `cpu_regression`, `base`/`comp` are its self CPU time in the
 * previous and the culprit version and `baseShare`/`compShare` its share of their CPU. For
 * `heap_growth`, `base`/`comp` are its bytes in use at the first and the last snapshot of the
 * latest detection window, and `growthPerHour` its fitted growth per instance over that window
 * times the instances at its end (a rollout's new processes do not count as growth).
 */
export interface FindingFunction {
  name: string
  file: string
  base: number
  comp: number
  baseShare?: number
  compShare?: number
  growthPerHour?: number
}

export type DeliveryState = 'none' | 'pending' | 'delivered' | 'failed'

export interface Finding {
  /** Stable: the same regression or the same episode of growth keeps its id across runs. */
  id: string
  kind: FindingKind
  service: string
  type: string
  /** One line, for people. */
  title: string
  /** When the condition began: the culprit version's first profile, or the growth's first snapshot. */
  time: number
  detectedAt: number
  /**
   * What changed, the comparison side of the links: the culprit version's profiles
   * (`cpu_regression`), or the latest snapshots of the growth (`heap_growth`; it moves on while
   * the growth goes on).
   */
  window: TimeWindow
  /**
   * What it is compared with, the baseline side of the links: the previous version's profiles,
   * or the first snapshots of the growth.
   */
  baseline: TimeWindow
  /** `cpu_regression`: the version at which the share changed (found by bisection). */
  version?: string
  /** `cpu_regression`: the version before it. */
  previousVersion?: string
  /** `cpu_regression`: the versions compared, oldest first (the window's first and newest). */
  versionsCompared?: [string, string]
  functions: FindingFunction[]
  /**
   * Numbers of the detection. `cpu_regression`: `threshold`, `shareIncrease`. `heap_growth`:
   * `slopeBytesPerSecond`, `r2`, `growthRatio`, `startBytes`, `endBytes`, `snapshots`.
   */
  stats: Record<string, number>
  links: DeepLinks
  delivery: DeliveryState
}

/** `GET /api/v1/findings?service=&kind=&from=&to=&limit=`, newest first. */
export interface FindingsResponse {
  from: number
  to: number
  findings: Finding[]
}

/** `POST /api/v1/findings/run`: detectors run now; the findings this run created. */
export interface FindingsRunResponse {
  findings: Finding[]
}

/**
 * Body POSTed to each configured webhook (`KILN_WEBHOOK_URLS`). `text` is a plain-text summary
 * with the links, so a Slack incoming webhook shows it as is.
 */
export interface FindingNotification {
  kind: 'kiln.finding'
  text: string
  finding: Finding
}
