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
}

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
  const { step: askedStep, ...window } = options
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
    const rollupFrom = step % ROLLUP.bucketMs === 0 ? window.rollupFrom : undefined
    const { raw, rolled } = windowSources(db, { ...window, rollupFrom }, 'w_')
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
      const counts = instanceSnapshotsSql(db, { ...window, rollupFrom }, 'w_i_', {
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
  return {
    ...windowHeader(window),
    step,
    timestamps,
    values,
    coverage,
  }
}
