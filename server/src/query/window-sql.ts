import { PROFILE_TYPES, type ProfileTypeName } from '@kiln/wire'
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

/** Window parameters under a prefix, e.g. `{w0_from: 1700000000000, ...}`. */
function windowParams(w: WindowParams, p: string): Record<string, unknown> {
  return {
    [`${p}tenant`]: w.tenant,
    [`${p}service`]: w.service,
    [`${p}type`]: w.type,
    [`${p}from`]: w.from,
    [`${p}to`]: w.to,
  }
}

/**
 * The WHERE clause selecting a window's samples. With a selector, the label filter resolves to
 * series ids first (the small `series` table) and samples are filtered by `series_id IN (...)`,
 * in the same statement.
 */
export function samplesWhere(db: string, w: QueryWindow, p: string): Sql {
  const labels = labelConditions(w.selector, p)
  const series = labels.text
    ? ` AND series_id IN (SELECT series_id FROM ${db}.series
        WHERE tenant = {${p}tenant:String} AND service = {${p}service:String}
          AND type = {${p}type:String}${labels.text})`
    : ''
  return {
    text: `tenant = {${p}tenant:String} AND service = {${p}service:String}
      AND type = {${p}type:String}
      AND time >= fromUnixTimestamp64Milli({${p}from:Int64})
      AND time < fromUnixTimestamp64Milli({${p}to:Int64})${series}`,
    params: { ...windowParams(w, p), ...labels.params },
  }
}

/**
 * `SELECT stack_hash, v` over a window, aggregated as the type demands: cumulative types sum;
 * gauge types (heap in use) average each series over its snapshots in the window, then sum
 * across series, so ten snapshots of a 100 MB heap read as 100 MB, not 1 GB.
 */
export function stackValuesSql(db: string, w: QueryWindow, p = 'w_'): Sql {
  const where = samplesWhere(db, w, p)
  if (PROFILE_TYPES[w.type].aggregation === 'cumulative') {
    return {
      text: `SELECT stack_hash, sum(value) AS v FROM ${db}.samples
        WHERE ${where.text} GROUP BY stack_hash`,
      params: where.params,
    }
  }
  return {
    text: `SELECT stack_hash, sum(x.v / y.n) AS v
      FROM (
        SELECT series_id, stack_hash, sum(value) AS v FROM ${db}.samples
        WHERE ${where.text} GROUP BY series_id, stack_hash
      ) AS x
      INNER JOIN (
        SELECT series_id, uniqExact(time) AS n FROM ${db}.samples
        WHERE ${where.text} GROUP BY series_id
      ) AS y USING (series_id)
      GROUP BY stack_hash`,
    params: where.params,
  }
}
