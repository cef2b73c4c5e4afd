import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SCHEDULE_PATH, type ServicesResponse } from '@kiln/wire'
import { startServer, type RunningServer } from '../src/index.js'
import type { RouteAccess } from '../src/http/access-plugin.js'
import { encodeProfile } from './helpers/pprof-builder.js'
import { rawRequest, type RawResponse } from './helpers/raw-http.js'

/*
 * What an attacker would try against access control, on a real server: every protected route,
 * reached through every spelling of its path we could think of, without a token, with a token of
 * the wrong scope, and with the right one. The route list comes from the server itself, so a
 * route added later is in the battery without anyone editing it.
 */

const TOKENS = {
  ingestAcme: 'ingest-acme-0123456789',
  readAcme: 'read-acme-0123456789',
  admin: 'admin-0123456789abcdef',
}
const TOKEN_SPEC = [
  `ingest@acme=${TOKENS.ingestAcme}`,
  `read@acme=${TOKENS.readAcme}`,
  `admin=${TOKENS.admin}`,
].join(',')

const NOW = Date.now()
const FROM = NOW - 10 * 60_000
/** Enough query parameters for every read route to answer 200. */
const READ_QUERY = new URLSearchParams({
  service: 'shop',
  type: 'cpu',
  from: String(FROM),
  to: String(NOW),
  compFrom: String(NOW - 5 * 60_000),
  compTo: String(NOW),
  name: 'pod',
}).toString()
const PROFILE = encodeProfile({
  sampleTypes: [['cpu', 'nanoseconds']],
  samples: [{ stack: ['main', 'work'], values: [1_000_000] }],
})
const ALERTS = JSON.stringify({
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'intruder-alert', service: 'shop' },
      startsAt: new Date(FROM).toISOString(),
    },
  ],
})

/** Grafana Pyroscope's Connect API. */
const CONNECT_ROUTE = /^\/(querier|push|settings)\.v1\./

interface Attempt {
  method: string
  path: string
  query: string
  headers: Record<string, string>
  body: Buffer | string | undefined
}

/** The request that makes `route` answer 2xx when the access check lets it through. */
function requestFor(route: RouteAccess, method: string, service: string): Omit<Attempt, 'path'> {
  if (route.url === '/ingest') {
    return {
      method,
      query: `name=${service}&from=${Math.floor(FROM / 1000)}&format=pprof`,
      headers: { 'content-type': 'application/octet-stream' },
      body: PROFILE,
    }
  }
  if (route.url === SCHEDULE_PATH) {
    const checkin = JSON.stringify({ service, instance: 'battery-1' })
    return { method, query: '', headers: { 'content-type': 'application/json' }, body: checkin }
  }
  if (CONNECT_ROUTE.test(route.url)) {
    // Pyroscope's Connect API, JSON as Explore Profiles sends it; Diff needs its two sides.
    const side = {
      profileTypeID: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
      labelSelector: '{}',
    }
    const body = route.url.endsWith('/Diff') ? { left: side, right: side } : {}
    return {
      method,
      query: '',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }
  }
  if (method === 'POST' || method === 'PUT') {
    return { method, query: '', headers: { 'content-type': 'application/json' }, body: ALERTS }
  }
  if (route.url === '/api/v1/open') {
    return { method, query: `service=${service}&at=${FROM}`, headers: {}, body: undefined }
  }
  if (route.url === '/pyroscope/render-diff') {
    const query = `leftQuery=${service}.cpu&rightQuery=${service}.cpu`
    return { method, query, headers: {}, body: undefined }
  }
  if (route.url === '/render' || route.url === '/pyroscope/render') {
    return { method, query: `query=${service}.cpu`, headers: {}, body: undefined }
  }
  return { method, query: READ_QUERY, headers: {}, body: undefined }
}

