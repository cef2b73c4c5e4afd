import { PROFILE_TYPES, type ProfileTypeName } from '@kiln/wire'
import { ROLLUP } from '../store/schema.js'
import type { RolledHours } from '../store/hourly-rollup.js'
import { splitWindow, type TimeRange } from './rollup.js'
import type { LabelMatcher } from './selector.js'

export interface WindowParams {
  tenant: string
  service: string
  type: ProfileTypeName
  /** Unix ms, inclusive. */
  from: number
  /** Unix ms, exclusive. */
  to: number
}

/** A window narrowed by a label selector (`[]`: every series). */
export interface QueryWindow extends WindowParams {
  selector: readonly LabelMatcher[]
  /**
   * The whole hours the rollup answers for (`HourlyRollup.rolledHours`): those of the window are
   * read from it. Absent: every sample is read from `samples`.
   */
  rolledHours?: RolledHours | undefined
  /**
   * Only the samples of these traces or local root spans (`trace_samples`; cumulative types
   * only: heap samples carry no trace). Both set: samples of either.
   */
  trace?: TraceFilter | undefined
}

export interface TraceFilter {
  /** Lowercase hex. */
  traceIds?: readonly string[] | undefined
  spanIds?: readonly string[] | undefined
}

/** The raw table a window reads: `trace_samples` for a trace's samples, else `samples`. */
export function rawTable(db: string, w: QueryWindow): string {
  return w.trace === undefined ? `${db}.samples` : `${db}.trace_samples`
}

/** Conditions on `trace_samples` for a trace filter. */
function traceConditions(trace: TraceFilter, p: string): Sql {
  const parts: string[] = []
  const params: Record<string, unknown> = {}
  if (trace.traceIds?.length) {
    parts.push(`trace_id IN {${p}traces:Array(String)}`)
    params[`${p}traces`] = trace.traceIds
  }
  if (trace.spanIds?.length) {
    parts.push(`span_id IN {${p}spans:Array(String)}`)
    params[`${p}spans`] = trace.spanIds
  }
  return { text: parts.length === 0 ? '' : ` AND (${parts.join(' OR ')})`, params }
}

/**
 * A piece of SQL with the values of its `{name:Type}` placeholders. Placeholder names are made
 * here (a prefix chosen by the caller plus a fixed suffix), never from user input, so two windows
 * can share one statement; user values only ever travel in `params`.
 */
export interface Sql {
  text: string
  params: Record<string, unknown>
}

/**
 * Conditions on a `labels` map column for a selector, `''` when it is empty. A missing label
 * reads as `''` (ClickHouse's map default), which gives Prometheus' semantics: `{k=""}` matches
 * series without `k`. Regular expressions are anchored at both ends, as in Prometheus.
 */
export function labelConditions(matchers: readonly LabelMatcher[], prefix: string): Sql {
  const params: Record<string, unknown> = {}
  const conditions = matchers.map((m, i) => {
    const name = `${prefix}l${i}`
    const value = `${prefix}v${i}`
    params[name] = m.name
    const label = `labels[{${name}:String}]`
    switch (m.op) {
      case '=':
        params[value] = m.value
        return `${label} = {${value}:String}`
      case '!=':
        params[value] = m.value
        return `${label} != {${value}:String}`
      case '=~':
        params[value] = `^(?:${m.value})$`
        return `match(${label}, {${value}:String})`
      case '!~':
        params[value] = `^(?:${m.value})$`
        return `NOT match(${label}, {${value}:String})`
    }
  })
  return { text: conditions.map((c) => ` AND ${c}`).join(''), params }
}

/** WHERE clauses of a window's two sources; at least one is set. */
export interface WindowSources {
  /** On `samples`: the parts of the window outside whole rolled-up hours. */
  raw: Sql | undefined
  /** On the rollup: those hours. */
  rolled: Sql | undefined
}

/**
 * Where a window's samples are read (see `splitWindow`), both sources narrowed to the same
 * series. Every statement that reads a window adds up what it reads from both, which gives the
 * same numbers as reading `samples` alone: the rollup holds sums (and sets of snapshot times),
 * and the two never cover the same time.
 */
