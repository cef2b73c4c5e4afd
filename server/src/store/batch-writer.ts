import type { ClickHouseClient } from '@clickhouse/client'
import { KilnError } from '../errors.js'
import { KnownKeys, ScopedKnownKeys } from './known-keys.js'
import { isStoreStateError } from './store-errors.js'
import { batchSize, emptyBatch, type RowBatch, type SampleRow } from './rows.js'
import { SAMPLE_COLUMNS, samplesTsv } from './tsv.js'
import { RowEncodingError, samplesFromNative, samplesNative } from './native.js'
import type { RowFormat, RowInserter } from './clickhouse-bindings.js'
import { storedUploads, type UploadRef } from './stored-profiles.js'
import { hoursOf, type HourlyRollup } from './hourly-rollup.js'

export interface BatchWriterOptions {
  database: string
  /** How rows reach the store (`createRowInserter`). */
  insert: RowInserter
  /**
   * The format of sample rows: `Native` (the embedded store: read with next to no parsing) or
   * `TabSeparated` (a ClickHouse server by URL, whatever its version).
   */
  sampleFormat?: 'Native' | 'TabSeparated'
  /** How long the first request of a batch waits for others to join it. */
  waitMs: number
  /** A batch this large is flushed at once. */
  maxRows: number
  /** Flushes that may run at once (1: one after the other). */
  concurrentFlushes?: number
  /** Called after each insert attempt, for metrics. */
  onInsert?: (table: string, rows: number, seconds: number, ok: boolean) => void
  /** The scheduled rollup, told of samples that reach hours it may have rolled up already. */
  rollup?: Pick<HourlyRollup, 'marksFor' | 'mark'> | undefined
}

/**
 * What became of a write: stored; found stored already (a re-send of an upload whose answer was
 * lost: nothing written); or half stored before (samples without their `profiles` rows: only
 * the missing rows written).
 */
export type WriteOutcome = 'stored' | 'duplicate' | 'resumed'

/**
 * A request's sample rows as their Native block only (`samplesNative`): the ingest log holds
 * uploads this way, so that their rows are not kept as objects while they wait.
 */
export interface EncodedSamples {
  block: Buffer
  rows: number
  /** The hours of the rows' times (`hoursOf`). */
  hours: Set<number>
}

interface Pending {
  /** With `native`, its `samples` are empty: the block holds them. */
  batch: RowBatch
  native: EncodedSamples | undefined
  /** The hours of the request's samples (before any were found stored). */
  hours: Set<number>
  upload: UploadRef | undefined
  outcome: WriteOutcome
  resolve: (outcome: WriteOutcome) => void
  reject: (error: unknown) => void
}

const KNOWN_TTL_MS = 60 * 60 * 1000

/**
 * Merges the rows of concurrent ingest requests into large inserts. `write()` resolves only once
 * the rows of that request are stored, so a request is never acknowledged before it is durable.
 * Rows of a failed flush are rejected, never silently dropped.
 *
 * A flush first asks the store, in one query, which of its uploads are stored already (exactly
 * once: `storedUploads`), then inserts in steps: agent check-ins or agent stats; series and
 * stacks side by side; samples; trace samples; profiles, so that a `profiles` row means its
 * samples are in. Agent stats go before the profiles because a snapshot stored without its profile is
 * harmless (the client's retry sends a newer one), while one failing after the profiles would
 * make that retry store the profiles twice. Check-ins (`POST /api/v1/schedule`) have a writer of
 * their own (`Store.checkins`), so an agent's plan never waits behind ingest.
 *
 * Flushes may overlap (`concurrentFlushes`): one upload is never in two flushes at once (the
 * ingest route holds a re-send until the first attempt is answered), so each flush's lookup sees
 * what earlier attempts of its uploads stored.
 */
export class BatchWriter {
  readonly #client: ClickHouseClient
  readonly #options: BatchWriterOptions
  /** Stacks stored, by `scopeOf(tenant, service)`. */
  readonly #knownStacks = new ScopedKnownKeys(1_000_000, KNOWN_TTL_MS)
  readonly #knownSeries = new KnownKeys(200_000, KNOWN_TTL_MS)
  /** Uploads this writer stored (`upload` hashes). */
  readonly #recentUploads = new KnownKeys(200_000, KNOWN_TTL_MS)
  #pending: Pending[] = []
  #pendingRows = 0
  #timer: NodeJS.Timeout | undefined
  /** A flush is due (its wait is over) but as many as allowed run already. */
  #due = false
  readonly #running = new Set<Promise<void>>()
  #closed = false

  constructor(client: ClickHouseClient, options: BatchWriterOptions) {
    this.#client = client
    this.#options = options
  }

  get pendingRows(): number {
    return this.#pendingRows
  }

