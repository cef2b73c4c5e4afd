import type { FlamegraphQuery, FlamegraphResponse, ServicesResponse } from '@kiln/wire'
import { ApiError, UI_ERRORS, isErrorResponse } from './api-error'

const API_PREFIX = '/api/v1'

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

export function fetchServices(signal?: AbortSignal): Promise<ServicesResponse> {
  return getJson('/services', signal)
}

export function fetchFlamegraph(
  query: FlamegraphQuery,
  signal?: AbortSignal,
): Promise<FlamegraphResponse> {
  const params = new URLSearchParams({
    service: query.service,
    type: query.type,
    from: String(query.from),
    to: String(query.to),
  })
  if (query.maxNodes !== undefined) params.set('maxNodes', String(query.maxNodes))
  return getJson(`/flamegraph?${params.toString()}`, signal)
}
