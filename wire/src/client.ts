import type { AgentsResponse } from './agents.js'
import type { AlertsResponse, FindingsResponse } from './alerts.js'
import type {
  DiffQuery,
  DiffResponse,
  ErrorResponse,
  FlamegraphQuery,
  FlamegraphResponse,
  LabelValuesResponse,
  LabelsResponse,
  ProfileTypesResponse,
  ServicesResponse,
  TimelineQuery,
  TimelineResponse,
  TopQuery,
  TopResponse,
  VersionsResponse,
  WindowQuery,
} from './query.js'
import type { EndpointsDiffResponse, EndpointsResponse, TracesResponse } from './traces.js'

/*
 * The query API's routes and a typed client over them: what the UI, the `kiln` command line and
 * scripts call, so none of them spells a path or a parameter of its own. Runs wherever `fetch`
 * does (browsers, Node 18+).
 */

/** Paths of the query API, under the server's base URL. */
export const API_ROUTES = {
  services: '/api/v1/services',
  profileTypes: '/api/v1/profile-types',
  labels: '/api/v1/labels',
  labelValues: '/api/v1/label-values',
  versions: '/api/v1/versions',
  timeline: '/api/v1/timeline',
  flamegraph: '/api/v1/flamegraph',
  diff: '/api/v1/diff',
  top: '/api/v1/top',
  exportPprof: '/api/v1/export/pprof',
  agents: '/api/v1/agents',
  alerts: '/api/v1/alerts',
  findings: '/api/v1/findings',
  endpoints: '/api/v1/endpoints',
  endpointsDiff: '/api/v1/endpoints/diff',
  traces: '/api/v1/traces',
  open: '/api/v1/open',
} as const

export type ApiRoute = keyof typeof API_ROUTES

/**
 * A time as the API reads it (see `parseTime`): Unix ms as a number, or a string in any of the
 * written forms (`now-1h`, RFC 3339, Unix seconds).
 */
export type TimeParam = number | string

/** A query type with its times widened to {@link TimeParam}. */
export type WithTimes<Q, K extends string = 'from' | 'to'> = Omit<Q, K> & {
  [P in K & keyof Q]?: TimeParam
}

export type WindowParams = WithTimes<WindowQuery> & { traceId?: string; spanIds?: string }
export type FlamegraphParams = WithTimes<FlamegraphQuery> & { traceId?: string; spanIds?: string }
export type TopParams = WithTimes<TopQuery> & { traceId?: string; spanIds?: string }
export type TimelineParams = WithTimes<TimelineQuery>
export type DiffParams = WithTimes<DiffQuery, 'baseFrom' | 'baseTo' | 'compFrom' | 'compTo'>
export interface EndpointsParams {
  service: string
  from?: TimeParam
  to?: TimeParam
  query?: string
}
export interface EndpointsDiffParams {
  service: string
  type?: string
  baseFrom?: TimeParam
  baseTo?: TimeParam
  compFrom?: TimeParam
  compTo?: TimeParam
  baseQuery?: string
  compQuery?: string
}
export interface TracesParams extends WindowParams {
  function?: string
  file?: string
  limit?: number
}
export interface ListParams {
  service?: string
  from?: TimeParam
  to?: TimeParam
  limit?: number
}

/** Any of the parameter types above: their values are strings, numbers or absent. */
type Params = object

/** `path?k=v...`, leaving out `undefined` and empty values. */
export function apiUrl(path: string, params: Params = {}): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params) as [string, unknown][]) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value))
  }
  const query = search.toString()
  return query === '' ? path : `${path}?${query}`
}

/** The server answered with an error (its `{statusCode, code, message}`), or not at all. */
export class KilnApiError extends Error {
  /** HTTP status; 0: no answer (the server is unreachable). */
  readonly status: number
  /** `KILN_ERR_*`; `KILN_ERR_UNREACHABLE` without an answer, `KILN_ERR_HTTP` without a body. */
  readonly code: string
  readonly retryAfterSeconds: number | undefined

  constructor(
    status: number,
    code: string,
    message: string,
    options: { cause?: unknown; retryAfterSeconds?: number | undefined } = {},
  ) {
    super(message, { cause: options.cause })
    this.name = 'KilnApiError'
    this.status = status
    this.code = code
    this.retryAfterSeconds = options.retryAfterSeconds
  }
}

function isErrorBody(body: unknown): body is ErrorResponse {
  const b = body as Partial<ErrorResponse> | null
  return typeof b?.code === 'string' && typeof b.message === 'string'
}

export interface KilnClientOptions {
  /** The server, e.g. `http://localhost:4040` (a trailing `/` is fine; `''`: same origin). */
  baseUrl: string
  /** A token with the `read` scope, sent as `Authorization: Bearer`. */
  token?: string | undefined
  /** `X-Scope-OrgID`, for a multi-tenant server. */
  tenant?: string | undefined
  /** Replaces the global `fetch` (tests, proxies). */
  fetch?: typeof fetch
}

/** The query API, typed: one method per route, each taking that route's parameters. */
export class KilnClient {
  readonly baseUrl: string
  readonly #options: KilnClientOptions