  /** Whether the store has a stack of the service (written by this writer within the hour). */
  knownStacks(tenant: string, service: string): (stackHash: string) => boolean {
    return this.#knownStacks.reader(scopeOf(tenant, service))
  }

  /**
   * Store `batch`. With `upload`, the rows are an upload's: what of it the store has already is
   * not written again (see {@link WriteOutcome}; its agent stats are then dropped too).
   */
  write(batch: RowBatch, upload?: UploadRef, native?: EncodedSamples): Promise<WriteOutcome> {
    if (this.#closed) {
      return Promise.reject(new KilnError('KILN_ERR_STORE_UNAVAILABLE', 'server is shutting down'))
    }
    return new Promise<WriteOutcome>((resolve, reject) => {
      const hours = native?.hours ?? hoursOf(batch.samples.map((s) => s.time))
      this.#pending.push({ batch, native, hours, upload, outcome: 'stored', resolve, reject })
      this.#pendingRows += batchSize(batch) + (native?.rows ?? 0)
      if (this.#pendingRows >= this.#options.maxRows) this.#schedule(0)
      else this.#schedule(this.#options.waitMs)
    })
  }

  /** Flush what is pending now rather than after the batch wait (the ingest log's inserts). */
  flushSoon(): void {
    if (this.#pending.length > 0) this.#schedule(0)
  }

  /** Flush what is pending and refuse new writes. */
  async close(): Promise<void> {
    this.#closed = true
    this.#schedule(0)
    while (this.#running.size > 0 || this.#pending.length > 0 || this.#timer !== undefined) {
      await Promise.race([...this.#running, new Promise((r) => setTimeout(r, 5))])
    }
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== undefined) {
      if (delayMs > 0) return
      clearTimeout(this.#timer)
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#due = true
      this.#startFlushes()
    }, delayMs)
  }

  /** Start flushes while one is due and fewer than allowed run. */
  #startFlushes(): void {
    const max = Math.max(1, this.#options.concurrentFlushes ?? 1)
    while (this.#due && this.#running.size < max) {
      this.#due = false
      const pending = this.#pending
      this.#pending = []
      this.#pendingRows = 0
      if (pending.length === 0) return
      const flush: Promise<void> = this.#flush(pending).finally(() => {
        this.#running.delete(flush)
        // What arrived meanwhile waited for a free flush: it is due when full or when its wait
        // would have ended; simplest and no slower: flush it now.
        if (this.#pending.length > 0) this.#due = true
        this.#startFlushes()
      })
      this.#running.add(flush)
    }
  }

  async #flush(all: Pending[]): Promise<void> {
    let pending: Pending[]
    try {
      pending = await this.#withoutStored(all)
    } catch (error) {
      const wrapped = storeUnavailable(error)
      for (const p of all) p.reject(wrapped)
      return
    }
    for (const p of all) if (p.outcome === 'duplicate') p.resolve('duplicate')
    if (pending.length === 0) return
    const merged = this.#merge(pending)
    const hours = new Set(pending.flatMap((p) => [...p.hours]))
    const failed = await this.#insert(merged, hours)
    if (failed === undefined) {
      this.#remember(merged)
      for (const p of pending) {
        if (p.upload) this.#recentUploads.add(p.upload.upload)
        p.resolve(p.outcome)
      }
      return
    }
    if (pending.length === 1 && isDataError(failed.error)) {
      // One request's own rows refused: its 422 (the ingest log drops such an upload, said
      // loudly, rather than retrying it for ever). The tables before the failed one hold its
      // rows, as below; a retry finds its samples by their `upload`.
      this.#remember(merged, failed.table)
      pending[0]!.reject(
        new KilnError('KILN_ERR_PROFILE_REJECTED', describe(failed.error), { cause: failed.error }),
      )
      return
    }
    if (!isDataError(failed.error)) {
      // The store is away, or cannot take inserts now: a 503, and the client's retry is the
      // right answer. Tables before the failed one hold rows of this batch: series and
      // stacks (stored once per key however often), agent stats, and, when `profiles` failed,
      // samples, which the retry finds by their `upload` and does not write again
      // (`storedUploads`).
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
      const own = this.#merge([p])
      const error = (await this.#insert(own, p.hours, failed.table))?.error
      if (error === undefined) {
        this.#remember(own)
        if (p.upload) this.#recentUploads.add(p.upload.upload)
      }
      outcomes.push({ p, error })
    }
    const allFailed = outcomes.every((o) => o.error !== undefined)
    for (const { p, error } of outcomes) {
      if (error === undefined) p.resolve(p.outcome)
      else if (allFailed || !isDataError(error)) p.reject(storeUnavailable(error))
      else {
        p.reject(new KilnError('KILN_ERR_PROFILE_REJECTED', describe(error), { cause: error }))
      }
    }
  }

  /**
   * Look up, in one query, what of the batch's uploads the store has; mark each `duplicate`
   * (nothing to write) or `resumed` (its stored rows taken out of its batch). The rest.
   */
  async #withoutStored(all: Pending[]): Promise<Pending[]> {
    // A first attempt is not looked up, unless this writer stored its upload already (a proxy
    // that replayed the request to this server).
    const refs = all.flatMap((p) =>
      p.upload && !(p.upload.firstAttempt && !this.#recentUploads.has(p.upload.upload))
        ? [p.upload]
        : [],
    )
    const stored = await storedUploads(this.#client, this.#options.database, refs)
    if (stored.size === 0) return all
    const rest: Pending[] = []
    for (const p of all) {
      const parts = p.upload && stored.get(p.upload.upload)
      if (!parts) rest.push(p)
      else if (parts.profiles.size === p.upload!.profileIds.length) p.outcome = 'duplicate'
      else {
        p.outcome = 'resumed'
        const { batch } = p
        // Its samples are fewer now: taken as rows, and encoded again from those left.
        if (p.native) batch.samples = samplesFromNative(p.native.block)
        p.native = undefined
        batch.samples = batch.samples.filter(
          (s) => !parts.samples.has(s.type) && !parts.profiles.has(s.type),
        )
        batch.traceSamples = batch.traceSamples.filter(
          (s) => !parts.traceSamples.has(s.type) && !parts.profiles.has(s.type),
        )
        batch.profiles = batch.profiles.filter((r) => !parts.profiles.has(r.type))
        // Stored with the first attempt, whatever became of it.
        batch.agentStats = []
        rest.push(p)
      }
    }
    return rest
  }

  /** Keys now stored, so later batches skip their series and stacks rows. */
  #remember(batch: RowBatch, beforeTable: number = TABLES.length): void {
    const stored = TABLES.slice(0, beforeTable)
    if (stored.includes('stacks')) {
      for (const row of batch.stacks)
        this.#knownStacks.add(scopeOf(row.tenant, row.service), row.stack_hash)
    }
    if (stored.includes('series')) {
      for (const row of batch.series) this.#knownSeries.add(seriesKey(row))
    }
  }

  #merge(pending: readonly Pick<Pending, 'batch' | 'native'>[]): Merged {
    const out: Merged = emptyBatch()
    const seenStacks = new Set<string>()
    const seenSeries = new Set<string>()
    // Blocks of a Native stream follow one another: the requests' own blocks, when all have one
    // (else every request's samples as rows).
    if (pending.every((p) => p.native !== undefined || p.batch.samples.length === 0)) {
      const blocks = pending.flatMap((p) => (p.native && p.native.rows > 0 ? [p.native] : []))
      out.native = blocks.map((n) => n.block)
      out.nativeRows = blocks.reduce((n, b) => n + b.rows, 0)
    } else {
      for (const p of pending) if (p.native) out.samples.push(...samplesFromNative(p.native.block))
    }
    for (const { batch: b } of pending) {
      for (const row of b.series) {
        const key = seriesKey(row)
        if (seenSeries.has(key) || this.#knownSeries.has(key)) continue
        seenSeries.add(key)
        out.series.push(row)
      }
      for (const row of b.stacks) {
        const key = stackKey(row)
        if (
          seenStacks.has(key) ||
          this.#knownStacks.has(scopeOf(row.tenant, row.service), row.stack_hash)
        )
          continue
        seenStacks.add(key)
        out.stacks.push(row)
      }
      for (const row of b.samples) out.samples.push(row)
      for (const row of b.traceSamples) out.traceSamples.push(row)
      for (const row of b.profiles) out.profiles.push(row)
      for (const row of b.agentStats) out.agentStats.push(row)
      for (const row of b.checkins) out.checkins.push(row)
    }
    return out
  }

  /**
   * Insert the batch's tables step by step (the tables of a step side by side), from the step
   * of `fromTable` on; the first step that fails stops it and says where to resume (the index
   * in {@link TABLES} of its first table) and why. `hours`: those of the batch's samples, which
   * the rollup marks as late before (and, after a slow insert, after) the samples go in.
   */
  async #insert(
    batch: Merged,
    hours: ReadonlySet<number>,
    fromTable = 0,
  ): Promise<{ table: number; error: unknown } | undefined> {
    const markLate = async (): Promise<unknown> => {
      const rollup = this.#options.rollup
      // The hours, not the batch's samples: a retry resumed past the samples has none left.
      if (!rollup || hours.size === 0) return undefined
      // `marksFor` leaves out hours whose mark (this insert's first one included) still holds
      // for a whole margin.
      try {
        await rollup.mark(rollup.marksFor(hours))
        return undefined
      } catch (error) {
        return error ?? new Error('rollup mark failed')
      }
    }
    for (const step of STEPS) {
      const first = TABLES.indexOf(step[0]!)
      if (first + step.length <= fromTable) continue
      if (step[0] === 'samples') {
        const error = await markLate()
        if (error !== undefined) return { table: first, error }
      }
      const errors = await Promise.all(
        step.map(async (table) => {
          if (TABLES.indexOf(table) < fromTable) return undefined
          return this.#insertTable(batch, table)
        }),
      )
      const error = errors.find((e) => e !== undefined)
      if (error !== undefined) return { table: Math.max(first, fromTable), error: error.error }
      if (step[0] === 'samples') {
        // The insert took so long that a run of an hour it was not marked for could have started
        // meanwhile: mark that hour too (a retry, resumed past the samples, marks it again).
        const late = await markLate()
        if (late !== undefined) return { table: first + 1, error: late }
      }
    }
    return undefined
  }

  /** One table's rows; `{ error }` when the store refused or did not answer. */
  async #insertTable(
    batch: Merged,
    table: (typeof TABLES)[number],
  ): Promise<{ error: unknown } | undefined> {
    const values = rowsOf(batch, table)
    const native = table === 'samples' ? batch.native : undefined
    const count = native ? batch.nativeRows! : values.length
    if (count === 0) return undefined
    const started = process.hrtime.bigint()
    let ok = false
    try {
      const format = this.#options.sampleFormat ?? 'TabSeparated'
      const { columns, body, ...rest } =
        native !== undefined
          ? { format: 'Native' as const, columns: SAMPLE_COLUMNS, body: Buffer.concat(native) }
          : rowsText(table, values, format)
      await this.#options.insert(`${this.#options.database}.${table}`, columns, rest.format, body)
      ok = true
      return undefined
    } catch (error) {
      return { error }
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      this.#options.onInsert?.(table, count, seconds, ok)
    }
  }
}

