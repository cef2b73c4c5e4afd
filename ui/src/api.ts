import type {
  AgentsResponse,
  AlertsResponse,
  DiffQuery,
  DiffResponse,
  EndpointsDiffResponse,
  EndpointsResponse,
  FindingsResponse,
  OpenResponse,
  FlamegraphQuery,
  FlamegraphResponse,
  LabelValuesResponse,
  LabelsResponse,
  ServicesResponse,
  TimelineQuery,
  TimelineResponse,
  TopQuery,
  TopResponse,
  TracesResponse,
  VersionsResponse,
  SessionResponse,
  WindowQuery,
} from '@kiln/wire'
import { API_ROUTES, SESSION_PATH, apiUrl } from '@kiln/wire'
import { ApiError, UI_ERRORS, isErrorResponse, retryAfterSeconds } from './api-error'
import { sessionHeaders, sessionStore } from './session'

type Params = Record<string, string | number | undefined>

/** `path?k=v...` without the `undefined` and empty-string values (`@kiln/wire`'s `apiUrl`). */
export function apiPath(path: string, params: Params = {}): string {
  return apiUrl(path, params)
}

/** A failed `fetch` (no answer at all) as an `ApiError`; an abort is passed on as it is. */
function networkError(cause: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return cause
  return new ApiError(
    {
      statusCode: 0,
      code: UI_ERRORS.KILN_ERR_UI_NETWORK.code,
      message: 'Cannot reach the Kiln server.',
    },
    { cause },
  )
}

/** GET a URL with the session's headers; a network failure becomes an `ApiError`. */
async function send(
  url: string,
  accept: string,
  signal: AbortSignal | undefined,
  headers: Record<string, string> = sessionHeaders(sessionStore().get()),
): Promise<Response> {
  try {
    return await fetch(url, { headers: { accept, ...headers }, signal: signal ?? null })
  } catch (cause) {
    throw networkError(cause, signal)
  }
}

/** The `ApiError` of a response that is not OK: the server's own body when it sent one. */
async function failure(response: Response, path: string, signal?: AbortSignal): Promise<ApiError> {
  const retryAfter = retryAfterSeconds(response.headers.get('retry-after'))
  const extra = retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }
  let body: unknown
  try {
    body = await response.json()
  } catch (cause) {
    if (signal?.aborted) throw cause
    const message = `${path} answered ${response.status} ${response.statusText} without JSON.`
    const { code } = UI_ERRORS.KILN_ERR_UI_HTTP
    return new ApiError({ statusCode: response.status, code, message, ...extra }, { cause })
  }
  if (isErrorResponse(body)) return new ApiError({ ...body, ...extra })
  return new ApiError({
    statusCode: response.status,
    code: UI_ERRORS.KILN_ERR_UI_HTTP.code,
    message: `${path} answered ${response.status} ${response.statusText}.`,
    ...extra,
  })
}

/** GET a JSON URL; any failure becomes an `ApiError`, keeping the cause. */
async function requestJson<T>(
  path: string,
  signal?: AbortSignal,
  headers?: Record<string, string>,
): Promise<T> {
  const response = await send(path, 'application/json', signal, headers)
  if (!response.ok) throw await failure(response, path, signal)
  try {
    return (await response.json()) as T
  } catch (cause) {
    if (signal?.aborted) throw cause
    const message = `${path} answered ${response.status} ${response.statusText} without JSON.`
    const { code } = UI_ERRORS.KILN_ERR_UI_BAD_RESPONSE
    throw new ApiError({ statusCode: response.status, code, message }, { cause })
  }
}

/** GET a JSON API path (`API_ROUTES` of `@kiln/wire`). */
function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return requestJson(path, signal)
}

/**
 * What the server requires and what `token` may do. Only the token is sent: the session route
 * needs no tenant, and a stale tenant must not spoil the answer.
 */
export function fetchSession(token: string | null, signal?: AbortSignal): Promise<SessionResponse> {
  return requestJson(SESSION_PATH, signal, sessionHeaders({ token, tenant: null }))
}

/**
 * A window narrowed to traces (`traceId`, comma-separated hex) or local root spans (`spanIds`):
 * the flame graph, top table and export of just those requests. Cumulative types only (cpu, wall).
 */
export interface TraceFilter {
  traceId?: string
  spanIds?: string
}

/** A window, optionally narrowed to traces. */
export type TracedWindowQuery = WindowQuery & TraceFilter

function windowParams(query: TracedWindowQuery): Params {
  return {
    service: query.service,
    type: query.type,
    from: query.from,
    to: query.to,
    query: query.query,
    traceId: query.traceId,
    spanIds: query.spanIds,
  }
}

export function fetchServices(signal?: AbortSignal): Promise<ServicesResponse> {
  return getJson(API_ROUTES.services, signal)
}

export function fetchFlamegraph(
  query: FlamegraphQuery & TraceFilter,
  signal?: AbortSignal,
): Promise<FlamegraphResponse> {
  return getJson(
    apiPath(API_ROUTES.flamegraph, { ...windowParams(query), maxNodes: query.maxNodes }),
    signal,
  )
}

export function fetchTimeline(
  query: TimelineQuery,
  signal?: AbortSignal,
): Promise<TimelineResponse> {
  return getJson(
    apiPath(API_ROUTES.timeline, {
      ...windowParams(query),
      step: query.step,
      groupBy: query.groupBy,
    }),
    signal,
  )
}

export function fetchTop(
  query: TopQuery & TraceFilter,
  signal?: AbortSignal,
): Promise<TopResponse> {
  return getJson(
    apiPath(API_ROUTES.top, { ...windowParams(query), sort: query.sort, limit: query.limit }),
    signal,
  )
}