export function windowSources(db: string, w: QueryWindow, p: string): WindowSources {
  const labels = labelConditions(w.selector, p)
  // With a selector, the label filter resolves to series ids first (the small `series` table)
  // and samples are filtered by `series_id IN (...)`, in the same statement.
  const series = labels.text
    ? ` AND series_id IN (SELECT series_id FROM ${db}.series
        WHERE tenant = {${p}tenant:String} AND service = {${p}service:String}
          AND type = {${p}type:String}${labels.text})`
    : ''
  const scope = `tenant = {${p}tenant:String} AND service = {${p}service:String}
      AND type = {${p}type:String}`
  const params = {
    [`${p}tenant`]: w.tenant,
    [`${p}service`]: w.service,
    [`${p}type`]: w.type,
    ...labels.params,
  }
  if (w.trace !== undefined) {
    // Traces are not rolled up: their samples are read from `trace_samples` over the window.
    const trace = traceConditions(w.trace, p)
    const raw = rawWhere([{ from: w.from, to: w.to }], scope, series, params, p)
    return {
      raw: { text: raw.text + trace.text, params: { ...raw.params, ...trace.params } },
      rolled: undefined,
    }
  }
  const split = splitWindow(w, w.rolledHours)
  return {
    raw: split.raw.length > 0 ? rawWhere(split.raw, scope, series, params, p) : undefined,
    rolled: split.rolled && {
      // Each run rolled up one hour: the runs pick the hours, the range narrows the read.
      text: `${scope}
      AND bucket >= toDateTime({${p}hfrom:UInt32}, 'UTC')
      AND bucket < toDateTime({${p}hto:UInt32}, 'UTC')
      AND run IN {${p}runs:Array(UInt64)}${series}`,
      params: {
        ...params,
        [`${p}hfrom`]: split.rolled.from / 1000,
        [`${p}hto`]: split.rolled.to / 1000,
        [`${p}runs`]: split.rolled.runs.map(BigInt),
      },
    },
  }
}

function rawWhere(
  ranges: TimeRange[],
  scope: string,
  series: string,
  params: Record<string, unknown>,
  p: string,
): Sql {
  const out: Record<string, unknown> = { ...params }
  const conditions = ranges.map((r, i) => {
    out[`${p}r${i}from`] = r.from
    out[`${p}r${i}to`] = r.to
    return `time >= fromUnixTimestamp64Milli({${p}r${i}from:Int64})
      AND time < fromUnixTimestamp64Milli({${p}r${i}to:Int64})`
  })
  const time = conditions.length === 1 ? conditions[0]! : `((${conditions.join(') OR (')}))`
  return { text: `${scope}\n      AND ${time}${series}`, params: out }
}

/** The rollup table, qualified. */
export const rollupTable = (db: string): string => `${db}.${ROLLUP.table}`

/**
 * The statements of each source (undefined ones left out) re-aggregated as one: the only part
 * as it is, or every part `UNION ALL`, grouped again by `keys` with `aggregates` (sums, which
 * add up parts over disjoint times).
 */
export function combineParts(
  parts: (string | undefined)[],
  keys: string,
  aggregates: string,
): string {
  const present = parts.filter((part): part is string => part !== undefined)
  if (present.length === 1) return present[0]!
  return `SELECT ${keys}, ${aggregates} FROM (
        ${present.join('\n        UNION ALL\n        ')}
      ) GROUP BY ${keys}`
}

const mergeParams = (sources: WindowSources): Record<string, unknown> => ({
  ...sources.raw?.params,
  ...sources.rolled?.params,
})

/** Group-by expressions putting a window's rows in buckets, on `samples` and on the rollup. */
export interface Buckets {
  raw: string
  rolled: string
}

/**
 * `SELECT [t,] instance, n`: per instance of the window's service and type (per bucket with
 * `buckets`), how many snapshots it uploaded: the distinct times of its samples, whatever labels
 * they carry and whatever the selector (a snapshot with nothing selected counts as a 0). A gauge
 * is the sum over its instances of their values divided by their number of snapshots, so an
 * instance whose samples carry labels that change from one snapshot to the next is averaged, not
 * summed. `series.instance_id` is 0 in rows from before it existed: such a series is its own
 * instance.
 */