  constructor(options: KilnClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '')
    this.#options = options
  }

  /** The full URL of a route with its parameters. */
  url(route: ApiRoute, params: Params = {}): string {
    return `${this.baseUrl}${apiUrl(API_ROUTES[route], params)}`
  }

  headers(): Record<string, string> {
    const { token, tenant } = this.#options
    return {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(tenant ? { 'x-scope-orgid': tenant } : {}),
    }
  }

  async #get(route: ApiRoute, params: Params, accept: string, signal?: AbortSignal) {
    const url = this.url(route, params)
    let response: Response
    try {
      response = await (this.#options.fetch ?? fetch)(url, {
        headers: { accept, ...this.headers() },
        ...(signal ? { signal } : {}),
      })
    } catch (cause) {
      if (signal?.aborted) throw cause
      const reason = unreachableReason(cause)
      throw new KilnApiError(
        0,
        'KILN_ERR_UNREACHABLE',
        `cannot reach ${this.baseUrl} (${reason})`,
        {
          cause,
        },
      )
    }
    if (response.ok) return response
    const retry = Number(response.headers.get('retry-after'))
    const retryAfterSeconds = Number.isFinite(retry) && retry > 0 ? retry : undefined
    let body: unknown
    try {
      body = await response.json()
    } catch {
      body = undefined
    }
    if (isErrorBody(body)) {
      throw new KilnApiError(response.status, body.code, body.message, { retryAfterSeconds })
    }
    throw new KilnApiError(
      response.status,
      'KILN_ERR_HTTP',
      `${API_ROUTES[route]} answered ${response.status} ${response.statusText}`,
      { retryAfterSeconds },
    )
  }

  async #json<T>(route: ApiRoute, params: Params, signal?: AbortSignal): Promise<T> {
    const response = await this.#get(route, params, 'application/json', signal)
    try {
      return (await response.json()) as T
    } catch (cause) {
      if (signal?.aborted) throw cause
      // A proxy's or another server's page at the URL, not Kiln.
      throw new KilnApiError(
        response.status,
        'KILN_ERR_NOT_JSON',
        `${API_ROUTES[route]} answered ${response.status} with ${response.headers.get('content-type') ?? 'no content type'}, not Kiln's JSON: is ${this.baseUrl} a Kiln server?`,
        { cause },
      )
    }
  }

  services(signal?: AbortSignal): Promise<ServicesResponse> {
    return this.#json('services', {}, signal)
  }
  profileTypes(service: string, signal?: AbortSignal): Promise<ProfileTypesResponse> {
    return this.#json('profileTypes', { service }, signal)
  }
  labels(params: WindowParams, signal?: AbortSignal): Promise<LabelsResponse> {
    return this.#json('labels', params, signal)
  }
  labelValues(
    params: WindowParams & { name: string; limit?: number },
    signal?: AbortSignal,
  ): Promise<LabelValuesResponse> {
    return this.#json('labelValues', params, signal)
  }
  versions(service: string, signal?: AbortSignal): Promise<VersionsResponse> {
    return this.#json('versions', { service }, signal)
  }
  timeline(params: TimelineParams, signal?: AbortSignal): Promise<TimelineResponse> {
    return this.#json('timeline', params, signal)
  }
  flamegraph(params: FlamegraphParams, signal?: AbortSignal): Promise<FlamegraphResponse> {
    return this.#json('flamegraph', params, signal)
  }
  diff(params: DiffParams, signal?: AbortSignal): Promise<DiffResponse> {
    return this.#json('diff', params, signal)
  }
  top(params: TopParams, signal?: AbortSignal): Promise<TopResponse> {
    return this.#json('top', params, signal)
  }
  /** The window merged into one gzipped pprof, and the file name the server suggests. */
  async exportPprof(
    params: WindowParams & { maxStacks?: number },
    signal?: AbortSignal,
  ): Promise<{ bytes: Uint8Array; filename: string | undefined }> {
    const response = await this.#get('exportPprof', params, 'application/octet-stream', signal)
    const disposition = response.headers.get('content-disposition') ?? ''
    const filename = /filename="([^"]+)"/.exec(disposition)?.[1]
    return { bytes: new Uint8Array(await response.arrayBuffer()), filename }
  }
  agents(params: ListParams & { service: string }, signal?: AbortSignal): Promise<AgentsResponse> {
    return this.#json('agents', params, signal)
  }
  alerts(params: ListParams & { status?: string }, signal?: AbortSignal): Promise<AlertsResponse> {
    return this.#json('alerts', params, signal)
  }
  findings(
    params: ListParams & { kind?: string },
    signal?: AbortSignal,
  ): Promise<FindingsResponse> {
    return this.#json('findings', params, signal)
  }
  endpoints(params: EndpointsParams, signal?: AbortSignal): Promise<EndpointsResponse> {
    return this.#json('endpoints', params, signal)
  }
  endpointsDiff(params: EndpointsDiffParams, signal?: AbortSignal): Promise<EndpointsDiffResponse> {
    return this.#json('endpointsDiff', params, signal)
  }
  traces(params: TracesParams, signal?: AbortSignal): Promise<TracesResponse> {
    return this.#json('traces', params, signal)
  }
}

/**
 * Why a request got no answer, as short as the network layer says it: `ECONNREFUSED`,
 * `ENOTFOUND`, `bad port` (fetch refuses ports such as 6000), else the error's message.
 */
function unreachableReason(error: unknown): string {
  let reason = String(error)
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
    if (e.message && e.message !== 'fetch failed') reason = e.message
    e = e.cause
  }
  return reason
}
