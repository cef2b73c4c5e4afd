import { randomBytes } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { ROLLUP } from './schema.js'
import { selectRows } from './select-rows.js'

const HOUR = ROLLUP.bucketMs

export interface HourlyRollupOptions {
  database: string
  /** An hour is rolled up this long after it ended (`KILN_ROLLUP_LATENESS_MS`). */
  latenessMs: number
  /**
   * The longest an insert of samples may take, plus the clock skew between Kiln servers
   * (`KILN_ROLLUP_MARGIN_MS`): a mark of a late hour holds the hour raw this long.
   */
  marginMs: number
  /** Days of samples kept: hours older than that are not rolled up. */
  retentionDays: number
  /** Hours rolled up per `run()` (the rest at the next one). */
  maxHoursPerRun?: number
  /** After a run of an hour fails, the hour waits this long, doubled per failure up to an hour. */
  retryMs?: number
  /** How long what the store says of runs and marks is trusted before it is read again. */
  refreshMs?: number
  /**
   * Other Kiln servers write to this store (a ClickHouse server by URL): every `rolledHours()`
   * also reads the marks written since the last full read, so that a late sample another server
   * acknowledged is in this server's answers at once.
   */
  shared?: boolean
  /**
   * Waits for the uploads acknowledged before the call to be in the store (the ingest log's
   * barrier): their late hours are marked only as they go in, and a read must know of them.
   */
  settled?: () => Promise<void>
  /** Unix ms now; tests move it. */
  now?: () => number
}

/** Whole hours the rollup answers for: hour start (Unix ms) → the run to read. */
export type RolledHours = ReadonlyMap<number, string>

/** An hour whose run must have started at or after `until` to hold all of its samples. */
export interface DirtyMark {
  /** Hour start, Unix ms. */
  hour: number
  /** Unix ms. */
  until: number
}

interface Run {
  run: string
  /** Unix ms the run started reading `samples`. */
  started: number
}

/**
 * The hourly rollup, made on a schedule: each hour of `samples` is summed into `samples_hourly`
 * once, `latenessMs` after it ended, by one `INSERT … SELECT` (a run). Reads of a window take its
 * whole hours that have a current run from the rollup and the rest raw (`splitWindow`).
 *
 * Samples that arrive late, into an hour that may be rolled up already or while the insert runs,
 * are caught by marks: before inserting samples of an hour that ended at least `latenessMs -
 * marginMs` ago, the batch writer records the hour as dirty until `marginMs` from now
 * (`marksFor`, `mark`). A run that started before a mark's `until` may miss those samples: the
 * hour is read raw until a run that started after it, which the next `run()` makes once `until`
 * is past. An insert of samples that started before an hour needed a mark ended before its run
 * could start (within `marginMs`), so the run reads it.
 *
 * Several Kiln servers on one store each run the schedule; two runs of one hour are both right,
 * and reads take the later. What this server knows of others' runs is at most `refreshMs`
 * old; of their marks, on a `shared` store, as old as the query.
 */
export class HourlyRollup {
  readonly #client: ClickHouseClient
  readonly #o: Required<HourlyRollupOptions>
  /** The latest finished run of each hour. */
  readonly #runs = new Map<number, Run>()
  /** The latest `until` of each hour's marks. */
  readonly #dirty = new Map<number, number>()
  #loadedAt = -Infinity
  #loading: Promise<void> | undefined
  /** `samples` was scanned for hours to roll up up to here (Unix ms, exclusive). */
  #scannedTo = 0
  /** Hours found with samples by that scan and not rolled up yet. */
  readonly #found = new Set<number>()
  #running: Promise<number> | undefined
  /** Hours whose last run failed: failures in a row, and when to try again (Unix ms). */
  readonly #failed = new Map<number, { count: number; retryAt: number }>()