/** Every way of writing `path` that we want the server to treat as it treats its handler. */
export function pathVariants(path: string): { name: string; path: string }[] {
  const out: { name: string; path: string }[] = []
  const hex = (c: string) => c.charCodeAt(0).toString(16).padStart(2, '0')
  ;[...path].forEach((c, i) => {
    if (c === '/') return
    const code = hex(c)
    out.push({
      name: `%${code} at ${i}`,
      path: `${path.slice(0, i)}%${code.toUpperCase()}${path.slice(i + 1)}`,
    })
    if (/[a-f]/.test(code)) {
      out.push({
        name: `%${code} (lower) at ${i}`,
        path: `${path.slice(0, i)}%${code}${path.slice(i + 1)}`,
      })
    }
  })
  const encodeAll = [...path].map((c) => (c === '/' ? c : `%${hex(c).toUpperCase()}`)).join('')
  const segments = path.split('/').slice(1)
  const last = segments.length - 1
  const join = (parts: string[]) => `/${parts.join('/')}`
  out.push(
    { name: 'all encoded', path: encodeAll },
    { name: 'leading //', path: `/${path}` },
    { name: 'inner //', path: join(segments.map((s, i) => (i === last ? `/${s}` : s))) },
    { name: 'trailing /', path: `${path}/` },
    { name: '/./', path: join(segments.map((s, i) => (i === last ? `./${s}` : s))) },
    { name: '/x/../', path: join(segments.map((s, i) => (i === last ? `x/../${s}` : s))) },
    { name: '%2e%2e', path: join(segments.map((s, i) => (i === last ? `x/%2e%2e/${s}` : s))) },
    { name: 'upper case', path: path.toUpperCase() },
    {
      name: 'capitalised',
      path: join(segments.map((s) => s.charAt(0).toUpperCase() + s.slice(1))),
    },
    { name: ';param at end', path: `${path};a=b` },
    { name: ';param inside', path: join(segments.map((s, i) => (i === 0 ? `${s};x=1` : s))) },
    { name: '%2F slashes', path: `/${segments.join('%2F')}` },
    { name: '%2f slashes', path: `/${segments.join('%2f')}` },
    { name: 'backslashes', path: `/${segments.join('\\')}` },
    { name: '%00 suffix', path: `${path}%00` },
    { name: '%20 suffix', path: `${path}%20` },
    { name: 'fragment', path: `${path}#public` },
  )
  return out
}

/**
 * `path?query`, the query before a `#fragment` as a browser would place it. Node does not cut a
 * fragment sent on the wire: it stays in the last query value, so a throwaway parameter ends the
 * query there.
 */
function withQuery(path: string, query: string): string {
  const [bare = '', fragment] = path.split('#', 2)
  if (fragment === undefined) return query === '' ? bare : `${bare}?${query}`
  return `${bare}?${[query, 'fragment_end=1'].filter(Boolean).join('&')}#${fragment}`
}

const QUERY_TRICKS = [
  { name: 'health in query', query: 'x=/health' },
  { name: 'path in query', query: '/health' },
  { name: 'access in query', query: 'access=public&config.access=public' },
  { name: 'encoded ? in path', suffix: '%3Fx=1' },
  { name: 'empty query', query: '' },
]

