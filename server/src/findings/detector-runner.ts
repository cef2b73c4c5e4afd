import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyBaseLogger } from 'fastify'
import type { Finding, FindingKind, FindingNotification } from '@kiln/wire'
import { AlertmanagerNotifier, alertHoldMs } from './alertmanager-notifier.js'
import { detectCpuRegressions } from './cpu-regression.js'
import { splitList, type FindingsConfig } from './findings-config.js'
import { toFinding, toRow, type DetectedFinding } from './finding-model.js'
import { findingText } from './finding-text.js'
import { detectHeapGrowth, HEAP_TYPE } from './heap-growth.js'
import { profiledServices } from './profiled-services.js'
import { isRefusal, postJson, redactUrl } from './webhook-sender.js'
import {
  latestFinding,
  storedFindings,
  undeliveredFindings,
  writeFindings,
} from '../store/finding-store.js'
import type { FindingRow } from '../store/rows.js'

export interface DetectorRunnerOptions {
  client: ClickHouseClient
  database: string
  config: FindingsConfig
  log: FastifyBaseLogger
  /** The HTTP client of webhooks and Alertmanagers (tests may pass another). */
  fetch?: typeof fetch
}

export interface RunOptions {
  /** Only this tenant's data (a run asked for through the API); default every tenant. */
  tenant?: string | undefined
  /** The time the run looks back from; default now. */
  now?: number
}

/** Undelivered findings older than this are not retried any more. */
const REDELIVERY_WINDOW_MS = 24 * 60 * 60 * 1000
const REDELIVERY_BATCH = 100

/**
 * Runs Kiln's detectors over recent data, stores what they find once, and sends each new finding
 * to the configured webhooks. Runs never overlap: a run asked for while one is under way starts
 * after it.
 *
 * Deduplication: a CPU regression is one finding per (service, culprit version), never reported
 * twice. Heap growth is an episode: while a service's heap keeps growing, each run extends the
 * stored finding (same id, later window) instead of reporting a new one; a new finding starts
 * only once the last one's window no longer reaches the growth detected now.
 *
 * With Alertmanagers configured, each run also posts the findings that hold, new or not, as
 * alerts, and resolves those that no longer hold (`AlertmanagerNotifier`).
 */
export class DetectorRunner {
  readonly #o: DetectorRunnerOptions
  readonly #alerts: AlertmanagerNotifier | undefined
  #chain: Promise<unknown> = Promise.resolve()
  #running = 0

  constructor(options: DetectorRunnerOptions) {
    this.#o = options
    const { config } = options
    const alertmanagers = splitList(config.alertmanagerUrl)
    this.#alerts =
      alertmanagers.length === 0
        ? undefined
        : new AlertmanagerNotifier({
            urls: alertmanagers,
            holdMs: alertHoldMs(config.detectorIntervalMs),
            timeoutMs: config.webhookTimeoutMs,
            retries: config.webhookRetries,
            log: options.log,
            ...(options.fetch ? { fetch: options.fetch } : {}),
          })
  }

  /** True while a run is under way or waiting. */
  get busy(): boolean {
    return this.#running > 0
  }

  /** Run the detectors; resolves with the findings this run created. */
  run(options: RunOptions = {}): Promise<Finding[]> {
    this.#running++
    const result = this.#chain.then(() => this.#run(options))
    this.#chain = result.catch(() => undefined).finally(() => this.#running--)
    return result
  }