  constructor(client: ClickHouseClient, options: HourlyRollupOptions) {
    this.#client = client
    this.#o = {
      maxHoursPerRun: 24,
      refreshMs: 30_000,
      retryMs: 60_000,
      shared: false,
      settled: async () => undefined,
      now: Date.now,
      ...options,
    }
  }

  get #db(): string {
    return this.#o.database
  }

  /** The hours whose latest run holds every sample, as far as this server knows. */
  async rolledHours(): Promise<RolledHours> {
    await this.#o.settled()
    if (this.#o.now() - this.#loadedAt >= this.#o.refreshMs) {
      try {
        await this.#load()
      } catch {
        // The store is away: read raw what is not known; the query itself will say why.
        if (this.#loadedAt === -Infinity) return new Map()
      }
    } else if (this.#o.shared) {
      try {
        await this.#readFreshMarks()
      } catch {
        // As above: what is known stands, the query will say why the store is away.
      }
    }
    const rolled = new Map<number, string>()
    for (const [hour, run] of this.#runs) {
      if (run.started >= (this.#dirty.get(hour) ?? -Infinity)) rolled.set(hour, run.run)
    }
    return rolled
  }

  /**
   * Hours of a batch's samples that need a mark before they are inserted at `now`. A mark holds
   * for twice the margin, and an hour whose mark (this server's, or one read from the store)
   * still holds for a whole margin gets none: late samples of one hour, however many, write a
   * mark row about once per margin.
   */
  marksFor(hours: Iterable<number>, now = this.#o.now()): DirtyMark[] {
    const until = now + 2 * this.#o.marginMs
    const marks: DirtyMark[] = []
    for (const hour of hours) {
      // A run of this hour could start before the insert ends.
      if (hour + HOUR + this.#o.latenessMs > now + this.#o.marginMs) continue
      if ((this.#dirty.get(hour) ?? -Infinity) >= now + this.#o.marginMs) continue
      marks.push({ hour, until })
    }
    return marks
  }

  /** Record marks in the store (before the samples they are for go in). */
  async mark(marks: readonly DirtyMark[]): Promise<void> {
    if (marks.length === 0) return
    await this.#client.insert({
      table: `${this.#db}.${ROLLUP.dirtyTable}`,
      values: marks.map((m) => ({ bucket: m.hour / 1000, until: m.until })),
      format: 'JSONEachRow',
    })
    for (const m of marks) this.#dirty.set(m.hour, Math.max(m.until, this.#dirty.get(m.hour) ?? 0))
  }

  /**
   * Roll up the hours that are due (ended `latenessMs` ago, within retention, with samples and no
   * current run, no mark still holding, and not waiting after a failure), at most
   * `maxHoursPerRun`: hours never rolled up first, oldest first, then hours rolled up again for
   * late samples, so that late data (a backlog, or a client sending old times on purpose) cannot
   * hold up the fresh hours. Resolves to the number of hours rolled up; rejects with the first
   * failure once the other hours have had their turn (a failed hour is tried again after
   * `retryMs`, doubled per failure up to an hour). One at a time: a call during a run waits for
   * it.
   *
   * Never-rolled hours oldest first, so that every hour before the latest run was rolled up or
   * had no samples when scanned: a server that starts scans `samples` from there on (after a
   * first start, from the oldest hour kept). Samples that reach an hour after its scan carry a
   * mark. An hour that failed and was overtaken is read raw after a restart (answers stay exact).
   */
  run(): Promise<number> {
    this.#running ??= this.#o
      .settled()
      .then(() => this.#runDue())
      .finally(() => (this.#running = undefined))
    return this.#running
  }

  /** Resolves once no run is under way. */
  async idle(): Promise<void> {
    await this.#running?.catch(() => undefined)
  }

  async #runDue(): Promise<number> {
    await this.#load()
    const now = this.#o.now()
    const cutoff = Math.floor((now - this.#o.latenessMs) / HOUR) * HOUR
    const oldest = Math.floor((now - this.#o.retentionDays * 86_400_000) / HOUR) * HOUR + HOUR
    const latestRun = Math.max(-Infinity, ...this.#runs.keys())
    const since = Math.max(oldest, this.#scannedTo, latestRun + HOUR)
    if (since < cutoff) {
      const rows = await selectRows<{ h: string }>(
        this.#client,
        `SELECT toUnixTimestamp(toStartOfHour(time)) * 1000 AS h FROM ${this.#db}.samples
          WHERE time >= fromUnixTimestamp64Milli({since:Int64})
            AND time < fromUnixTimestamp64Milli({cutoff:Int64})
          GROUP BY h`,
        { since, cutoff },
      )
      for (const row of rows) this.#found.add(Number(row.h))
      this.#scannedTo = cutoff
    }
    const due = [...new Set([...this.#found, ...this.#dirty.keys()])]
      .filter(
        (hour) =>
          hour >= oldest &&
          hour < cutoff &&
          this.#needsRun(hour, now) &&
          (this.#failed.get(hour)?.retryAt ?? -Infinity) <= now,
      )
      .sort((a, b) => Number(this.#runs.has(a)) - Number(this.#runs.has(b)) || a - b)
      .slice(0, this.#o.maxHoursPerRun)
    let rolled = 0
    let firstError: unknown
    for (const hour of due) {
      try {
        await this.#roll(hour)
        this.#found.delete(hour)
        this.#failed.delete(hour)
        rolled++
      } catch (error) {
        // This hour waits; the others go on. Its rows, if the store wrote them before the
        // error, are under a run that was not recorded: never read, dropped with retention.
        const count = (this.#failed.get(hour)?.count ?? 0) + 1
        const wait = Math.min(this.#o.retryMs * 2 ** (count - 1), HOUR)
        this.#failed.set(hour, { count, retryAt: this.#o.now() + wait })
        firstError ??= error
      }
    }
    for (const hour of this.#found) if (hour < oldest) this.#found.delete(hour)
    for (const hour of this.#failed.keys()) if (hour < oldest) this.#failed.delete(hour)
    if (firstError !== undefined) throw firstError
    return rolled
  }

  #needsRun(hour: number, now: number): boolean {
    const until = this.#dirty.get(hour)
    if (until !== undefined && now < until) return false
    const run = this.#runs.get(hour)
    return run === undefined || run.started < (until ?? -Infinity)
  }

  /** Sum the hour's samples into the rollup under a new run, then record the run. */
  async #roll(hour: number): Promise<void> {
    const started = this.#o.now()
    // 63 random bits: two servers rolling one hour at once never share a run id.
    const run = ((randomBytes(8).readBigUInt64BE(0) >> 1n) | 1n).toString()
    const db = this.#db
    // Each sample twice (ARRAY JOIN): once in its stack's row, once in its series' snapshot row.
    await this.#client.command({
      query: `INSERT INTO ${db}.${ROLLUP.table}
          (tenant, service, type, bucket, run, series_id, stack_hash, value, snapshots)
        SELECT tenant, service, type, bucket, {run:UInt64}, series_id, hash,
          sum(v), uniqExactStateIf(time, snapshot)
        FROM (
          SELECT tenant, service, type, toStartOfHour(time) AS bucket, series_id, time, snapshot,
            if(snapshot, 0, stack_hash) AS hash, if(snapshot, 0, value) AS v
          FROM ${db}.samples ARRAY JOIN [false, true] AS snapshot
          WHERE time >= fromUnixTimestamp64Milli({from:Int64})
            AND time < fromUnixTimestamp64Milli({to:Int64})
        )
        GROUP BY tenant, service, type, bucket, series_id, hash`,
      query_params: { run, from: hour, to: hour + HOUR },
    })
    await this.#client.insert({
      table: `${db}.${ROLLUP.runsTable}`,
      values: [{ bucket: hour / 1000, run, started }],
      format: 'JSONEachRow',
    })
    this.#noteRun(hour, { run, started })
  }

  #noteRun(hour: number, run: Run): void {
    const known = this.#runs.get(hour)
    if (!known || run.started > known.started) this.#runs.set(hour, run)
  }

  #load(): Promise<void> {
    this.#loading ??= this.#read().finally(() => (this.#loading = undefined))
    return this.#loading
  }

  /**
   * Marks written since the last full read, by any server: a mark holds until at least
   * `2 * marginMs` after it was written, so those of the last read's moment on have an `until`
   * past it (less the margin, for clock skew between servers). A small read: marks are about one
   * per late hour and margin.
   */
  async #readFreshMarks(): Promise<void> {
    const since = this.#loadedAt - this.#o.marginMs
    const dirty = await selectRows<{ hour: string; until_ms: string }>(
      this.#client,
      `SELECT toUnixTimestamp(bucket) * 1000 AS hour, toUnixTimestamp64Milli(max(until)) AS until_ms
        FROM ${this.#db}.${ROLLUP.dirtyTable}
        WHERE until > fromUnixTimestamp64Milli({since:Int64})
        GROUP BY bucket`,
      { since },
    )
    this.#noteMarks(dirty)
  }

  #noteMarks(dirty: readonly { hour: string; until_ms: string }[]): void {
    for (const d of dirty) {
      const hour = Number(d.hour)
      this.#dirty.set(hour, Math.max(Number(d.until_ms), this.#dirty.get(hour) ?? 0))
    }
  }

  async #read(): Promise<void> {
    const at = this.#o.now()
    const db = this.#db
    const [runs, dirty] = await Promise.all([
      selectRows<{ hour: string; last_run: string; started_ms: string }>(
        this.#client,
        `SELECT toUnixTimestamp(bucket) * 1000 AS hour,
            argMax(run, started) AS last_run, toUnixTimestamp64Milli(max(started)) AS started_ms
          FROM ${db}.${ROLLUP.runsTable} GROUP BY bucket`,
        {},
      ),
      selectRows<{ hour: string; until_ms: string }>(
        this.#client,
        `SELECT toUnixTimestamp(bucket) * 1000 AS hour, toUnixTimestamp64Milli(max(until)) AS until_ms
          FROM ${db}.${ROLLUP.dirtyTable} GROUP BY bucket`,
        {},
      ),
    ])
    for (const r of runs) {
      this.#noteRun(Number(r.hour), { run: r.last_run, started: Number(r.started_ms) })
    }
    this.#noteMarks(dirty)
    this.#loadedAt = at
  }
}

/** The hour (start, Unix ms) of each distinct time among `times` (Unix ms). */
export function hoursOf(times: Iterable<number>): Set<number> {
  const hours = new Set<number>()
  let last = NaN
  for (const t of times) {
    if (t === last) continue
    last = t
    hours.add(Math.floor(t / HOUR) * HOUR)
  }
  return hours
}