/** Rows of several requests merged; `native`: their samples' Native blocks, when all had one. */
type Merged = RowBatch & { native?: Buffer[]; nativeRows?: number }

/** The insert order (see the class comment). */
const TABLES = [
  'agent_checkins',
  'agent_stats',
  'series',
  'stacks',
  'samples',
  'trace_samples',
  'profiles',
] as const
/** The tables of each step, in {@link TABLES}' order. */
const STEPS: readonly (readonly (typeof TABLES)[number][])[] = [
  // Check-ins and agent stats never share a batch (check-ins have a writer of their own), and a
  // step that fails is inserted again whole: agent stats, a plain MergeTree, go in a step without
  // another table that could fail beside them and have them written twice.
  ['agent_checkins', 'agent_stats'],
  ['series', 'stacks'],
  ['samples'],
  // After the samples: a resumed upload whose samples are in finds its trace samples by their
  // `upload` too (`storedUploads`), and neither is written twice.
  ['trace_samples'],
  ['profiles'],
]

/**
 * One table's rows, encoded. Samples, the bulk of every batch, go as `Native` to the embedded
 * store (`samplesNative`: chDB reads it for a fraction of what text costs it) and as TSV to a
 * ClickHouse server (`samplesTsv`: parsed faster than JSON rows, and cheap to write). The other
 * tables have maps and arrays, and few rows: JSON.
 */