export function instanceSnapshotsSql(
  db: string,
  w: QueryWindow,
  p: string,
  buckets?: Buckets,
): Sql {
  const { raw, rolled } = windowSources(db, { ...w, selector: [] }, p)
  const t = (expression: string | undefined) => (expression ? `${expression} AS t, ` : '')
  const key = buckets ? 't, instance' : 'instance'
  const text = combineParts(
    [
      raw &&
        `SELECT ${buckets ? 't, ' : ''}m.instance AS instance, uniqExact(s.time) AS n
        FROM (SELECT DISTINCT ${t(buckets?.raw)}series_id, time FROM ${db}.samples
          WHERE ${raw.text}) AS s
        INNER JOIN (${instancesSql(db, p)}) AS m USING (series_id)
        GROUP BY ${key}`,
      rolled &&
        `SELECT ${buckets ? 't, ' : ''}m.instance AS instance, uniqExactMerge(s.snapshots) AS n
        FROM (SELECT ${t(buckets?.rolled)}series_id, snapshots FROM ${rollupTable(db)}
          WHERE ${rolled.text} AND stack_hash = 0) AS s
        INNER JOIN (${instancesSql(db, p)}) AS m USING (series_id)
        GROUP BY ${key}`,
    ],
    key,
    'sum(n) AS n',
  )
  return { text, params: mergeParams({ raw, rolled }) }
}

/** `SELECT series_id, instance` of every series of the window's service and type. */
export function instancesSql(db: string, p: string): string {
  return `SELECT series_id, any(if(instance_id = 0, series_id, instance_id)) AS instance
        FROM ${db}.series
        WHERE tenant = {${p}tenant:String} AND service = {${p}service:String}
          AND type = {${p}type:String}
        GROUP BY series_id`
}

/**
 * `SELECT stack_hash, v` over a window, aggregated as the type demands: cumulative types sum;
 * gauge types (heap in use) average each instance over its snapshots in the window, then sum
 * across instances (`instanceSnapshotsSql`), so ten snapshots of a 100 MB heap read as 100 MB,
 * not 1 GB. Stacks whose value
 * is 0 are left out (the rollup's snapshot rows are such; see `ROLLUP` in store/schema.ts).
 */
export function stackValuesSql(db: string, w: QueryWindow, p = 'w_'): Sql {
  const { raw, rolled } = windowSources(db, w, p)
  const params = mergeParams({ raw, rolled })
  const rollup = rollupTable(db)
  if (PROFILE_TYPES[w.type].aggregation === 'cumulative') {
    const values = combineParts(
      [
        raw &&
          `SELECT stack_hash, sum(value) AS v FROM ${rawTable(db, w)}
        WHERE ${raw.text} GROUP BY stack_hash`,
        rolled &&
          `SELECT stack_hash, sum(value) AS v FROM ${rollup}
        WHERE ${rolled.text} GROUP BY stack_hash`,
      ],
      'stack_hash',
      'sum(v) AS v',
    )
    return { text: `SELECT stack_hash, v FROM (${values}) WHERE v != 0`, params }
  }
  const values = combineParts(
    [
      raw &&
        `SELECT series_id, stack_hash, sum(value) AS v FROM ${db}.samples
        WHERE ${raw.text} GROUP BY series_id, stack_hash`,
      rolled &&
        `SELECT series_id, stack_hash, sum(value) AS v FROM ${rollup}
        WHERE ${rolled.text} GROUP BY series_id, stack_hash`,
    ],
    'series_id, stack_hash',
    'sum(v) AS v',
  )
  const counts = instanceSnapshotsSql(db, w, `${p}i_`)
  return {
    text: `SELECT stack_hash, v FROM (
        SELECT stack_hash, sum(x.v / y.n) AS v
        FROM (${values}) AS x
        INNER JOIN (${instancesSql(db, p)}) AS m USING (series_id)
        INNER JOIN (${counts.text}) AS y USING (instance)
        GROUP BY stack_hash
      ) WHERE v != 0`,
    params: { ...params, ...counts.params },
  }
}
