import type { ClickHouseClient } from '@clickhouse/client'
import { KilnError } from '../errors.js'
import { KnownKeys } from './known-keys.js'
import { batchSize, emptyBatch, type RowBatch } from './rows.js'

export interface BatchWriterOptions {
  database: string
  /** How long the first request of a batch waits for others to join it. */
  waitMs: number
  /** A batch this large is flushed at once. */
  maxRows: number
  /** Called after each insert attempt, for metrics. */
  onInsert?: (table: string, rows: number, seconds: number, ok: boolean) => void
}

interface Pending {
  batch: RowBatch
  resolve: () => void
  reject: (error: unknown) => void
}

const KNOWN_TTL_MS = 60 * 60 * 1000

/**
 * Merges the rows of concurrent ingest requests into large inserts. `write()` resolves only once
 * the rows of that request are stored, so a request is never acknowledged before it is durable.
 * Flushes run one at a time; rows of a failed flush are rejected, never silently dropped.
 *
 * Insert order is agent stats, series, stacks, samples, profiles: a `profiles` row means its
 * samples are in. Agent stats go first because a snapshot stored without its profile is harmless
 * (the client's retry sends a newer one), while one failing after the profiles would make that
 * retry store the profiles twice.
 */
export class BatchWriter {
  readonly #client: ClickHouseClient
  readonly #options: BatchWriterOptions
  readonly #knownStacks = new KnownKeys(1_000_000, KNOWN_TTL_MS)
  readonly #knownSeries = new KnownKeys(200_000, KNOWN_TTL_MS)
  #pending: Pending[] = []
  #pendingRows = 0
  #timer: NodeJS.Timeout | undefined
  #chain: Promise<void> = Promise.resolve()
  #closed = false

  constructor(client: ClickHouseClient, options: BatchWriterOptions) {
    this.#client = client
    this.#options = options
  }

  get pendingRows(): number {
    return this.#pendingRows
  }

  write(batch: RowBatch): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new KilnError('KILN_ERR_STORE_UNAVAILABLE', 'server is shutting down'))
    }
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ batch, resolve, reject })
      this.#pendingRows += batchSize(batch)
      if (this.#pendingRows >= this.#options.maxRows) this.#schedule(0)
      else this.#schedule(this.#options.waitMs)
    })
  }

  /** Flush what is pending and refuse new writes. */
  async close(): Promise<void> {
    this.#closed = true
    this.#schedule(0)
    await this.#chain
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== undefined) {
      if (delayMs > 0) return
      clearTimeout(this.#timer)
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#chain = this.#chain.then(() => this.#flush())
    }, delayMs)
  }

  async #flush(): Promise<void> {
    const pending = this.#pending
    this.#pending = []
    this.#pendingRows = 0
    if (pending.length === 0) return
    try {
      const merged = this.#merge(pending.map((p) => p.batch))
      await this.#insert(merged)
      for (const row of merged.stacks) this.#knownStacks.add(stackKey(row))
      for (const row of merged.series) this.#knownSeries.add(seriesKey(row))
      for (const p of pending) p.resolve()
    } catch (error) {
      // Any failure to store is a 503 to the client: its profile was not kept and a retry
      // (the agent's, or Pyroscope clients') is the right answer, whatever the cause.
      const wrapped =
        error instanceof KilnError
          ? error
          : new KilnError('KILN_ERR_STORE_UNAVAILABLE', describe(error), { cause: error })
      for (const p of pending) p.reject(wrapped)
    }
  }

  #merge(batches: RowBatch[]): RowBatch {
    const out = emptyBatch()
    const seenStacks = new Set<string>()
    const seenSeries = new Set<string>()
    for (const b of batches) {
      for (const row of b.series) {
        const key = seriesKey(row)
        if (seenSeries.has(key) || this.#knownSeries.has(key)) continue
        seenSeries.add(key)
        out.series.push(row)
      }
      for (const row of b.stacks) {
        const key = stackKey(row)
        if (seenStacks.has(key) || this.#knownStacks.has(key)) continue
        seenStacks.add(key)
        out.stacks.push(row)
      }
      for (const row of b.samples) out.samples.push(row)
      for (const row of b.profiles) out.profiles.push(row)
      for (const row of b.agentStats) out.agentStats.push(row)
    }
    return out
  }

  async #insert(batch: RowBatch): Promise<void> {
    const db = this.#options.database
    const tables = [
      ['agent_stats', batch.agentStats],
      ['series', batch.series],
      ['stacks', batch.stacks],
      ['samples', batch.samples],
      ['profiles', batch.profiles],
    ] as const
    for (const [table, values] of tables) {
      if (values.length === 0) continue
      const started = process.hrtime.bigint()
      let ok = false
      try {
        await this.#client.insert({
          table: `${db}.${table}`,
          values: values as unknown as Record<string, unknown>[],
          format: 'JSONEachRow',
        })
        ok = true
      } finally {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9
        this.#options.onInsert?.(table, values.length, seconds, ok)
      }
    }
  }
}

function stackKey(row: { tenant: string; service: string; stack_hash: string }): string {
  return `${row.tenant}\u0000${row.service}\u0000${row.stack_hash}`
}

function seriesKey(row: { tenant: string; service: string; series_id: string }): string {
  return `${row.tenant}\u0000${row.service}\u0000${row.series_id}`
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 300) : String(error)
}
