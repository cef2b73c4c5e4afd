import type { FastifyBaseLogger } from 'fastify'
import type { FindingKind } from '@kiln/wire'
import {
  findingAlert,
  findingLabels,
  type PostableAlert,
  type TenantFinding,
} from './alertmanager-alerts.js'
import { postJson, redactUrl } from './webhook-sender.js'

const MINUTE = 60_000

/** An alert holds for this many detector intervals without a refresh… */
const HOLD_INTERVALS = 3
/** …and at least this long (detectors run every few minutes, or only when asked: interval 0). */
const MIN_HOLD_MS = 15 * MINUTE

/** How long a posted alert fires without a refresh, for detectors run every `intervalMs`. */
export function alertHoldMs(detectorIntervalMs: number): number {
  return Math.max(HOLD_INTERVALS * detectorIntervalMs, MIN_HOLD_MS)
}

export interface AlertmanagerNotifierOptions {
  /** Base URLs of the Alertmanagers, e.g. `http://am:9093`. */
  urls: string[]
  /** How long a posted alert fires without a refresh (`alertHoldMs`). */
  holdMs: number
  timeoutMs: number
  retries: number
  log: FastifyBaseLogger
  /** The HTTP client (tests may pass another). */
  fetch?: typeof fetch
  /** Backoff of `postJson` (tests may shorten it). */
  backoffMs?: number
  /** Unix ms of now (tests may pass another clock). */
  clock?: () => number
}

/**
 * The conditions a run looked at: a finding of another tenant than the run's, or of a service on
 * which a detector failed, was not checked, and may still hold.
 */
export type CheckedScope = (f: { tenant: string; service: string; kind: FindingKind }) => boolean

interface Posted {
  tenant: string
  service: string
  kind: FindingKind
  /** The alert last posted as firing; its labels are the alert's for as long as it holds. */
  alert: PostableAlert
  /** Unix ms at which Alertmanager resolves it by itself. */
  endsAt: number
}

/**
 * Kiln's findings as Prometheus alerts: after each detector run, every finding that holds is
 * POSTed to each Alertmanager's `/api/v2/alerts` as firing until a few runs from now, and every
 * finding this process posted that no longer holds is posted once more, ending now, so that
 * Alertmanager resolves it (and tells receivers with `send_resolved`).
 *
 * What was posted is kept in memory. After a restart, an alert whose finding stopped holding
 * meanwhile is not posted again: Alertmanager resolves it at its `endsAt`, at most `holdMs`
 * after its last refresh, as it does for an alert Prometheus stopped sending. A finding that
 * still holds is posted again with the labels it gives now.
 *
 * Posting never throws: a failure is logged, firing alerts are refreshed at the next run
 * anyway, and a resolution is posted again at the next run until every Alertmanager took it or
 * its alert ended by itself. Several Kiln servers posting the same alerts is harmless:
 * Alertmanager merges alerts with the same labels.
 */
export class AlertmanagerNotifier {
  readonly #o: AlertmanagerNotifierOptions
  readonly #posted = new Map<string, Posted>()

  constructor(options: AlertmanagerNotifierOptions) {
    this.#o = options
  }

  /**
   * Post the findings that hold after a run, and the resolution of those posted before that no
   * longer hold. Only alerts in `checked` can be resolved: a run of one tenant, or a detector
   * that failed on a service, says nothing about the others.
   */
  async notify(holding: TenantFinding[], checked: CheckedScope): Promise<void> {
    const { urls, holdMs, log } = this.#o
    const now = (this.#o.clock ?? Date.now)()
    const alerts: PostableAlert[] = []
    const firing = new Set<string>()
    for (const h of holding) {
      const key = alertKey(h.tenant, h.finding.id)
      // Labels stay those of the first post: a heap growth's fastest site may change as it goes.
      const labels = this.#posted.get(key)?.alert.labels ?? findingLabels(h)
      const alert = findingAlert(h.finding, labels, { now, endsAt: now + holdMs })
      this.#posted.set(key, {
        tenant: h.tenant,
        service: h.finding.service,
        kind: h.finding.kind,
        alert,
        endsAt: now + holdMs,
      })
      firing.add(key)
      alerts.push(alert)
    }
    // Alertmanager knows alerts by their labels: a finding that ended while another with the
    // same labels fires (a new episode of heap growth) is that firing alert, not resolved.
    const firingLabels = new Set(alerts.map((a) => labelKey(a.labels)))
    const resolving: string[] = []
    for (const [key, p] of this.#posted) {
      if (firing.has(key) || !checked(p)) continue
      if (p.endsAt <= now || firingLabels.has(labelKey(p.alert.labels))) {
        this.#posted.delete(key) // resolved by Alertmanager at its end, or carried on by another
        continue
      }
      resolving.push(key)
      alerts.push({ ...p.alert, endsAt: new Date(now).toISOString() })
    }
    if (alerts.length === 0) return

    const results = await Promise.all(
      urls.map((base) =>
        postJson(`${base.replace(/\/+$/, '')}/api/v2/alerts`, alerts, {
          timeoutMs: this.#o.timeoutMs,
          retries: this.#o.retries,
          ...(this.#o.backoffMs !== undefined ? { backoffMs: this.#o.backoffMs } : {}),
          ...(this.#o.fetch ? { fetch: this.#o.fetch } : {}),
        }),
      ),
    )
    const failed = results.filter((r) => !r.ok)
    for (const r of failed) {
      log.warn(
        { url: redactUrl(r.url), status: r.status, error: r.error, attempts: r.attempts },
        'Alertmanager did not take the findings',
      )
    }
    if (failed.length === 0) for (const key of resolving) this.#posted.delete(key)
    log.debug({ firing: firing.size, resolved: resolving.length }, 'findings posted as alerts')
  }
}

const alertKey = (tenant: string, findingId: string): string => `${tenant}\u0000${findingId}`

/** A label set as one string, the same whatever the order of its keys. */
function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}
