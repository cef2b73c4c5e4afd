import type { ClickHouseClient } from '@clickhouse/client'
import { ROLLUP } from '../store/schema.js'
import { selectRows } from '../store/select-rows.js'

/** `[from, to)` in Unix ms. */
export interface TimeRange {
  from: number
  to: number
}

/** Where a window's samples are read: whole hours from the rollup, the rest from `samples`. */
export interface WindowSplit {
  /** Up to two ragged edges, read from `samples`; empty when the window is whole hours. */
  raw: TimeRange[]
  /** The whole hours of the window that the rollup covers, if any. */
  rolled: TimeRange | undefined
}

const HOUR = ROLLUP.bucketMs

/**
 * Cut `[from, to)` into the whole hours the rollup covers (those at or after `rollupFrom`) and
 * the edges around them. Without `rollupFrom`, or when no whole covered hour fits, the window is
 * read raw, as one range.
 */
export function splitWindow(window: TimeRange, rollupFrom: number | undefined): WindowSplit {
  const { from, to } = window
  if (rollupFrom === undefined) return { raw: [{ from, to }], rolled: undefined }
  const first = Math.ceil(Math.max(from, rollupFrom) / HOUR) * HOUR
  const last = Math.floor(to / HOUR) * HOUR
  if (first >= last) return { raw: [{ from, to }], rolled: undefined }
  const raw = [
    { from, to: first },
    { from: last, to },
  ].filter((r) => r.from < r.to)
  return { raw, rolled: { from: first, to: last } }
}

/** How long an unknown coverage (no record yet) is remembered before asking the store again. */
const RETRY_MS = 60_000

/**
 * From when the hourly rollup holds every sample, as migration 3 recorded it (see `ROLLUP` in
 * store/schema.ts): Unix ms, or undefined when there is no record (then everything is read raw).
 * A record never moves once written, so the first one found is kept; several records (servers
 * that ran the migration at once) each hold, and the latest one is the safe one.
 */
export class RollupCoverage {
  readonly #client: ClickHouseClient
  readonly #db: string
  #from: number | undefined
  #checkedAt = -Infinity
  #pending: Promise<number | undefined> | undefined

  constructor(client: ClickHouseClient, db: string) {
    this.#client = client
    this.#db = db
  }

  async from(): Promise<number | undefined> {
    if (this.#from !== undefined || performance.now() - this.#checkedAt < RETRY_MS) {
      return this.#from
    }
    this.#pending ??= this.#load().finally(() => (this.#pending = undefined))
    return this.#pending
  }

  async #load(): Promise<number | undefined> {
    try {
      const [row] = await selectRows<{ n: string; from: string }>(
        this.#client,
        `SELECT count() AS n, toUnixTimestamp(max(complete_from)) * 1000 AS from
          FROM ${this.#db}.${ROLLUP.coverageTable} WHERE name = {name:String}`,
        { name: ROLLUP.table },
      )
      if (row && Number(row.n) > 0) this.#from = Number(row.from)
    } catch {
      // No coverage table (the store is not migrated yet): read raw, ask again later.
    }
    this.#checkedAt = performance.now()
    return this.#from
  }
}
