/**
 * Deep links into Kiln: UI views and query API calls that reproduce them. Alerts and findings
 * carry these; the UI parses the same parameters, so a link opens exactly the window it names.
 * Times are Unix milliseconds, windows `[from, to)`.
 */

/** A time window, Unix ms, `[from, to)`. */
export interface TimeWindow {
  from: number
  to: number
}

export interface FlamegraphLinkParams {
  service: string
  /** Profile type name, e.g. `cpu`. */
  type: string
  from: number
  to: number
  /** Label selector, e.g. `{service_version="1.4.2"}`. */
  query?: string
}

export interface DiffLinkParams {
  service: string
  type: string
  baseFrom: number
  baseTo: number
  compFrom: number
  compTo: number
  baseQuery?: string
  compQuery?: string
}

/** The links an alert or a finding answers with. */
export interface DeepLinks {
  /** UI: flame graph of the anomaly window. */
  flamegraph: string
  /** UI: the anomaly window against its baseline. */
  diff: string
  /** API: `GET /api/v1/diff` of the same two windows (JSON). */
  diffApi: string
  /** API: `GET /api/v1/flamegraph` of the anomaly window (JSON). */
  flamegraphApi: string
}

/** The baseline of a window: the window of the same length just before it. */
export function baselineWindow(window: TimeWindow): TimeWindow {
  return { from: window.from - (window.to - window.from), to: window.from }
}

/** `?k=v&...` with every value URI-encoded; `undefined` values are left out. */
function queryString(params: Record<string, string | number | undefined>): string {
  const pairs = Object.entries(params)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
  return `?${pairs.join('&')}`
}

/** `publicUrl` without trailing slashes, so `${base}/...` never doubles one. */
function base(publicUrl: string): string {
  return publicUrl.replace(/\/+$/, '')
}

/** UI: `${publicUrl}/?service=&type=&from=&to=[&query=]` */
export function flamegraphUiLink(publicUrl: string, p: FlamegraphLinkParams): string {
  const { service, type, from, to, query } = p
  return `${base(publicUrl)}/${queryString({ service, type, from, to, query })}`
}

/** UI: `${publicUrl}/?view=diff&service=&type=&baseFrom=&baseTo=&compFrom=&compTo=[&baseQuery=&compQuery=]` */
export function diffUiLink(publicUrl: string, p: DiffLinkParams): string {
  return `${base(publicUrl)}/${queryString({ view: 'diff', ...diffParams(p) })}`
}

/** API: `${publicUrl}/api/v1/flamegraph?service=&type=&from=&to=[&query=]` */
export function flamegraphApiLink(publicUrl: string, p: FlamegraphLinkParams): string {
  const { service, type, from, to, query } = p
  return `${base(publicUrl)}/api/v1/flamegraph${queryString({ service, type, from, to, query })}`
}

/** API: `${publicUrl}/api/v1/diff?service=&type=&baseFrom=&baseTo=&compFrom=&compTo=[&baseQuery=&compQuery=]` */
export function diffApiLink(publicUrl: string, p: DiffLinkParams): string {
  return `${base(publicUrl)}/api/v1/diff${queryString({ ...diffParams(p) })}`
}

function diffParams(p: DiffLinkParams): Record<string, string | number | undefined> {
  return {
    service: p.service,
    type: p.type,
    baseFrom: p.baseFrom,
    baseTo: p.baseTo,
    compFrom: p.compFrom,
    compTo: p.compTo,
    baseQuery: p.baseQuery,
    compQuery: p.compQuery,
  }
}

/**
 * Every link of a comparison: the flame graph of `comparison` and its diff against `baseline`
 * (by default the window of the same length just before it).
 */
export function comparisonLinks(
  publicUrl: string,
  p: {
    service: string
    type: string
    comparison: TimeWindow
    baseline?: TimeWindow
    baseQuery?: string
    compQuery?: string
  },
): DeepLinks {
  const baseline = p.baseline ?? baselineWindow(p.comparison)
  const flame: FlamegraphLinkParams = {
    service: p.service,
    type: p.type,
    from: p.comparison.from,
    to: p.comparison.to,
    ...(p.compQuery !== undefined ? { query: p.compQuery } : {}),
  }
  const diff: DiffLinkParams = {
    service: p.service,
    type: p.type,
    baseFrom: baseline.from,
    baseTo: baseline.to,
    compFrom: p.comparison.from,
    compTo: p.comparison.to,
    ...(p.baseQuery !== undefined ? { baseQuery: p.baseQuery } : {}),
    ...(p.compQuery !== undefined ? { compQuery: p.compQuery } : {}),
  }
  return {
    flamegraph: flamegraphUiLink(publicUrl, flame),
    diff: diffUiLink(publicUrl, diff),
    diffApi: diffApiLink(publicUrl, diff),
    flamegraphApi: flamegraphApiLink(publicUrl, flame),
  }
}