export function fetchDiff(query: DiffQuery, signal?: AbortSignal): Promise<DiffResponse> {
  const { service, type, baseFrom, baseTo, compFrom, compTo, baseQuery, compQuery } = query
  return getJson(
    apiPath(API_ROUTES.diff, {
      service,
      type,
      baseFrom,
      baseTo,
      compFrom,
      compTo,
      baseQuery,
      compQuery,
      maxNodes: query.maxNodes,
      limit: query.limit,
      rankBy: query.rankBy,
    }),
    signal,
  )
}

export function fetchVersions(service: string, signal?: AbortSignal): Promise<VersionsResponse> {
  return getJson(apiPath(API_ROUTES.versions, { service }), signal)
}

export function fetchLabels(query: WindowQuery, signal?: AbortSignal): Promise<LabelsResponse> {
  return getJson(apiPath(API_ROUTES.labels, windowParams(query)), signal)
}

export function fetchLabelValues(
  query: WindowQuery & { name: string; limit?: number },
  signal?: AbortSignal,
): Promise<LabelValuesResponse> {
  return getJson(
    apiPath(API_ROUTES.labelValues, {
      ...windowParams(query),
      name: query.name,
      limit: query.limit,
    }),
    signal,
  )
}

export interface ListQuery {
  service?: string
  from?: number
  to?: number
  limit?: number
}

export function fetchAlerts(query: ListQuery, signal?: AbortSignal): Promise<AlertsResponse> {
  return getJson(apiPath(API_ROUTES.alerts, { ...query }), signal)
}

/**
 * Where an alert's link leads (`/open?...` sent the browser here without a token): the same
 * parameters, resolved by the server with the session's token.
 */
export function fetchOpen(params: URLSearchParams, signal?: AbortSignal): Promise<OpenResponse> {
  const search = new URLSearchParams(params)
  search.delete('view')
  return getJson(`${API_ROUTES.open}?${search.toString()}`, signal)
}

export function fetchFindings(query: ListQuery, signal?: AbortSignal): Promise<FindingsResponse> {
  return getJson(apiPath(API_ROUTES.findings, { ...query }), signal)
}

/** Each instance's agent in the window: its own cost, sampling rate, failed uploads, drops. */
export function fetchAgents(
  query: { service: string; from: number; to: number },
  signal?: AbortSignal,
): Promise<AgentsResponse> {
  return getJson(apiPath(API_ROUTES.agents, { ...query }), signal)
}

/** CPU and wall time per endpoint of a window, with the calls (local root spans) seen. */
export function fetchEndpoints(
  query: { service: string; from: number; to: number; query?: string },
  signal?: AbortSignal,
): Promise<EndpointsResponse> {
  return getJson(apiPath(API_ROUTES.endpoints, { ...query }), signal)
}

export interface EndpointsDiffQuery {
  service: string
  type: string
  baseFrom: number
  baseTo: number
  compFrom: number
  compTo: number
  baseQuery?: string
  compQuery?: string
}

/** Each endpoint's cost per call in two windows, the one that grew most first. */
export function fetchEndpointsDiff(
  query: EndpointsDiffQuery,
  signal?: AbortSignal,
): Promise<EndpointsDiffResponse> {
  return getJson(apiPath(API_ROUTES.endpointsDiff, { ...query }), signal)
}

export interface TracesQuery extends WindowQuery {
  /** Only traces that ran this function (and, with `file`, this function of this file). */
  function?: string
  file?: string
  limit?: number
}

/** Traces of a window (that ran a function), heaviest first. */
export function fetchTraces(query: TracesQuery, signal?: AbortSignal): Promise<TracesResponse> {
  return getJson(
    apiPath(API_ROUTES.traces, {
      ...windowParams(query),
      function: query.function,
      file: query.file,
      limit: query.limit,
    }),
    signal,
  )
}

/** URL of the window merged into one gzipped pprof (`go tool pprof` reads it). */
export function exportPprofUrl(query: TracedWindowQuery): string {
  return apiPath(API_ROUTES.exportPprof, windowParams(query))
}

/**
 * The file name in a `Content-Disposition` header (`attachment; filename="kiln-api-cpu.pb.gz"`,
 * or RFC 6266's `filename*=UTF-8''...`), reduced to a safe base name; `null` when there is none.
 */
export function dispositionFileName(header: string | null): string | null {
  if (header === null) return null
  let name: string | undefined
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header)
  if (extended) {
    try {
      name = decodeURIComponent(extended[1]!.trim())
    } catch {
      name = undefined
    }
  }
  name ??= /filename\s*=\s*(?:"([^"]*)"|([^;\s]+))/.exec(header)?.slice(1).find(Boolean)
  // A name is a name, not a path: keep what follows the last slash.
  const base = name?.split(/[\\/]/).pop()?.trim()
  return base === undefined || base === '' || base === '.' || base === '..' ? null : base
}

/**
 * The window merged into one gzipped pprof, fetched with the session's headers (a plain link
 * cannot carry them), and the file name the server gave it.
 */
export async function fetchPprof(
  query: TracedWindowQuery,
  signal?: AbortSignal,
): Promise<{ blob: Blob; fileName: string | null }> {
  const url = exportPprofUrl(query)
  const response = await send(url, 'application/octet-stream', signal)
  if (!response.ok) throw await failure(response, '/export/pprof', signal)
  const blob = await response.blob()
  return { blob, fileName: dispositionFileName(response.headers.get('content-disposition')) }
}
