import type { ClickHouseClient } from '@clickhouse/client'
import {
  ENDPOINT_LABEL,
  PROFILE_TYPES,
  type EndpointChange,
  type EndpointSummary,
  type EndpointsDiffResponse,
  type EndpointsResponse,
  type ProfileTypeName,
  type TracesResponse,
} from '@kiln/wire'
import { selectRows } from '../store/select-rows.js'
import { queryDiff } from './diff.js'
import { formatSelector, type LabelMatcher } from './selector.js'
import {
  combineParts,
  labelConditions,
  rollupTable,
  windowSources,
  type QueryWindow,
  type Sql,
} from './window-sql.js'

/*
 * Endpoints and traces (see `@kiln/wire`'s traces.ts). The endpoint is a series label, so its
 * values come from `samples` and the rollup like any label's; the calls behind them (local root
 * spans) and the traces come from `trace_samples`.
 */

/** Types an endpoints table shows, when the window has them: what requests cost. */
const ENDPOINT_TYPES: readonly ProfileTypeName[] = ['cpu', 'wall']
/** Endpoints beyond this many in one answer are left out (an endpoint label is meant to be few). */
const MAX_ENDPOINTS = 1000
/** Endpoints of a comparison whose most-grown function is looked up (a diff query each). */
const GREW_MOST_LOOKUPS = 3

type Window = Omit<QueryWindow, 'type' | 'trace'>

/**
 * `SELECT series_id, endpoint` of the service's series of `{p}type`, or with `types` of any of
 * `{p}types`.
 */
function endpointOfSeries(db: string, p: string, types = false): string {
  return `SELECT series_id, any(labels[{${p}endpoint:String}]) AS endpoint
        FROM ${db}.series
        WHERE tenant = {${p}tenant:String} AND service = {${p}service:String}
          AND ${types ? `type IN {${p}types:Array(String)}` : `type = {${p}type:String}`}
        GROUP BY series_id`
}

/** `SELECT endpoint, v`: a cumulative type's value per endpoint over a window. */
function valuesByEndpoint(db: string, w: QueryWindow, p: string): Sql {
  const { raw, rolled } = windowSources(db, w, p)
  const values = combineParts(
    [
      raw &&
        `SELECT series_id, sum(value) AS v FROM ${db}.samples
        WHERE ${raw.text} GROUP BY series_id`,
      rolled &&
        `SELECT series_id, sum(value) AS v FROM ${rollupTable(db)}
        WHERE ${rolled.text} GROUP BY series_id`,
    ],
    'series_id',
    'sum(v) AS v',
  )
  return {
    text: `SELECT m.endpoint AS endpoint, sum(x.v) AS v
        FROM (${values}) AS x
        INNER JOIN (${endpointOfSeries(db, p)}) AS m USING (series_id)
        GROUP BY endpoint`,
    params: { ...raw?.params, ...rolled?.params, [`${p}endpoint`]: ENDPOINT_LABEL },
  }
}

/**
 * `SELECT endpoint, calls`: local root spans seen per endpoint in a window's trace samples of
 * `types` (the same span in CPU and wall samples counts once).
 */
function callsByEndpoint(db: string, w: Window, types: readonly string[], p: string): Sql {
  const labels = labelConditions(w.selector, p)
  const series = labels.text
    ? ` AND series_id IN (SELECT series_id FROM ${db}.series
          WHERE tenant = {${p}tenant:String} AND service = {${p}service:String}
            AND type IN {${p}types:Array(String)}${labels.text})`
    : ''
  return {
    text: `SELECT m.endpoint AS endpoint, uniqExact(t.span_id) AS calls
        FROM (SELECT series_id, span_id FROM ${db}.trace_samples
          WHERE tenant = {${p}tenant:String} AND service = {${p}service:String}
            AND type IN {${p}types:Array(String)}
            AND time >= fromUnixTimestamp64Milli({${p}from:Int64})
            AND time < fromUnixTimestamp64Milli({${p}to:Int64})
            AND span_id != ''${series}) AS t
        INNER JOIN (${endpointOfSeries(db, p, true)}) AS m USING (series_id)
        GROUP BY endpoint`,
    params: {
      ...labels.params,
      [`${p}tenant`]: w.tenant,
      [`${p}service`]: w.service,
      [`${p}types`]: types,
      [`${p}from`]: w.from,
      [`${p}to`]: w.to,
      [`${p}endpoint`]: ENDPOINT_LABEL,
    },
  }
}

/** Which of `types` the service has samples of (from its series). */
async function typesOf(
  client: ClickHouseClient,
  db: string,
  w: Window,
  types: readonly ProfileTypeName[],
): Promise<ProfileTypeName[]> {
  const rows = await selectRows<{ type: string }>(
    client,
    `SELECT DISTINCT type FROM ${db}.series
      WHERE tenant = {tenant:String} AND service = {service:String}
        AND type IN {types:Array(String)}`,
    { tenant: w.tenant, service: w.service, types },
  )
  const present = new Set(rows.map((r) => r.type))
  return types.filter((t) => present.has(t))
}