  /** Resolves once no run is under way (for shutdown). */
  async idle(): Promise<void> {
    while (this.#running > 0) await this.#chain
  }

  async #run(options: RunOptions): Promise<Finding[]> {
    const { client, database: db, config, log } = this.#o
    const now = options.now ?? Date.now()
    const detected: DetectedFinding[] = []
    // Detectors that failed on a service: its findings may hold still, unseen by this run.
    const failed = new Set<string>()

    const lookback = { from: now - config.regressionLookbackMs, to: now, tenant: options.tenant }
    for (const s of await profiledServices(client, db, lookback, 'cpu', 2)) {
      try {
        detected.push(
          ...(await detectCpuRegressions(client, db, {
            ...s,
            from: lookback.from,
            to: now,
            threshold: config.regressionThreshold,
            settleMs: config.regressionSettleMs,
          })),
        )
      } catch (error) {
        failed.add(scopeKey(s.tenant, s.service, 'cpu_regression'))
        log.error({ err: error, service: s.service }, 'CPU regression detector failed')
      }
    }

    const heapWindow = { from: now - config.heapGrowthWindowMs, to: now, tenant: options.tenant }
    for (const s of await profiledServices(client, db, heapWindow, HEAP_TYPE)) {
      try {
        const found = await detectHeapGrowth(client, db, {
          ...s,
          from: heapWindow.from,
          to: now,
          minR2: config.heapGrowthMinR2,
          minRatio: config.heapGrowthMinRatio,
        })
        if (found) detected.push(found)
      } catch (error) {
        failed.add(scopeKey(s.tenant, s.service, 'heap_growth'))
        log.error({ err: error, service: s.service }, 'heap growth detector failed')
      }
    }

    const urls = splitList(config.webhookUrls)
    const created: FindingRow[] = []
    const updated: FindingRow[] = []
    // CPU regressions stored by an earlier run and detected again: they still hold.
    const redetected: FindingRow[] = []
    for (const f of detected) {
      const key = { tenant: f.tenant, service: f.service }
      if (f.kind === 'heap_growth') {
        const last = await latestFinding(client, db, { ...key, kind: 'heap_growth' })
        if (last && last.window_to >= f.time) {
          // The same growth, still going: extend the stored finding, keep its start and id.
          updated.push(
            toRow(
              {
                ...f,
                id: last.finding_id,
                time: last.time,
                baseline: { from: last.baseline_from, to: last.baseline_to },
              },
              { detectedAt: last.detected_at, updatedAt: Math.max(now, last.updated_at + 1) },
              {
                state: last.delivery,
                pendingUrls: last.pending_urls,
                attempts: last.delivery_attempts,
              },
            ),
          )
          continue
        }
      } else {
        const [stored] = await storedFindings(client, db, key, [f.id])
        if (stored) {
          redetected.push(stored)
          continue
        }
      }
      created.push(
        toRow(
          f,
          { detectedAt: now, updatedAt: now },
          { state: urls.length > 0 ? 'pending' : 'none', pendingUrls: urls, attempts: 0 },
        ),
      )
    }
    // Stored before they are sent: a crash between the two sends them on a later run.
    await writeFindings(client, db, [...created, ...updated])
    if (created.length > 0) {
      log.info({ findings: created.map((r) => r.title) }, 'new findings')
    }
    await this.#alerts?.notify(
      [...created, ...updated, ...redetected].map((r) => ({
        tenant: r.tenant,
        finding: toFinding(r, config.publicUrl),
      })),
      (f) =>
        (options.tenant === undefined || f.tenant === options.tenant) &&
        !failed.has(scopeKey(f.tenant, f.service, f.kind)),
    )

    const delivered = await this.#deliver(created, urls, now)
    const retried = await this.#deliver(
      (
        await undeliveredFindings(client, db, {
          tenant: options.tenant,
          since: now - REDELIVERY_WINDOW_MS,
          limit: REDELIVERY_BATCH,
        })
      ).filter((r) => !created.some((c) => c.finding_id === r.finding_id)),
      urls,
      now,
    )
    await writeFindings(client, db, [...delivered, ...retried])
    const final = new Map(delivered.map((r) => [r.finding_id, r]))
    return created.map((r) => toFinding(final.get(r.finding_id) ?? r, config.publicUrl))
  }

  /**
   * Send each finding to the configured URLs it has not reached; return its next row version.
   * Only URLs still configured are tried: a URL removed from the configuration gets nothing more.
   */
  async #deliver(rows: FindingRow[], urls: string[], now: number): Promise<FindingRow[]> {
    const { config, log } = this.#o
    const out: FindingRow[] = []
    for (const row of rows) {
      const targets = row.pending_urls.filter((u) => urls.includes(u))
      if (targets.length === 0) {
        if (row.delivery === 'pending' || row.delivery === 'failed') {
          out.push({
            ...row,
            delivery: 'none',
            pending_urls: [],
            updated_at: Math.max(now, row.updated_at + 1),
          })
        }
        continue
      }
      const finding = toFinding(row, config.publicUrl)
      const body: FindingNotification = {
        kind: 'kiln.finding',
        text: findingText(finding),
        finding,
      }
      const results = await Promise.all(
        targets.map((url) =>
          postJson(url, body, {
            timeoutMs: config.webhookTimeoutMs,
            retries: config.webhookRetries,
            ...(this.#o.fetch ? { fetch: this.#o.fetch } : {}),
          }),
        ),
      )
      const failed = results.filter((r) => !r.ok)
      for (const r of failed) {
        log.warn(
          {
            url: redactUrl(r.url),
            status: r.status,
            error: r.error,
            attempts: r.attempts,
            finding: row.finding_id,
          },
          isRefusal(r)
            ? 'webhook refused the finding, not sent to it again'
            : 'webhook delivery failed',
        )
      }
      out.push({
        ...row,
        delivery: failed.length === 0 ? 'delivered' : 'failed',
        // Later runs retry the URLs that failed, not those that refused the finding.
        pending_urls: failed.filter((r) => !isRefusal(r)).map((r) => r.url),
        delivery_attempts: row.delivery_attempts + 1,
        updated_at: Math.max(now, row.updated_at + 1),
      })
    }
    return out
  }
}

/** A detector's view of one service: the findings of this kind of this service. */
const scopeKey = (tenant: string, service: string, kind: FindingKind): string =>
  `${tenant}\u0000${service}\u0000${kind}`
