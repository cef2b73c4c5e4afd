import type {
  AgentsResponse,
  AlertsResponse,
  DiffQuery,
  DiffResponse,
  FindingsResponse,
  FlamegraphQuery,
  FlamegraphResponse,
  LabelValuesResponse,
  LabelsResponse,
  ServicesResponse,
  TimelineQuery,
  TimelineResponse,
  TopQuery,
  TopResponse,
  VersionsResponse,
  WindowQuery,
} from '@kiln/wire'
import { ApiError, UI_ERRORS, isErrorResponse } from './api-error'

const API_PREFIX = '/api/v1'

type Params = Record<string, string | number | undefined>

/** `path?k=v...` without the `undefined` and empty-string values. */
export function apiPath(path: string, params: Params = {}): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== '') search.set(key, String(value))
  }
  const query = search.toString()
  return query === '' ? path : `${path}?${query}`
}

/** GET a JSON API path; any failure becomes an `ApiError`, keeping the cause. */
async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  let response: Response
  try {
    response = await fetch(`${API_PREFIX}${path}`, {
      headers: { accept: 'application/json' },
      signal: signal ?? null,
    })
  } catch (cause) {
    if (signal?.aborted) throw cause
    throw new ApiError(
      {
        statusCode: 0,
        code: UI_ERRORS.KILN_ERR_UI_NETWORK.code,
        message: 'Cannot reach the Kiln server.',
      },
      { cause },
    )
  }
  let body: unknown
  try {
    body = await response.json()
  } catch (cause) {
    if (signal?.aborted) throw cause
    const { code } = response.ok ? UI_ERRORS.KILN_ERR_UI_BAD_RESPONSE : UI_ERRORS.KILN_ERR_UI_HTTP
    const message = `${path} answered ${response.status} ${response.statusText} without JSON.`
    throw new ApiError({ statusCode: response.status, code, message }, { cause })
  }
  if (response.ok) return body as T
  if (isErrorResponse(body)) throw new ApiError(body)
  throw new ApiError({
    statusCode: response.status,
    code: UI_ERRORS.KILN_ERR_UI_HTTP.code,
    message: `${path} answered ${response.status} ${response.statusText}.`,
  })
}

function windowParams(query: WindowQuery): Params {
  return {
    service: query.service,
    type: query.type,
    from: query.from,
    to: query.to,
    query: query.query,
  }
}

export function fetchServices(signal?: AbortSignal): Promise<ServicesResponse> {
  return getJson('/services', signal)
}

export function fetchFlamegraph(
  query: FlamegraphQuery,
  signal?: AbortSignal,
): Promise<FlamegraphResponse> {
  return getJson(
    apiPath('/flamegraph', { ...windowParams(query), maxNodes: query.maxNodes }),
    signal,
  )
}

export function fetchTimeline(
  query: TimelineQuery,
  signal?: AbortSignal,
): Promise<TimelineResponse> {
  return getJson(apiPath('/timeline', { ...windowParams(query), step: query.step }), signal)
}

export function fetchTop(query: TopQuery, signal?: AbortSignal): Promise<TopResponse> {
  return getJson(
    apiPath('/top', { ...windowParams(query), sort: query.sort, limit: query.limit }),
    signal,
  )
}

export function fetchDiff(query: DiffQuery, signal?: AbortSignal): Promise<DiffResponse> {
  const { service, type, baseFrom, baseTo, compFrom, compTo, baseQuery, compQuery } = query
  return getJson(
    apiPath('/diff', {
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
  return getJson(apiPath('/versions', { service }), signal)
}

export function fetchLabels(query: WindowQuery, signal?: AbortSignal): Promise<LabelsResponse> {
  return getJson(apiPath('/labels', windowParams(query)), signal)
}

export function fetchLabelValues(
  query: WindowQuery & { name: string; limit?: number },
  signal?: AbortSignal,
): Promise<LabelValuesResponse> {
  return getJson(
    apiPath('/label-values', { ...windowParams(query), name: query.name, limit: query.limit }),
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
  return getJson(apiPath('/alerts', { ...query }), signal)
}

export function fetchFindings(query: ListQuery, signal?: AbortSignal): Promise<FindingsResponse> {
  return getJson(apiPath('/findings', { ...query }), signal)
}

/** Each instance's agent in the window: its own cost, sampling rate, failed uploads, drops. */
export function fetchAgents(
  query: { service: string; from: number; to: number },
  signal?: AbortSignal,
): Promise<AgentsResponse> {
  return getJson(apiPath('/agents', { ...query }), signal)
}

/** URL of the window merged into one gzipped pprof (`go tool pprof` reads it). */
export function exportPprofUrl(query: WindowQuery): string {
  return `${API_PREFIX}${apiPath('/export/pprof', windowParams(query))}`
}