/** CPU and wall time per endpoint of a window, with the calls seen behind them. */
export async function queryEndpoints(
  client: ClickHouseClient,
  db: string,
  w: Window,
): Promise<EndpointsResponse> {
  const types = await typesOf(client, db, w, ENDPOINT_TYPES)
  const parts = types.map((type, i) => valuesByEndpoint(db, { ...w, type }, `t${i}_`))
  const calls = callsByEndpoint(db, w, types, 'c_')
  const byEndpoint = new Map<string, EndpointSummary>()
  const entry = (endpoint: string): EndpointSummary => {
    let e = byEndpoint.get(endpoint)
    if (e === undefined) {
      e = { endpoint, values: {}, shares: {}, calls: 0 }
      byEndpoint.set(endpoint, e)
    }
    return e
  }
  const [valueRows, callRows] = await Promise.all([
    Promise.all(
      parts.map((part) =>
        selectRows<{ endpoint: string; v: number }>(client, part.text, part.params),
      ),
    ),
    types.length === 0
      ? Promise.resolve([])
      : selectRows<{ endpoint: string; calls: string | number }>(client, calls.text, calls.params),
  ])
  const totals: EndpointsResponse['types'] = {}
  types.forEach((type, i) => {
    let total = 0
    for (const row of valueRows[i]!) total += Number(row.v)
    totals[type] = { unit: PROFILE_TYPES[type].unit, total }
    for (const row of valueRows[i]!) {
      const e = entry(row.endpoint)
      e.values[type] = Number(row.v)
      e.shares[type] = total > 0 ? Number(row.v) / total : 0
    }
  })
  for (const row of callRows) {
    // Spans of an endpoint whose samples are outside the selector or window have no values.
    const e = byEndpoint.get(row.endpoint)
    if (e !== undefined) e.calls = Number(row.calls)
  }
  const first = types[0]
  const endpoints = [...byEndpoint.values()]
    .sort(
      (a, b) =>
        (first ? (b.values[first] ?? 0) - (a.values[first] ?? 0) : 0) ||
        (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0),
    )
    .slice(0, MAX_ENDPOINTS)
  return {
    service: w.service,
    from: w.from,
    to: w.to,
    query: formatSelector(w.selector),
    types: totals,
    endpoints,
  }
}

export interface EndpointsDiffOptions {
  baseline: QueryWindow
  comparison: QueryWindow
}

/**
 * Each endpoint in two windows (or versions, by their selectors): its value, calls and value per
 * call, the one whose cost per call grew most first; for the first few that grew, the function
 * whose share of that endpoint grew most (a diff of the endpoint's own samples).
 */
export async function queryEndpointsDiff(
  client: ClickHouseClient,
  db: string,
  options: EndpointsDiffOptions,
): Promise<EndpointsDiffResponse> {
  const { baseline, comparison } = options
  const type = baseline.type
  const side = async (w: QueryWindow, p: string) => {
    const values = valuesByEndpoint(db, w, `${p}v_`)
    const calls = callsByEndpoint(db, w, [type], `${p}c_`)
    const [v, c] = await Promise.all([
      selectRows<{ endpoint: string; v: number }>(client, values.text, values.params),
      selectRows<{ endpoint: string; calls: string | number }>(client, calls.text, calls.params),
    ])
    const out = new Map<string, { value: number; calls: number }>()
    for (const row of v) out.set(row.endpoint, { value: Number(row.v), calls: 0 })
    for (const row of c) {
      const e = out.get(row.endpoint)
      if (e !== undefined) e.calls = Number(row.calls)
    }
    return out
  }
  const [base, comp] = await Promise.all([side(baseline, 'b_'), side(comparison, 'k_')])
  const perCall = (s: { value: number; calls: number } | undefined) =>
    s === undefined || s.calls === 0 ? null : s.value / s.calls
  const changes: EndpointChange[] = []
  for (const endpoint of new Set([...base.keys(), ...comp.keys()])) {
    if (endpoint === '') continue // samples outside any endpoint: not a request to compare
    const b = base.get(endpoint)
    const k = comp.get(endpoint)
    const bPer = perCall(b)
    const kPer = perCall(k)
    changes.push({
      endpoint,
      baseline: { value: b?.value ?? 0, calls: b?.calls ?? 0, perCall: bPer },
      comparison: { value: k?.value ?? 0, calls: k?.calls ?? 0, perCall: kPer },
      perCallChange: bPer === null || kPer === null || bPer === 0 ? null : kPer / bPer - 1,
    })
  }
  changes.sort(
    (a, b) =>
      (b.perCallChange ?? Number.NEGATIVE_INFINITY) -
        (a.perCallChange ?? Number.NEGATIVE_INFINITY) || b.comparison.value - a.comparison.value,
  )
  const grown = changes.filter((c) => (c.perCallChange ?? 0) > 0).slice(0, GREW_MOST_LOOKUPS)
  await Promise.all(
    grown.map(async (change) => {
      const only: LabelMatcher = { name: ENDPOINT_LABEL, op: '=', value: change.endpoint }
      const diff = await queryDiff(client, db, {
        baseline: { ...baseline, selector: [...baseline.selector, only] },
        comparison: { ...comparison, selector: [...comparison.selector, only] },
        maxStacks: 5000,
        maxNodes: 2,
        limit: 1,
        rankBy: 'share',
      })
      const top = diff.changes.self.grew[0]
      if (top !== undefined) {
        change.grewMost = {
          name: top.name,
          ...(top.file !== undefined ? { file: top.file } : {}),
          change: top.selfShare,
        }
      }
    }),
  )
  const echo = (w: QueryWindow) => ({ from: w.from, to: w.to, query: formatSelector(w.selector) })
  return {
    service: baseline.service,
    type,
    unit: PROFILE_TYPES[type].unit,
    baseline: echo(baseline),
    comparison: echo(comparison),
    endpoints: changes,
  }
}

