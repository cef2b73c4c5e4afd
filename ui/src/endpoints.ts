import {
  ENDPOINT_LABEL,
  type EndpointChange,
  type EndpointSummary,
  type EndpointsResponse,
} from '@kiln/wire'
import { formatNumber } from './format'
import { equalityValue, setEquality } from './label-selector'

/*
 * Endpoints (the `endpoint` label Kiln's agent writes from the local root span: `POST
 * /checkout/:id`) as the explore and compare views show them, and the label filter that narrows a
 * view to one of them.
 */

/** The endpoint a selector narrows to (`endpoint="..."`), `null` when none. */
export function selectedEndpoint(selector: string): string | null {
  return equalityValue(selector, ENDPOINT_LABEL)
}

/**
 * Clicking an endpoint: narrow the selector to it (replacing another endpoint's matcher), or,
 * when it already is, widen it again. The selector's other matchers stay.
 */
export function toggleEndpoint(selector: string, endpoint: string): string {
  const next = selectedEndpoint(selector) === endpoint ? null : endpoint
  return setEquality(selector, ENDPOINT_LABEL, next)
}

/**
 * A comparison's two selectors narrowed to an endpoint (replacing another's matcher), or widened
 * again when both already are; each side's other matchers (a version each) stay.
 */
export function toggleEndpointOnBoth(
  queries: { baseQuery: string; compQuery: string },
  endpoint: string,
): { baseQuery: string; compQuery: string } {
  const both =
    selectedEndpoint(queries.baseQuery) === endpoint &&
    selectedEndpoint(queries.compQuery) === endpoint
  const next = both ? null : endpoint
  return {
    baseQuery: setEquality(queries.baseQuery, ENDPOINT_LABEL, next),
    compQuery: setEquality(queries.compQuery, ENDPOINT_LABEL, next),
  }
}

/**
 * The selector without its endpoint matcher: what the endpoint tables are asked for, so that every
 * endpoint stays listed (and can be switched to) while the view shows one.
 */
export function withoutEndpoint(selector: string): string {
  return setEquality(selector, ENDPOINT_LABEL, null)
}

/** How a table names an endpoint; `''` is the time spent outside any. */
export function endpointLabel(endpoint: string): string {
  return endpoint === '' ? '(no endpoint)' : endpoint
}

/** Whether the answer names any endpoint (not only samples without one). */
export function hasEndpoints(endpoints: readonly { endpoint: string }[]): boolean {
  return endpoints.some((e) => e.endpoint !== '')
}

/** One type's numbers of an endpoint; `null` when the window has no samples of that type. */
export interface EndpointFigure {
  value: number
  share: number
}

export interface EndpointRow {
  endpoint: string
  cpu: EndpointFigure | null
  wall: EndpointFigure | null
  calls: number
  /** CPU per call seen; `null` without calls or CPU samples. */
  cpuPerCall: number | null
}

/** Value per call; `null` when there were no calls to divide by. */
export function perCall(value: number | undefined, calls: number): number | null {
  return value === undefined || calls <= 0 ? null : value / calls
}

function figure(e: EndpointSummary, type: string, typed: boolean): EndpointFigure | null {
  if (!typed) return null
  return { value: e.values[type] ?? 0, share: e.shares[type] ?? 0 }
}

/** The table's rows, in the server's order (heaviest CPU first). */
export function endpointRows(response: EndpointsResponse): EndpointRow[] {
  const hasCpu = response.types.cpu !== undefined
  const hasWall = response.types.wall !== undefined
  return response.endpoints.map((e) => ({
    endpoint: e.endpoint,
    cpu: figure(e, 'cpu', hasCpu),
    wall: figure(e, 'wall', hasWall),
    calls: e.calls,
    cpuPerCall: hasCpu ? perCall(e.values.cpu, e.calls) : null,
  }))
}

/** Changes of cost per call under half a percent print as 0% and are drawn neutral. */
const SAME_CHANGE = 0.005

export type ChangeKind = 'grew' | 'shrank' | 'same' | 'unknown'

export function perCallChangeKind(change: number | null): ChangeKind {
  if (change === null) return 'unknown'
  return Math.abs(change) < SAME_CHANGE ? 'same' : change > 0 ? 'grew' : 'shrank'
}

/** `+140%`, `−12%` (a minus sign), `0%`; `—` when one side had no calls. */
export function formatPerCallChange(change: number | null): string {
  const kind = perCallChangeKind(change)
  if (change === null || kind === 'unknown') return '—'
  if (kind === 'same') return '0%'
  return `${kind === 'grew' ? '+' : '−'}${formatNumber(Math.abs(change) * 100)}%`
}

/** Why a change cannot be computed, for the cell's title. */
export function missingChangeReason(change: EndpointChange): string | null {
  if (change.perCallChange !== null) return null
  if (change.baseline.calls === 0 && change.comparison.calls === 0) return 'No calls seen'
  if (change.baseline.calls === 0) return 'New: no calls in the baseline'
  if (change.comparison.calls === 0) return 'Gone: no calls in the comparison'
  return 'No cost in the baseline'
}
