import type { ClickHouseClient } from '@clickhouse/client'
import { PROFILE_TYPES, type TimelineResponse } from '@kiln/wire'
import { KilnError } from '../errors.js'
import { selectRows } from '../store/select-rows.js'
import { windowHeader } from './window-header.js'
import { ROLLUP } from '../store/schema.js'
import { coverageByBucketSql } from './coverage.js'
import {
  combineParts,
  instanceSnapshotsSql,
  instancesSql,
  rollupTable,
  windowSources,
  type QueryWindow,
} from './window-sql.js'

export interface TimelineOptions extends QueryWindow {
  /** Bucket size in ms; chosen from the window when absent. */
  step?: number | undefined
  /** A label to split the totals by (one series per value, the largest first). */
  groupBy?: string | undefined
}

/** Series of a grouped timeline; the rest of the values are summed into one more, `''`. */
export const MAX_GROUPS = 8

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
/**
 * Bucket sizes a person reads easily. None is below 10 s: agents upload a profile every 10 s, so
 * finer buckets of a cumulative type would alternate between a profile and nothing.
 */
const STEPS = [
  10 * SECOND,
  15 * SECOND,
  30 * SECOND,
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  7 * DAY,
]
/** The most buckets a chosen step gives. */
export const TARGET_POINTS = 300
/** The most buckets an explicit step may ask for. */
export const MAX_POINTS = 10_000

/** The smallest readable step that cuts `[from, to)` into at most {@link TARGET_POINTS} buckets. */
export function chooseStep(from: number, to: number): number {
  const span = to - from
  return STEPS.find((s) => Math.ceil(span / s) <= TARGET_POINTS) ?? Math.ceil(span / TARGET_POINTS)
}

/**
 * Totals per bucket of a window. Buckets are aligned on multiples of `step` since the epoch.
 * Cumulative types sum; gauge types average each instance over its snapshots in the bucket, then
 * sum across instances (the rule of the flame graph, so a one-bucket window gives its total).
 * Without a selector, cumulative totals come from the `profiles` table (one row per upload, its
 * total precomputed at ingest) instead of `samples`: the same numbers, orders of magnitude fewer
 * rows. Otherwise, when the step is a whole number of hours, the whole hours of the window come
 * from the hourly rollup.
 */
export async function queryTimeline(
  client: ClickHouseClient,
  db: string,
  options: TimelineOptions,
): Promise<TimelineResponse> {
  const { step: askedStep, groupBy, ...window } = options
  const step = askedStep ?? chooseStep(window.from, window.to)
  const first = Math.floor(window.from / step) * step
  const last = Math.floor((window.to - 1) / step) * step
  const points = (last - first) / step + 1
  if (points > MAX_POINTS) {
    throw new KilnError(
      'KILN_ERR_QUERY_INVALID',
      `step ${step} ms cuts the window into ${points} buckets, more than ${MAX_POINTS}`,
    )
  }

  const info = PROFILE_TYPES[window.type]
  if (groupBy !== undefined && info.aggregation !== 'cumulative') {
    throw new KilnError(
      'KILN_ERR_QUERY_INVALID',
      `groupBy splits cumulative types (cpu, wall, alloc_*), not ${window.type}`,
    )
  }
  /** The bucket of a time given in Unix ms. */
  const bucketOf = (ms: string) => `intDiv(${ms}, {step:Int64}) * {step:Int64}`
  const bucket = (column: string) => bucketOf(`toUnixTimestamp64Milli(${column})`)
  let query: string
  let params: Record<string, unknown>
  if (info.aggregation === 'cumulative' && window.selector.length === 0) {
    query = `SELECT ${bucket('time_start')} AS t, sum(total) AS v FROM ${db}.profiles
      WHERE tenant = {tenant:String} AND service = {service:String} AND type = {type:String}
        AND time_start >= fromUnixTimestamp64Milli({from:Int64})
        AND time_start < fromUnixTimestamp64Milli({to:Int64})
      GROUP BY t ORDER BY t`
    const { tenant, service, type, from, to } = window
    params = { tenant, service, type, from, to, step }
  } else {
    // The rollup's hours fit in buckets only when the step is a whole number of hours (buckets
    // start at multiples of the step since the epoch, which is an hour boundary).
    const rolledHours = step % ROLLUP.bucketMs === 0 ? window.rolledHours : undefined
    const { raw, rolled } = windowSources(db, { ...window, rolledHours }, 'w_')
    const rollup = rollupTable(db)
    const hour = bucketOf('toInt64(toUnixTimestamp(bucket)) * 1000')
    let extra: Record<string, unknown> = {}
    if (info.aggregation === 'cumulative') {
      const totals = combineParts(
        [
          raw &&
            `SELECT ${bucket('time')} AS t, sum(value) AS v FROM ${db}.samples
            WHERE ${raw.text} GROUP BY t`,
          // The rollup's snapshot rows (value 0) mark the buckets that have samples, as raw rows do.
          rolled &&
            `SELECT ${hour} AS t, sum(value) AS v FROM ${rollup}
            WHERE ${rolled.text} GROUP BY t`,
        ],
        't',
        'sum(v) AS v',
      )
      query = `${totals} ORDER BY t`
    } else {
      // Per bucket and instance: the sum of its values over its number of distinct snapshots,
      // both of which add up over the raw edges and the hours (disjoint times).
      const values = combineParts(
        [
          raw &&
            `SELECT ${bucket('time')} AS t, series_id, sum(value) AS v
            FROM ${db}.samples WHERE ${raw.text} GROUP BY t, series_id`,
          rolled &&
            `SELECT ${hour} AS t, series_id, sum(value) AS v
            FROM ${rollup} WHERE ${rolled.text} GROUP BY t, series_id`,
        ],
        't, series_id',
        'sum(v) AS v',
      )
      const counts = instanceSnapshotsSql(db, { ...window, rolledHours }, 'w_i_', {
        raw: bucket('time'),
        rolled: hour,
      })
      query = `SELECT t, sum(x.v / y.n) AS v
        FROM (${values}) AS x
        INNER JOIN (${instancesSql(db, 'w_')}) AS m USING (series_id)
        INNER JOIN (${counts.text}) AS y USING (t, instance)
        GROUP BY t ORDER BY t`
      extra = counts.params
    }
    params = { ...raw?.params, ...rolled?.params, ...extra, step }
  }
  const groupsPromise =
    groupBy === undefined
      ? Promise.resolve(undefined)
      : timelineGroups(client, db, { ...window, groupBy, step, first, points })
  // Awaited below, after the totals: do not let a failure go unhandled meanwhile.
  groupsPromise.catch(() => undefined)
  const coverageSql =
    info.aggregation === 'cumulative' ? coverageByBucketSql(db, window, 'c_', bucketOf) : undefined
  const [rows, coverageRows] = await Promise.all([
    selectRows<{ t: string | number; v: string | number }>(client, query, params),
    coverageSql
      ? selectRows<{ t: string | number; c: string | number }>(client, coverageSql.text, {
          ...coverageSql.params,
          step,
        })
      : [],
  ])

  const timestamps = Array.from({ length: points }, (_, i) => first + i * step)
  const values: (number | null)[] = new Array<number | null>(points).fill(null)
  for (const row of rows) {
    const i = (Number(row.t) - first) / step
    if (i >= 0 && i < points) values[i] = Number(row.v)
  }
  const coverage: (number | null)[] = new Array<number | null>(points).fill(null)
  for (const row of coverageRows) {
    const i = (Number(row.t) - first) / step
    if (i >= 0 && i < points) coverage[i] = Number(row.c)
  }
  const groups = await groupsPromise
  return {
    ...windowHeader(window),
    step,
    timestamps,
    values,
    coverage,
    ...(groups ? { groupBy, groups } : {}),
  }
}