export interface TracesOptions extends QueryWindow {
  /** Only traces whose samples ran this function (by name, and file when given). */
  fn?: { name: string; file?: string | undefined } | undefined
  limit: number
  /** Only these traces (lowercase hex): a trace's summary (endpoint, spans, tracing link). */
  traceIds?: readonly string[] | undefined
  /** `KILN_TRACING_URL`: a tracing UI's trace page with `{traceId}`, `{from}`, `{to}`. */
  tracingUrl?: string | undefined
}

/** A trace's page in the tracing UI: the template with its placeholders filled in. */
export function tracingLink(template: string, traceId: string, from: number, to: number): string {
  return template
    .replaceAll('{traceId}', encodeURIComponent(traceId))
    .replaceAll('{from}', String(from))
    .replaceAll('{to}', String(to))
}

/** The traces of a window (that ran a function), heaviest first. */
export async function queryTraces(
  client: ClickHouseClient,
  db: string,
  o: TracesOptions,
): Promise<TracesResponse> {
  const labels = labelConditions(o.selector, 'l_')
  const series = labels.text
    ? ` AND series_id IN (SELECT series_id FROM ${db}.series
          WHERE tenant = {tenant:String} AND service = {service:String}
            AND type = {type:String}${labels.text})`
    : ''
  const fn =
    o.fn === undefined
      ? ''
      : ` AND stack_hash IN (SELECT stack_hash FROM ${db}.stacks
          WHERE tenant = {tenant:String} AND service = {service:String}
            AND ${
              o.fn.file === undefined
                ? 'has(functions, {fn:String})'
                : 'arrayExists((f, x) -> f = {fn:String} AND x = {file:String}, functions, files)'
            })`
  const rows = await selectRows<{
    trace_id: string
    spans: string[]
    endpoint: string
    v: number
    first: number
    last: number
    n: string | number
  }>(
    client,
    `SELECT trace_id, spans, endpoint, v, first, last, count() OVER () AS n FROM (
        SELECT t.trace_id AS trace_id, groupUniqArray(16)(t.span_id) AS spans,
          any(m.endpoint) AS endpoint, sum(t.value) AS v,
          toUnixTimestamp64Milli(min(t.time)) AS first, toUnixTimestamp64Milli(max(t.time)) AS last
        FROM (SELECT trace_id, span_id, series_id, value, time FROM ${db}.trace_samples
          WHERE tenant = {tenant:String} AND service = {service:String} AND type = {type:String}
            AND time >= fromUnixTimestamp64Milli({from:Int64})
            AND time < fromUnixTimestamp64Milli({to:Int64})
            AND trace_id != ''${o.traceIds?.length ? ' AND trace_id IN {traceIds:Array(String)}' : ''}${series}${fn}) AS t
        INNER JOIN (${endpointOfSeries(db, '')}) AS m USING (series_id)
        GROUP BY trace_id
      )
      ORDER BY v DESC, trace_id LIMIT {limit:UInt32}`,
    {
      ...labels.params,
      tenant: o.tenant,
      service: o.service,
      type: o.type,
      from: o.from,
      to: o.to,
      endpoint: ENDPOINT_LABEL,
      limit: o.limit,
      ...(o.fn ? { fn: o.fn.name, file: o.fn.file ?? '' } : {}),
      ...(o.traceIds?.length ? { traceIds: o.traceIds } : {}),
    },
  )
  const total = Number(rows[0]?.n ?? 0)
  return {
    service: o.service,
    type: o.type,
    unit: PROFILE_TYPES[o.type].unit,
    from: o.from,
    to: o.to,
    traces: rows.map((r) => ({
      traceId: r.trace_id,
      spanIds: [...r.spans].filter((s) => s !== '').sort(),
      endpoint: r.endpoint,
      value: Number(r.v),
      first: Number(r.first),
      last: Number(r.last),
      ...(o.tracingUrl
        ? { tracingUrl: tracingLink(o.tracingUrl, r.trace_id, Number(r.first), Number(r.last) + 1) }
        : {}),
    })),
    more: Math.max(0, total - rows.length),
  }
}
