import type { ClickHouseClient } from '@clickhouse/client'
import { KilnError } from '../errors.js'
import { KnownKeys } from './known-keys.js'
import { isStoreUnavailable } from './store-errors.js'
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
 * Insert order is agent check-ins, agent stats, series, stacks, samples, profiles: a `profiles`
 * row means its samples are in. Check-ins (`POST /api/v1/schedule`) have a writer of their own
 * (`Store.checkins`), so an agent's plan never waits behind ingest. Agent stats go first because a snapshot stored without its profile is harmless
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
    const merged = this.#merge(pending.map((p) => p.batch))
    const failed = await this.#insert(merged)
    if (failed === undefined) {
      this.#remember(merged)
      for (const p of pending) p.resolve()
      return
    }
    if (pending.length === 1 || !isDataError(failed.error)) {
      // The store is away (or this was one request's own batch): a 503, and the client's retry
      // is the right answer. Tables before the failed one hold rows of this batch: series and
      // stacks (stored once per key however often), agent stats, and, when `profiles` failed,
      // samples, which the retry finds by their `upload` and does not write again
      // (`storedParts`).
      const wrapped = storeUnavailable(failed.error)
      for (const p of pending) p.reject(wrapped)
      return
    }
    // The store refused the data of some request in the batch: the tables before the failed
    // one are in for every request; insert the rest of each request on its own, so one bad
    // request is refused alone and the others are stored, each exactly once.
    this.#remember(merged, failed.table)
    const outcomes = []
    for (const p of pending) {
      const own = this.#merge([p.batch])
      const error = (await this.#insert(own, failed.table))?.error
      if (error === undefined) this.#remember(own)
      outcomes.push({ p, error })
    }
    const allFailed = outcomes.every((o) => o.error !== undefined)
    for (const { p, error } of outcomes) {
      if (error === undefined) p.resolve()
      else if (allFailed || !isDataError(error)) p.reject(storeUnavailable(error))
      else {
        p.reject(new KilnError('KILN_ERR_PROFILE_REJECTED', describe(error), { cause: error }))
      }
    }
  }

  /** Keys now stored, so later batches skip their series and stacks rows. */
  #remember(batch: RowBatch, beforeTable: number = TABLES.length): void {
    const stored = TABLES.slice(0, beforeTable)
    if (stored.includes('stacks')) {
      for (const row of batch.stacks) this.#knownStacks.add(stackKey(row))
    }
    if (stored.includes('series')) {
      for (const row of batch.series) this.#knownSeries.add(seriesKey(row))
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
      for (const row of b.checkins) out.checkins.push(row)
    }
    return out
  }

  /**
   * Insert the batch's tables in order, from `fromTable` on; the first that fails stops it and
   * says which (its index in {@link TABLES}) and why.
   */
  async #insert(
    batch: RowBatch,
    fromTable = 0,
  ): Promise<{ table: number; error: unknown } | undefined> {
    const db = this.#options.database
    for (const [index, table] of TABLES.entries()) {
      if (index < fromTable) continue
      const values = rowsOf(batch, table)
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
      } catch (error) {
        return { table: index, error }
      } finally {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9
        this.#options.onInsert?.(table, values.length, seconds, ok)
      }
    }
    return undefined
  }
}

/** The insert order (see the class comment). */
const TABLES = ['agent_checkins', 'agent_stats', 'series', 'stacks', 'samples', 'profiles'] as const

function rowsOf(batch: RowBatch, table: (typeof TABLES)[number]): readonly object[] {
  switch (table) {
    case 'agent_checkins':
      return batch.checkins
    case 'agent_stats':
      return batch.agentStats
    case 'series':
      return batch.series
    case 'stacks':
      return batch.stacks
    case 'samples':
      return batch.samples
    case 'profiles':
      return batch.profiles
  }
}

/**
 * Whether ClickHouse refused the rows themselves (it answered, with an error about the data),
 * as opposed to not answering: a network error or a timeout has no ClickHouse error code.
 */
function isDataError(error: unknown): boolean {
  return (error as Error)?.constructor?.name === 'ClickHouseError' && !isStoreUnavailable(error)
}

function storeUnavailable(error: unknown): KilnError {
  return error instanceof KilnError
    ? error
    : new KilnError('KILN_ERR_STORE_UNAVAILABLE', describe(error), { cause: error })
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
