import type { ErrorResponse, FlamegraphQuery, ServicesResponse } from '@kiln/wire'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { fetchFlamegraph, fetchServices } from './api'
import { ApiError, UI_ERRORS } from './api-error'

function stubFetch(respond: (url: string) => Response | Promise<Response>) {
  const calls: string[] = []
  vi.stubGlobal('fetch', (url: string) => {
    calls.push(url)
    return Promise.resolve(respond(url))
  })
  return calls
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  })
}

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(ApiError)
  return error as ApiError
}

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('fetchServices', () => {
  it('returns the parsed body', async () => {
    const body: ServicesResponse = { services: [{ name: 'api', types: ['cpu'], lastSeen: 5 }] }
    const calls = stubFetch(() => json(body))
    await expect(fetchServices()).resolves.toEqual(body)
    expect(calls).toEqual(['/api/v1/services'])
  })

  it("raises the server's code and message", async () => {
    const body: ErrorResponse = {
      statusCode: 503,
      code: 'KILN_ERR_STORE_UNAVAILABLE',
      error: 'Service Unavailable',
      message: 'store is down',
    }
    stubFetch(() => json(body, body.statusCode))
    const error = await rejection(fetchServices())
    expect(error).toMatchObject({
      statusCode: body.statusCode,
      code: body.code,
      message: body.message,
    })
  })

  it('wraps network failures, keeping the cause', async () => {
    const cause = new TypeError('fetch failed')
    vi.stubGlobal('fetch', () => Promise.reject(cause))
    const error = await rejection(fetchServices())
    expect(error.code).toBe(UI_ERRORS.KILN_ERR_UI_NETWORK.code)
    expect(error.cause).toBe(cause)
  })

  it('reports non-JSON error pages with their status', async () => {
    const status = 502
    stubFetch(() => new Response('<html>Bad Gateway</html>', { status }))
    const error = await rejection(fetchServices())
    expect(error.code).toBe(UI_ERRORS.KILN_ERR_UI_HTTP.code)
    expect(error.statusCode).toBe(status)
  })

  it('reports non-JSON success bodies as bad responses', async () => {
    stubFetch(() => new Response('<html>index</html>', { status: 200 }))
    const error = await rejection(fetchServices())
    expect(error.code).toBe(UI_ERRORS.KILN_ERR_UI_BAD_RESPONSE.code)
  })
})

describe('fetchFlamegraph', () => {
  it('sends the query as parameters', async () => {
    const query: FlamegraphQuery = { service: 'a&b', type: 'cpu', from: 1000, to: 2000 }
    const calls = stubFetch(() => json({}))
    await fetchFlamegraph(query)
    const url = new URL(calls[0] ?? '', 'http://kiln.test')
    expect(url.pathname).toBe('/api/v1/flamegraph')
    expect(Object.fromEntries(url.searchParams)).toEqual({
      service: query.service,
      type: query.type,
      from: String(query.from),
      to: String(query.to),
    })
  })
})