function rowsText(
  name: (typeof TABLES)[number],
  values: readonly object[],
  sampleFormat: 'Native' | 'TabSeparated',
): { format: RowFormat; columns: readonly string[]; body: string | Buffer } {
  if (name === 'samples') {
    const rows = values as readonly SampleRow[]
    return {
      format: sampleFormat,
      columns: SAMPLE_COLUMNS,
      body: sampleFormat === 'Native' ? samplesNative(rows) : samplesTsv(rows),
    }
  }
  const body = Buffer.from(values.map((row) => JSON.stringify(row)).join('\n'))
  return { format: 'JSONEachRow', columns: Object.keys(values[0]!), body }
}

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
    case 'trace_samples':
      return batch.traceSamples
    case 'profiles':
      return batch.profiles
  }
}

/**
 * Whether the rows themselves were refused: by ClickHouse (it answered, with an error about the
 * data) or by their encoding for it (`RowEncodingError`), as opposed to the store not answering
 * or not able to take inserts now (`isStoreStateError`: a network error, a missing table,
 * memory, disk, a timeout).
 */
function isDataError(error: unknown): boolean {
  if (error instanceof RowEncodingError) return true
  return (error as Error)?.constructor?.name === 'ClickHouseError' && !isStoreStateError(error)
}

function storeUnavailable(error: unknown): KilnError {
  return error instanceof KilnError
    ? error
    : new KilnError('KILN_ERR_STORE_UNAVAILABLE', describe(error), { cause: error })
}

/** The key of a tenant's service, which stacks are known by. */
export function scopeOf(tenant: string, service: string): string {
  return `${tenant}\u0000${service}`
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
