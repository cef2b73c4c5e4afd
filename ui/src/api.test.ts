import type { ErrorResponse, FlamegraphQuery, ServicesResponse } from '@kiln/wire'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  apiPath,
  exportPprofUrl,
  fetchDiff,
  fetchFlamegraph,
  fetchLabelValues,
  fetchServices,
  fetchTimeline,
  fetchTop,
} from './api'
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

describe('query helpers', () => {
  it('leaves out undefined and empty parameters', () => {
    expect(apiPath('/top', { service: 's', query: '', sort: undefined, limit: 5 })).toBe(
      '/top?service=s&limit=5',
    )
    expect(apiPath('/services')).toBe('/services')
  })

  it('sends both windows, both selectors and the ranking of a diff', async () => {
    const calls = stubFetch(() => json({}))
    await fetchDiff({
      service: 'api',
      type: 'cpu',
      baseFrom: 1,
      baseTo: 2,
      compFrom: 3,
      compTo: 4,
      baseQuery: '{v="1"}',
      compQuery: '{v="2"}',
      rankBy: 'absolute',
      limit: 7,
    })
    const url = new URL(calls[0] ?? '', 'http://kiln.test')
    expect(url.pathname).toBe('/api/v1/diff')
    expect(Object.fromEntries(url.searchParams)).toEqual({
      service: 'api',
      type: 'cpu',
      baseFrom: '1',
      baseTo: '2',
      compFrom: '3',
      compTo: '4',
      baseQuery: '{v="1"}',
      compQuery: '{v="2"}',
      rankBy: 'absolute',
      limit: '7',
    })
  })

  it('asks the timeline for the step and the top table for its sort', async () => {
    const calls = stubFetch(() => json({}))
    await fetchTimeline({ service: 'a', type: 'cpu', from: 1, to: 2, step: 30_000 })
    await fetchTop({ service: 'a', type: 'cpu', from: 1, to: 2, sort: 'total', limit: 9 })
    await fetchLabelValues({ service: 'a', type: 'cpu', from: 1, to: 2, name: 'env' })
    const params = calls.map((c) => new URL(c, 'http://kiln.test'))
    expect(params[0]?.searchParams.get('step')).toBe('30000')
    expect(params[1]?.searchParams.get('sort')).toBe('total')
    expect(params[2]?.pathname).toBe('/api/v1/label-values')
    expect(params[2]?.searchParams.get('name')).toBe('env')
  })

  it('links the pprof export of the same window and selector', () => {
    const url = new URL(
      exportPprofUrl({ service: 'a b', type: 'cpu', from: 1, to: 2, query: '{env="prod"}' }),
      'http://kiln.test',
    )
    expect(url.pathname).toBe('/api/v1/export/pprof')
    expect(Object.fromEntries(url.searchParams)).toEqual({
      service: 'a b',
      type: 'cpu',
      from: '1',
      to: '2',
      query: '{env="prod"}',
    })
  })
})
