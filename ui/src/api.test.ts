import {
  SESSION_PATH,
  TENANT_HEADER,
  type ErrorResponse,
  type FlamegraphQuery,
  type ServicesResponse,
  type SessionResponse,
} from '@kiln/wire'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  apiPath,
  dispositionFileName,
  exportPprofUrl,
  fetchDiff,
  fetchEndpoints,
  fetchEndpointsDiff,
  fetchFlamegraph,
  fetchLabelValues,
  fetchPprof,
  fetchServices,
  fetchSession,
  fetchTimeline,
  fetchTop,
  fetchTraces,
} from './api'
import { ApiError, UI_ERRORS } from './api-error'
import { sessionStore } from './session'

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

/** Like `stubFetch`, keeping the headers of each call. */
function stubFetchWithHeaders(respond: (url: string) => Response) {
  const calls: { url: string; headers: Record<string, string> }[] = []
  vi.stubGlobal('fetch', (url: string, init?: RequestInit) => {
    calls.push({ url, headers: { ...(init?.headers as Record<string, string> | undefined) } })
    return Promise.resolve(respond(url))
  })
  return calls
}

afterEach(() => {
  vi.unstubAllGlobals()
  sessionStore().signOut()
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

describe('trace and endpoint queries', () => {
  const params = (url: string | undefined) =>
    Object.fromEntries(new URL(url ?? '', 'http://kiln.test').searchParams)

  it("narrows the flame graph, the top table and the export to a trace's samples", async () => {
    const calls = stubFetch(() => json({}))
    const trace = { service: 's', type: 'cpu', from: 1, to: 2, traceId: 'ab,cd' }
    await fetchFlamegraph(trace)
    await fetchTop({ ...trace, limit: 3 })
    expect(params(calls[0]).traceId).toBe('ab,cd')
    expect(params(calls[1]).traceId).toBe('ab,cd')
    expect(params(exportPprofUrl({ ...trace, spanIds: 'ef' }))).toMatchObject({
      traceId: 'ab,cd',
      spanIds: 'ef',
    })
  })

  it('asks for the traces of a function, the endpoints and their comparison', async () => {
    const calls = stubFetch(() => json({}))
    await fetchTraces({
      service: 's',
      type: 'wall',
      from: 1,
      to: 2,
      query: '{pod="a"}',
      function: 'render',
      file: '/app/view.js',
      limit: 10,
    })
    await fetchEndpoints({ service: 's', from: 1, to: 2 })
    await fetchEndpointsDiff({
      service: 's',
      type: 'cpu',
      baseFrom: 1,
      baseTo: 2,
      compFrom: 3,
      compTo: 4,
      compQuery: '{v="2"}',
    })
    expect(calls.map((url) => new URL(url, 'http://kiln.test').pathname)).toEqual([
      '/api/v1/traces',
      '/api/v1/endpoints',
      '/api/v1/endpoints/diff',
    ])
    expect(params(calls[0])).toEqual({
      service: 's',
      type: 'wall',
      from: '1',
      to: '2',
      query: '{pod="a"}',
      function: 'render',
      file: '/app/view.js',
      limit: '10',
    })
    expect(params(calls[1])).toEqual({ service: 's', from: '1', to: '2' })
    expect(params(calls[2])).toEqual({
      service: 's',
      type: 'cpu',
      baseFrom: '1',
      baseTo: '2',
      compFrom: '3',
      compTo: '4',
      compQuery: '{v="2"}',
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

describe('session headers', () => {
  it('sends no credential while the tab holds none', async () => {
    const calls = stubFetchWithHeaders(() => json({ services: [] }))
    await fetchServices()
    expect(calls[0]?.headers).toEqual({ accept: 'application/json' })
  })

  it("sends the tab's token and tenant on every API call", async () => {
    sessionStore().setToken('r-acme')
    sessionStore().setTenant('acme')
    const calls = stubFetchWithHeaders((url) =>
      url.includes('export') ? new Response(new Uint8Array([0x1f, 0x8b])) : json({}),
    )
    await fetchServices()
    await fetchTop({ service: 'a', type: 'cpu', from: 1, to: 2 })
    await fetchPprof({ service: 'a', type: 'cpu', from: 1, to: 2 })
    expect(calls).toHaveLength(3)
    for (const call of calls) {
      expect(call.headers.authorization).toBe('Bearer r-acme')
      expect(call.headers[TENANT_HEADER]).toBe('acme')
    }
  })

  it('probes the session with the token given and no tenant', async () => {
    sessionStore().setTenant('acme')
    const body: SessionResponse = {
      readRequiresToken: true,
      multiTenant: true,
      credential: { valid: true, scopes: ['read'], tenants: ['acme'] },
    }
    const calls = stubFetchWithHeaders(() => json(body))
    await expect(fetchSession('r-acme')).resolves.toEqual(body)
    expect(calls[0]?.url).toBe(SESSION_PATH)
    expect(calls[0]?.headers).toEqual({
      accept: 'application/json',
      authorization: 'Bearer r-acme',
    })
    await fetchSession(null)
    expect(calls[1]?.headers).toEqual({ accept: 'application/json' })
  })

  it('keeps the code of a refused credential and the wait of a rate limit', async () => {
    const unauthorized: ErrorResponse = {
      statusCode: 401,
      code: 'KILN_ERR_UNAUTHORIZED',
      error: 'Unauthorized',
      message: 'unknown token',
    }
    stubFetch(() => json(unauthorized, 401))
    expect(await rejection(fetchServices())).toMatchObject({
      statusCode: 401,
      code: unauthorized.code,
    })

    const retryAfter = 17
    stubFetch(
      () =>
        new Response(
          JSON.stringify({ ...unauthorized, statusCode: 429, code: 'KILN_ERR_RATE_LIMITED' }),
          { status: 429, headers: { 'retry-after': String(retryAfter) } },
        ),
    )
    expect(await rejection(fetchServices())).toMatchObject({
      statusCode: 429,
      code: 'KILN_ERR_RATE_LIMITED',
      retryAfterSeconds: retryAfter,
    })
  })
})

describe('fetchPprof', () => {
  it("returns the file and the server's name for it", async () => {
    const bytes = new Uint8Array([0x1f, 0x8b, 8, 0])
    const calls = stubFetch(
      () =>
        new Response(bytes, {
          headers: { 'content-disposition': 'attachment; filename="kiln-api-cpu.pb.gz"' },
        }),
    )
    const query = { service: 'api', type: 'cpu', from: 1, to: 2, query: '{env="prod"}' }
    const file = await fetchPprof(query)
    expect(calls[0]).toBe(exportPprofUrl(query))
    expect(file.fileName).toBe('kiln-api-cpu.pb.gz')
    expect([...new Uint8Array(await file.blob.arrayBuffer())]).toEqual([...bytes])
  })

  it("raises the server's error instead of saving it as the file", async () => {
    const body: ErrorResponse = {
      statusCode: 403,
      code: 'KILN_ERR_TENANT_FORBIDDEN',
      error: 'Forbidden',
      message: 'token may not read tenant globex',
    }
    stubFetch(() => json(body, body.statusCode))
    const error = await rejection(fetchPprof({ service: 'a', type: 'cpu', from: 1, to: 2 }))
    expect(error).toMatchObject({ statusCode: 403, code: body.code, message: body.message })
  })
})

describe('dispositionFileName', () => {
  it('reads quoted, bare and RFC 6266 extended names', () => {
    expect(dispositionFileName('attachment; filename="a b.pb.gz"')).toBe('a b.pb.gz')
    expect(dispositionFileName('attachment; filename=a.pb.gz')).toBe('a.pb.gz')
    expect(
      dispositionFileName(`attachment; filename="x.pb.gz"; filename*=UTF-8''caf%C3%A9.pb.gz`),
    ).toBe('café.pb.gz')
  })

  it('keeps only the base name, and gives null when there is none', () => {
    expect(dispositionFileName('attachment; filename="../../etc/passwd"')).toBe('passwd')
    expect(dispositionFileName('attachment; filename=".."')).toBeNull()
    expect(dispositionFileName('attachment')).toBeNull()
    expect(dispositionFileName(null)).toBeNull()
  })
})
