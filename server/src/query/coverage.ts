import type { ClickHouseClient } from '@clickhouse/client'
import { PROFILE_TYPES } from '@kiln/wire'
import { selectRows } from '../store/select-rows.js'
import type { Sql, QueryWindow } from './window-sql.js'

/*
 * Coverage: how much instance time a window's profiles cover, in instance-milliseconds (the sum
 * of `time_end - time_start` of its `profiles` rows). Scheduled agents collect in some windows
 * only, so a cumulative type's sum over a window grows with the number of instance-windows
 * collected, not only with the load; dividing by coverage gives the load per collected
 * instance-millisecond, which compares like with like whatever the schedule, the window
 * lengths or the number of instances.
 *
 * A selector's matchers apply to the upload labels of each `profiles` row when the row has that
 * label; matchers on labels set per sample (which `profiles` rows do not carry) leave the
 * coverage of the instances as it is, since every instance-window collected could have held them.
 * Gauges (heap in use) are averaged per snapshot already: they have no coverage.
 */

/** The WHERE clause of a window's `profiles` rows, narrowed as described above. */
function coverageWhere(w: QueryWindow, p: string): Sql {
  const params: Record<string, unknown> = {
    [`${p}tenant`]: w.tenant,
    [`${p}service`]: w.service,
    [`${p}type`]: w.type,
    [`${p}from`]: w.from,
    [`${p}to`]: w.to,
  }
  const matchers = w.selector.map((m, i) => {
    const name = `${p}l${i}`
    const value = `${p}v${i}`
    params[name] = m.name
    const label = `labels[{${name}:String}]`
    params[value] = m.op === '=~' || m.op === '!~' ? `^(?:${m.value})$` : m.value
    const test = {
      '=': `${label} = {${value}:String}`,
      '!=': `${label} != {${value}:String}`,
      '=~': `match(${label}, {${value}:String})`,
      '!~': `NOT match(${label}, {${value}:String})`,
    }[m.op]
    return ` AND (NOT mapContains(labels, {${name}:String}) OR ${test})`
  })
  return {
    text: `tenant = {${p}tenant:String} AND service = {${p}service:String}
        AND type = {${p}type:String}
        AND time_start >= fromUnixTimestamp64Milli({${p}from:Int64})
        AND time_start < fromUnixTimestamp64Milli({${p}to:Int64})${matchers.join('')}`,
    params,
  }
}

const DURATION = 'toUnixTimestamp64Milli(time_end) - toUnixTimestamp64Milli(time_start)'

/**
 * The collected instance-milliseconds of each window; 0 for a gauge type, and for a window
 * whose profiles do not say how long they lasted (an upload without `until`).
 */
export async function queryCoverage(
  client: ClickHouseClient,
  db: string,
  windows: readonly QueryWindow[],
): Promise<number[]> {
  if (windows.length === 0 || PROFILE_TYPES[windows[0]!.type].aggregation !== 'cumulative') {
    return windows.map(() => 0)
  }
  const parts = windows.map((w, i) => coverageWhere(w, `c${i}_`))
  const columns = parts.map(
    (part, i) => `(SELECT sum(${DURATION}) FROM ${db}.profiles WHERE ${part.text}) AS c${i}`,
  )
  const [row] = await selectRows<Record<string, string | number>>(
    client,
    `SELECT ${columns.join(', ')}`,
    Object.assign({}, ...parts.map((part) => part.params)) as Record<string, unknown>,
  )
  return windows.map((_, i) => Number(row?.[`c${i}`] ?? 0))
}

/**
 * Collected instance-milliseconds per timeline bucket (`bucketOf` turns a Unix ms expression into
 * its bucket), as rows `t, c`.
 */
export function coverageByBucketSql(
  db: string,
  w: QueryWindow,
  p: string,
  bucketOf: (ms: string) => string,
): Sql {
  const where = coverageWhere(w, p)
  return {
    text: `SELECT ${bucketOf('toUnixTimestamp64Milli(time_start)')} AS t, sum(${DURATION}) AS c
      FROM ${db}.profiles WHERE ${where.text} GROUP BY t`,
    params: where.params,
  }
}

/**
 * The factor that puts the comparison's values at the baseline's coverage: 1 when either is
 * unknown (0), so windows without durations compare as sums, as before coverage existed.
 */
export function coverageScale(baseline: number, comparison: number): number {
  return baseline > 0 && comparison > 0 ? baseline / comparison : 1
}