/**
 * The totals per bucket split by the value of one label (`''`: series without it), the
 * {@link MAX_GROUPS} largest values over the window each as a series and the rest summed into
 * one named `other`. Cumulative types only: a gauge's average per instance does not split by a
 * label of its samples without changing its meaning.
 */
async function timelineGroups(
  client: ClickHouseClient,
  db: string,
  o: QueryWindow & { groupBy: string; step: number; first: number; points: number },
): Promise<NonNullable<TimelineResponse['groups']>> {
  // Raw samples only: the rollup keeps series ids, but a long window split by a label reads
  // its raw rows (documented in the API reference).
  const { raw } = windowSources(db, { ...o, rolledHours: undefined }, 'g_')
  if (!raw) return []
  const rows = await selectRows<{ t: string | number; g: string; v: string | number }>(
    client,
    `SELECT intDiv(toUnixTimestamp64Milli(time), {step:Int64}) * {step:Int64} AS t, g, sum(value) AS v
      FROM ${db}.samples
      INNER JOIN (
        SELECT DISTINCT series_id, labels[{groupBy:String}] AS g FROM ${db}.series
        WHERE tenant = {g_tenant:String} AND service = {g_service:String} AND type = {g_type:String}
      ) AS s USING (series_id)
      WHERE ${raw.text}
      GROUP BY t, g`,
    { ...raw.params, groupBy: o.groupBy, step: o.step },
  )
  const totals = new Map<string, number>()
  for (const r of rows) totals.set(r.g, (totals.get(r.g) ?? 0) + Number(r.v))
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  const kept = new Set(ranked.slice(0, MAX_GROUPS).map(([g]) => g))
  const series = new Map<string, (number | null)[]>()
  const valuesOf = (g: string) => {
    let values = series.get(g)
    if (!values) series.set(g, (values = new Array<number | null>(o.points).fill(null)))
    return values
  }
  for (const r of rows) {
    const i = (Number(r.t) - o.first) / o.step
    if (i < 0 || i >= o.points) continue
    const values = valuesOf(kept.has(r.g) ? r.g : OTHER_GROUP)
    values[i] = (values[i] ?? 0) + Number(r.v)
  }
  const order = [...ranked.map(([g]) => g).filter((g) => kept.has(g)), OTHER_GROUP]
  return order
    .filter((g) => series.has(g))
    .map((g) =>
      g === OTHER_GROUP
        ? { value: '', other: true, values: series.get(g)! }
        : { value: g, other: false, values: series.get(g)! },
    )
}

/** The key of the values past the largest {@link MAX_GROUPS} (no label value holds a NUL). */
const OTHER_GROUP = '\u0000'