describe('access control battery (real server, raw HTTP)', () => {
  let server: RunningServer
  let dataDir: string
  let routes: RouteAccess[]

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-access-'))
    server = await startServer({
      port: 0,
      dataDir,
      logLevel: 'silent',
      insertBatchWaitMs: 1,
      tokens: TOKEN_SPEC,
      authQueries: true,
      multiTenant: true,
      // The battery sends many refused requests from one address on purpose.
      authFailuresPerMinute: 1_000_000,
      rateLimitIngestPerMinute: 0,
      rateLimitQueryPerMinute: 0,
      detectorIntervalMs: 0,
    })
    routes = [...server.app.accessTable]
  })
  afterAll(async () => {
    await server?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const send = (a: Attempt, auth: Record<string, string>): Promise<RawResponse> =>
    rawRequest(
      server.url,
      a.method,
      withQuery(a.path, a.query),
      { 'x-scope-orgid': 'acme', ...a.headers, ...auth },
      a.body,
    )
  const tokenFor = (access: RouteAccess['access']): Record<string, string> => {
    const token = { ingest: TOKENS.ingestAcme, read: TOKENS.readAcme, admin: TOKENS.admin }
    return access === 'public' ? {} : { authorization: `Bearer ${token[access]}` }
  }
  const services = async (tenant: string): Promise<string[]> => {
    const res = await rawRequest(server.url, 'GET', '/api/v1/services', {
      authorization: `Bearer ${TOKENS.admin}`,
      'x-scope-orgid': tenant,
    })
    expect(res.status, res.body).toBe(200)
    return (JSON.parse(res.body) as ServicesResponse).services.map((s) => s.name)
  }

  it('knows every route and what it needs; the public ones are exactly these', () => {
    const publicRoutes = routes
      .filter((r) => r.access === 'public')
      .map((r) => `${r.method} ${r.url}`)
      .sort()
    expect(publicRoutes).toEqual(
      [
        'GET /',
        'HEAD /',
        'GET /index.html',
        'HEAD /index.html',
        'GET /assets/*',
        'HEAD /assets/*',
        'GET /health',
        'HEAD /health',
        'GET /metrics',
        'HEAD /metrics',
        'GET /api/v1/openapi.json',
        'HEAD /api/v1/openapi.json',
        'GET /api/v1/session',
        'HEAD /api/v1/session',
        // Redirects only; it reads the store only for a request that could read anyway.
        'GET /open',
        'HEAD /open',
      ].sort(),
    )
    const byUrl = (url: string) => routes.find((r) => r.url === url)?.access
    expect(byUrl('/ingest')).toBe('ingest')
    expect(byUrl('/api/v1/hooks/alertmanager')).toBe('ingest')
    expect(byUrl('/api/v1/services')).toBe('read')
    expect(byUrl('/api/v1/findings/run')).toBe('admin')
  })

  it('refuses the four requests of the report without a token, and serves them with one', async () => {
    const cases: [string, string, Record<string, string>, string | Buffer | undefined][] = [
      [
        'POST',
        '/%69ngest?name=intruder&format=pprof',
        { 'content-type': 'application/octet-stream' },
        PROFILE,
      ],
      ['POST', '/api/v1/%68ooks/alertmanager', { 'content-type': 'application/json' }, ALERTS],
      ['POST', '/api/v1/findings/%72un', {}, undefined],
      ['GET', '/%61pi/v1/services', {}, undefined],
    ]
    for (const [method, path, headers, body] of cases) {
      const res = await rawRequest(
        server.url,
        method,
        path,
        { ...headers, 'x-scope-orgid': 'acme' },
        body,
      )
      expect(res.status, `${method} ${path}: ${res.body}`).toBe(401)
      expect(JSON.parse(res.body)).toMatchObject({ code: 'KILN_ERR_UNAUTHORIZED' })
      expect(res.headers['www-authenticate']).toBe('Bearer realm="kiln"')
    }
    expect(await services('acme')).not.toContain('intruder')
    const alerts = await rawRequest(server.url, 'GET', '/api/v1/alerts', {
      authorization: `Bearer ${TOKENS.readAcme}`,
    })
    expect(alerts.body).not.toContain('intruder-alert')
  })

  it('answers every spelling of every protected route as the route would: never without the token', async () => {
    const protectedRoutes = routes.filter((r) => r.access !== 'public')
    expect(protectedRoutes.length).toBeGreaterThanOrEqual(15)
    let matched = 0
    for (const route of protectedRoutes) {
      for (const method of route.method.split(',')) {
        const base = requestFor(route, method, 'intruder')
        const attempts: (Attempt & { name: string })[] = [
          ...pathVariants(route.url).map((v) => ({ ...base, ...v })),
          ...QUERY_TRICKS.map((t) => ({
            ...base,
            name: t.name,
            path: `${route.url}${t.suffix ?? ''}`,
            query:
              t.query === undefined ? base.query : [base.query, t.query].filter(Boolean).join('&'),
          })),
        ]
        for (const attempt of attempts) {
          const what = `${method} ${attempt.path} (${attempt.name})`
          const anonymous = await send(attempt, {})
          expect([400, 401, 403, 404], `${what} without a token: ${anonymous.body}`).toContain(
            anonymous.status,
          )
          const wrong = await send(attempt, { authorization: 'Bearer not-a-token-at-all' })
          expect([400, 401, 404], `${what} with an unknown token`).toContain(wrong.status)
          const authorised = await send(
            {
              ...attempt,
              ...requestFor(route, method, 'battery'),
              path: attempt.path,
              query: attempt.query.replace('name=intruder', 'name=battery'),
            },
            tokenFor(route.access),
          )
          if (anonymous.status === 401) {
            // The route exists under this spelling: the right token gets its answer.
            matched++
            expect(
              authorised.status,
              `${what} with its token: ${authorised.body}`,
            ).toBeGreaterThanOrEqual(200)
            expect(authorised.status, `${what} with its token: ${authorised.body}`).toBeLessThan(
              300,
            )
          } else {
            // No route under this spelling: a token changes nothing.
            expect(authorised.status, `${what} with its token: ${authorised.body}`).toBe(
              anonymous.status,
            )
          }
        }
      }
    }
    // Percent-encoding is decoded by the router: those spellings reach the routes.
    expect(matched).toBeGreaterThan(protectedRoutes.length * 5)
    const stored = await services('acme')
    expect(stored).toContain('battery')
    expect(stored).not.toContain('intruder')
  })

  it('refuses a token of the wrong scope on every protected route (403)', async () => {
    for (const route of routes.filter((r) => r.access !== 'public')) {
      const method = route.method.split(',')[0]!
      const wrongScope =
        route.access === 'ingest'
          ? TOKENS.readAcme
          : route.access === 'read'
            ? TOKENS.ingestAcme
            : TOKENS.readAcme
      const res = await send(
        { ...requestFor(route, method, 'intruder'), path: route.url },
        { authorization: `Bearer ${wrongScope}` },
      )
      expect(res.status, `${method} ${route.url}: ${res.body}`).toBe(403)
      if (CONNECT_ROUTE.test(route.url)) {
        // Pyroscope's Connect API answers in Connect's error format, Kiln's code in the message.
        expect(JSON.parse(res.body)).toMatchObject({
          code: 'permission_denied',
          message: expect.stringMatching(/^KILN_ERR_FORBIDDEN: /),
        })
      } else if (method !== 'HEAD') {
        expect(JSON.parse(res.body)).toMatchObject({ code: 'KILN_ERR_FORBIDDEN' })
      }
    }
    expect(await services('acme')).not.toContain('intruder')
  })

  it('answers HEAD, OPTIONS and unknown methods without reaching a handler', async () => {
    const head = await rawRequest(server.url, 'HEAD', '/api/v1/services')
    expect(head.status).toBe(401)
    for (const method of ['OPTIONS', 'PROPFIND', 'TRACE', 'PATCH', 'DELETE', 'PUT', 'KILN']) {
      for (const path of ['/ingest', '/api/v1/services', '/api/v1/findings/run']) {
        const res = await rawRequest(
          server.url,
          method,
          path,
          { origin: 'https://evil.example' },
          undefined,
          { fresh: true },
        )
        expect([400, 404, 405], `${method} ${path}`).toContain(res.status)
        expect(res.headers['access-control-allow-origin']).toBeUndefined()
      }
    }
  })
})
