/**
 * Trace context on samples. With OpenTelemetry in the process, Kiln's agent labels each CPU and
 * wall sample taken inside a span with its local root span (the first span of the trace in that
 * process): the trace id, the span id and the endpoint. Pyroscope's Go and Java span profiles
 * send `span_id` (and `span_name`) the same way.
 *
 * The endpoint is an ordinary label: a series per endpoint, filterable like any other. The ids
 * are not: the server keeps them out of series (each would be one) and stores the samples that
 * carry them in a table of their own, by trace (see `/api/v1/traces`).
 */
export const TRACE_ID_LABEL = 'trace_id'
export const SPAN_ID_LABEL = 'span_id'
export const ENDPOINT_LABEL = 'endpoint'

/** Hex ids as OpenTelemetry writes them: 32 digits for a trace, 16 for a span (1 to 32 taken). */
export const TRACE_ID_PATTERN = '^[0-9a-fA-F]{1,32}$'

/** One trace that hit the window (and the function, when one was asked for). */
export interface TraceSummary {
  traceId: string
  /** Local root spans of the trace in this service (most hold one). */
  spanIds: string[]
  /** The endpoint its samples carried, `''` when none. */
  endpoint: string
  /** Sum of its samples' values (of the function's stacks, when one was asked for). */
  value: number
  /** Unix ms of its first and last sample. */
  first: number
  last: number
  /** The trace in the tracing UI (`KILN_TRACING_URL`), when one is configured. */
  tracingUrl?: string
}

export interface TracesResponse {
  service: string
  type: string
  unit: string
  from: number
  to: number
  /** Heaviest first, at most `limit`. */
  traces: TraceSummary[]
  /** Traces beyond the limit. */
  more: number
}

/** One endpoint's share of a window, per profile type with samples of it. */
export interface EndpointSummary {
  /** `''`: samples without an endpoint (outside any span, or from clients that send none). */
  endpoint: string
  /** Per type (`cpu`, `wall`, ...): the sum of its samples. */
  values: Record<string, number>
  /** Per type: `values[type]` over the window's total of that type. */
  shares: Record<string, number>
  /** Local root spans seen in its samples (requests, jobs): a lower bound on calls. */
  calls: number
}

export interface EndpointsResponse {
  service: string
  from: number
  to: number
  query: string
  /** Per type: the unit of its values and the window's total. */
  types: Record<string, { unit: string; total: number }>
  /** Heaviest first by the first type (CPU when present). */
  endpoints: EndpointSummary[]
}

/** An endpoint in two windows: what one call cost before and after. */
export interface EndpointChange {
  endpoint: string
  baseline: { value: number; calls: number; perCall: number | null }
  comparison: { value: number; calls: number; perCall: number | null }
  /** `comparison.perCall / baseline.perCall - 1`; `null` when either side has no calls. */
  perCallChange: number | null
  /** The function whose self value per call grew most (the first few endpoints only). */
  grewMost?: { name: string; file?: string; change: number }
}

export interface EndpointsDiffResponse {
  service: string
  type: string
  unit: string
  baseline: { from: number; to: number; query: string }
  comparison: { from: number; to: number; query: string }
  /** The endpoint whose cost per call grew most first. */
  endpoints: EndpointChange[]
}
