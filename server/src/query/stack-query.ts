import type { ClickHouseClient } from '@clickhouse/client'
import { FrameCache, type Frames } from './frame-cache.js'
import { selectRows } from '../store/select-rows.js'
import { stackValuesSql, type QueryWindow } from './window-sql.js'

/** A stack with its frames (root first; shared with the frame cache: read only) and one value per window. */
export interface WindowStack {
  functions: string[]
  files: string[]
  lines: number[]
  values: number[]
}

export interface StackSet {
  /** The heaviest stacks, heaviest first. */
  stacks: WindowStack[]
  /** Per window: sum of every sample. */
  totals: number[]
  /** Per window: number of distinct stacks with a value. */
  stackCounts: number[]
  /** Per window: value of the stacks not returned (beyond the limit, or frames expired). */
  remainders: number[]
}

/** Stack hashes per frames query: a bound array of this size stays far below any query limit. */
const FRAMES_CHUNK = 10_000

/**
 * The `limit` heaviest stacks of one or two windows of a service, with their frames. Values are
 * aggregated in SQL, one statement for all windows: with two, stacks are joined by hash so every
 * returned stack has its exact value in both, and "heaviest" means the largest share of either
 * window. Frames come from the process' frame cache, or else a primary-key lookup on `stacks`.
 */
export async function queryStacks(
  client: ClickHouseClient,
  db: string,
  windows: readonly QueryWindow[],
  limit: number,
): Promise<StackSet> {
  const width = windows.length
  if (width !== 1 && width !== 2) throw new Error(`queryStacks takes 1 or 2 windows, not ${width}`)
  const parts = windows.map((w, i) => stackValuesSql(db, w, `w${i}_`))
  const params: Record<string, unknown> = { limit }
  for (const part of parts) Object.assign(params, part.params)

  const query =
    width === 1
      ? `SELECT toString(stack_hash) AS h, v AS v0, sum(v) OVER () AS t0, count() OVER () AS n0
        FROM (${parts[0]!.text})
        ORDER BY v DESC, stack_hash LIMIT {limit:UInt32}`
      : `SELECT h, v0, v1, t0, t1, n0, n1 FROM (
          SELECT toString(stack_hash) AS h, stack_hash, a.v AS v0, b.v AS v1,
            sum(a.v) OVER () AS t0, sum(b.v) OVER () AS t1,
            countIf(a.v != 0) OVER () AS n0, countIf(b.v != 0) OVER () AS n1
          FROM (${parts[0]!.text}) AS a
          FULL OUTER JOIN (${parts[1]!.text}) AS b USING (stack_hash)
        )
        ORDER BY greatest(if(t0 = 0, 0, v0 / t0), if(t1 = 0, 0, v1 / t1)) DESC, stack_hash
        LIMIT {limit:UInt32}`
  type Row = Record<string, string | number> & { h: string }
  const rows = await selectRows<Row>(client, query, params)

  const totals = Array.from({ length: width }, (_, i) => Number(rows[0]?.[`t${i}`] ?? 0))
  const stackCounts = Array.from({ length: width }, (_, i) => Number(rows[0]?.[`n${i}`] ?? 0))
  const frames = await queryFrames(
    client,
    db,
    windows[0]!,
    rows.map((r) => r.h),
  )

  const stacks: WindowStack[] = []
  const fetched = new Array<number>(width).fill(0)
  for (const row of rows) {
    const f = frames.get(row.h)
    if (!f) continue // a stack row lost to TTL: its value stays in the remainder
    const values = Array.from({ length: width }, (_, i) => Number(row[`v${i}`] ?? 0))
    values.forEach((v, i) => (fetched[i]! += v))
    stacks.push({ functions: f.functions, files: f.files, lines: f.lines, values })
  }
  // Gauge values are averages (floats): clamp the rounding noise of `total - fetched` to 0.
  const remainders = totals.map((t, i) => {
    const r = t - fetched[i]!
    return Math.abs(r) <= Math.abs(t) * 1e-12 ? 0 : r
  })
  return { stacks, totals, stackCounts, remainders }
}

/** One frame cache per store client: a test's app and another's do not share theirs. */
const frameCaches = new WeakMap<ClickHouseClient, FrameCache>()

/** Frames of the stacks, from the cache or else from `stacks` (then cached). */
async function queryFrames(
  client: ClickHouseClient,
  db: string,
  w: QueryWindow,
  hashes: string[],
): Promise<Map<string, Frames>> {
  let cache = frameCaches.get(client)
  if (!cache) frameCaches.set(client, (cache = new FrameCache()))
  const frames = new Map<string, Frames>()
  const missing: string[] = []
  for (const h of hashes) {
    const cached = cache.get(w.tenant, w.service, h)
    if (cached) frames.set(h, cached)
    else missing.push(h)
  }
  for (let i = 0; i < missing.length; i += FRAMES_CHUNK) {
    const rows = await selectRows<
      Omit<Frames, 'lines'> & { h: string; lines: (number | string)[] }
    >(
      client,
      `SELECT toString(stack_hash) AS h, any(functions) AS functions, any(files) AS files,
          any(lines) AS lines
        FROM ${db}.stacks
        WHERE tenant = {tenant:String} AND service = {service:String}
          AND stack_hash IN {hashes:Array(UInt64)}
        GROUP BY stack_hash`,
      {
        tenant: w.tenant,
        service: w.service,
        hashes: missing.slice(i, i + FRAMES_CHUNK).map((h) => BigInt(h)),
      },
    )
    for (const row of rows) {
      const lines = row.lines.map(Number)
      frames.set(row.h, cache.set(w.tenant, w.service, row.h, { ...row, lines }))
    }
  }
  return frames
}

/** The most stacks a function table reads: beyond, it says what it left out. */
export const FUNCTION_TABLE_MAX_STACKS = 1_000_000

/**
 * The stacks of {@link queryStacks} for a tree (the `limit` heaviest), and every stack of the
 * windows for their function tables, so self and total of each function are exact however many
 * stacks a window holds (up to {@link FUNCTION_TABLE_MAX_STACKS}; `all.remainders` say what is
 * left out beyond). One statement when the windows hold no more than `limit` stacks.
 */
export async function queryStacksAndAll(
  client: ClickHouseClient,
  db: string,
  windows: readonly QueryWindow[],
  limit: number,
): Promise<{ tree: StackSet; all: StackSet }> {
  const tree = await queryStacks(client, db, windows, limit)
  const distinct = Math.max(...tree.stackCounts)
  if (tree.stacks.length >= distinct || limit >= FUNCTION_TABLE_MAX_STACKS) {
    return { tree, all: tree }
  }
  const all = await queryStacks(client, db, windows, Math.min(distinct, FUNCTION_TABLE_MAX_STACKS))
  return { tree, all }
}
