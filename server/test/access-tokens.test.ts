import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServicesResponse, SessionResponse } from '@kiln/wire'
import { startServer, type KilnOptions, type RunningServer } from '../src/index.js'
import { accessPlugin } from '../src/http/access-plugin.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { encodeProfile } from './helpers/pprof-builder.js'
import { rawRequest } from './helpers/raw-http.js'

const T0 = Date.now() - 5 * 60_000
const WINDOW = `type=cpu&from=${T0 - 60_000}&to=${Date.now() + 60_000}`

const TOKENS = {
  ingestAcme: 'ingest-acme-0123456789',
  ingestGlobex: 'ingest-globex-0123456789',
  readAcme: 'read-acme-0123456789',
  readBoth: 'read-both-0123456789',
  admin: 'admin-0123456789abcdef',
}
const TOKEN_SPEC = [
  `ingest@acme=${TOKENS.ingestAcme}`,
  `ingest@globex=${TOKENS.ingestGlobex}`,
  `read@acme=${TOKENS.readAcme}`,
  `read@acme|globex=${TOKENS.readBoth}`,
  `admin=${TOKENS.admin}`,
].join(',')

/** A profile whose only function names its service, so a leak shows in the tree. */
const profileOf = (fn: string, value: number) =>
  encodeProfile({
    sampleTypes: [['cpu', 'nanoseconds']],
    samples: [{ stack: ['main', fn], values: [value] }],
  })

async function withServer(
  options: KilnOptions,
): Promise<RunningServer & { dispose(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-tokens-'))
  const server = await startServer({
    port: 0,
    dataDir,
    logLevel: 'silent',
    insertBatchWaitMs: 1,
    detectorIntervalMs: 0,
    ...options,
  })
  return {
    ...server,
    async dispose() {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

const bearer = (token: string, tenant?: string): Record<string, string> => ({
  authorization: `Bearer ${token}`,
  ...(tenant === undefined ? {} : { 'x-scope-orgid': tenant }),
})
const basic = (user: string, token: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`,
})

describe('scoped and tenant-bound tokens on a real server', () => {
  let server: Awaited<ReturnType<typeof withServer>>
  const ingest = (service: string, headers: Record<string, string>, value = 1000) =>
    rawRequest(
      server.url,
      'POST',
      `/ingest?name=${service}&from=${Math.floor(T0 / 1000)}&format=pprof`,
      { 'content-type': 'application/octet-stream', ...headers },
      profileOf(`${service}Work`, value),
    )
  const get = (path: string, headers: Record<string, string>) =>
    rawRequest(server.url, 'GET', path, headers)
  const servicesSeen = async (headers: Record<string, string>) => {
    const res = await get('/api/v1/services', headers)
    expect(res.status, res.body).toBe(200)
    return (JSON.parse(res.body) as ServicesResponse).services.map((s) => s.name).sort()
  }

  beforeAll(async () => {
    server = await withServer({ tokens: TOKEN_SPEC, authQueries: true, multiTenant: true })
    expect((await ingest('acme-shop', bearer(TOKENS.ingestAcme))).status).toBe(200)
    expect((await ingest('globex-shop', bearer(TOKENS.ingestGlobex))).status).toBe(200)
  })
  afterAll(async () => server?.dispose())

  it('lets an ingest-only token send, and nothing else', async () => {
    const agent = bearer(TOKENS.ingestAcme)
    for (const path of ['/api/v1/services', `/api/v1/flamegraph?service=acme-shop&${WINDOW}`]) {
      const res = await get(path, agent)
      expect(res.status, path).toBe(403)
      expect(JSON.parse(res.body)).toMatchObject({ code: 'KILN_ERR_FORBIDDEN' })
    }
    const run = await rawRequest(server.url, 'POST', '/api/v1/findings/run', agent)
    expect(run.status).toBe(403)
    const session = JSON.parse((await get('/api/v1/session', agent)).body) as SessionResponse
    expect(session.credential).toEqual({ valid: true, scopes: ['ingest'], tenants: ['acme'] })
  })

  it('lets a read token read, and not send', async () => {
    expect(await servicesSeen(bearer(TOKENS.readAcme))).toEqual(['acme-shop'])
    const res = await ingest('acme-sneaky', bearer(TOKENS.readAcme))
    expect(res.status).toBe(403)
    expect(await servicesSeen(bearer(TOKENS.readAcme))).toEqual(['acme-shop'])
  })

  it('keeps a tenant-bound token in its tenant whatever X-Scope-OrgID or the Basic user says', async () => {
    // Writing into globex with acme's agent token: refused, and nothing lands in either tenant.
    for (const headers of [
      bearer(TOKENS.ingestAcme, 'globex'),
      basic('globex', TOKENS.ingestAcme),
      { ...basic('acme', TOKENS.ingestAcme), 'x-scope-orgid': 'globex' },
    ]) {
      const res = await ingest('planted', headers)
      expect(res.status).toBe(403)
      expect(JSON.parse(res.body)).toMatchObject({ code: 'KILN_ERR_TENANT_FORBIDDEN' })
    }
    // Reading globex with acme's read token: refused.
    for (const headers of [bearer(TOKENS.readAcme, 'globex'), basic('globex', TOKENS.readAcme)]) {
      const res = await get(`/api/v1/flamegraph?service=globex-shop&${WINDOW}`, headers)
      expect(res.status).toBe(403)
    }
    expect(await servicesSeen(bearer(TOKENS.admin, 'globex'))).toEqual(['globex-shop'])
    expect(await servicesSeen(bearer(TOKENS.admin, 'acme'))).toEqual(['acme-shop'])
    // Acme's flame graph holds acme's function only.
    const graph = await get(
      `/api/v1/flamegraph?service=acme-shop&${WINDOW}`,
      basic('acme', TOKENS.readAcme),
    )
    expect(graph.status).toBe(200)
    expect(graph.body).toContain('acme-shopWork')
    expect(graph.body).not.toContain('globex-shopWork')
  })

  it('lets a token bound to two tenants read either, naming one', async () => {
    const none = await get('/api/v1/services', bearer(TOKENS.readBoth))
    expect(none.status).toBe(401)
    expect(JSON.parse(none.body)).toMatchObject({ code: 'KILN_ERR_TENANT_REQUIRED' })
    expect(await servicesSeen(bearer(TOKENS.readBoth, 'acme'))).toEqual(['acme-shop'])
    expect(await servicesSeen(basic('globex', TOKENS.readBoth))).toEqual(['globex-shop'])
    expect((await get('/api/v1/services', bearer(TOKENS.readBoth, 'initech'))).status).toBe(403)
  })

  it('says what a token may do on the public session route, and nothing for a wrong one', async () => {
    const anonymous = JSON.parse((await get('/api/v1/session', {})).body) as SessionResponse
    expect(anonymous).toEqual({ readRequiresToken: true, multiTenant: true, credential: null })
    const both = JSON.parse((await get('/api/v1/session', bearer(TOKENS.readBoth))).body)
    expect(both.credential).toEqual({ valid: true, scopes: ['read'], tenants: ['acme', 'globex'] })
    const admin = JSON.parse((await get('/api/v1/session', bearer(TOKENS.admin))).body)
    expect(admin.credential).toEqual({
      valid: true,
      scopes: ['ingest', 'read', 'admin'],
      tenants: null,
    })
    const wrong = JSON.parse((await get('/api/v1/session', bearer('nope-nope-nope'))).body)
    expect(wrong.credential).toEqual({ valid: false, scopes: [], tenants: null })
  })
})

describe('rate limits', () => {
  let server: Awaited<ReturnType<typeof withServer>>
  const INGEST_LIMIT = 3
  const QUERY_LIMIT = 4
  const FAILURE_LIMIT = 5

  beforeAll(async () => {
    server = await withServer({
      tokens: `ingest+read@acme=${TOKENS.ingestAcme},ingest+read@globex=${TOKENS.ingestGlobex},admin=${TOKENS.admin}`,
      multiTenant: true,
      authQueries: true,
      rateLimitIngestPerMinute: INGEST_LIMIT,
      rateLimitQueryPerMinute: QUERY_LIMIT,
      authFailuresPerMinute: FAILURE_LIMIT,
    })
  })
  afterAll(async () => server?.dispose())

  const ingest = (headers: Record<string, string>) =>
    rawRequest(
      server.url,
      'POST',
      `/ingest?name=limited&from=${Math.floor(T0 / 1000)}`,
      { 'content-type': 'application/octet-stream', ...headers },
      profileOf('limitedWork', 1),
    )

  it('answers 429 with Retry-After past the limit, to that token and tenant only', async () => {
    const acme = bearer(TOKENS.ingestAcme)
    for (let i = 0; i < INGEST_LIMIT; i++) expect((await ingest(acme)).status).toBe(200)
    const over = await ingest(acme)
    expect(over.status).toBe(429)
    expect(JSON.parse(over.body)).toMatchObject({ code: 'KILN_ERR_RATE_LIMITED', statusCode: 429 })
    const retryAfter = Number(over.headers['retry-after'])
    expect(Number.isInteger(retryAfter)).toBe(true)
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    // Another token is unaffected; so is the same (unbound) token in another tenant.
    expect((await ingest(bearer(TOKENS.ingestGlobex))).status).toBe(200)
    expect((await ingest(bearer(TOKENS.admin, 'acme'))).status).toBe(200)
    expect((await ingest(bearer(TOKENS.admin, 'initech'))).status).toBe(200)
    // Queries have their own budget.
    const read = await rawRequest(server.url, 'GET', '/api/v1/services', acme)
    expect(read.status).toBe(200)
  })

  it('limits queries per token and tenant', async () => {
    const globex = bearer(TOKENS.ingestGlobex)
    const statuses: number[] = []
    for (let i = 0; i < QUERY_LIMIT + 2; i++) {
      statuses.push((await rawRequest(server.url, 'GET', '/api/v1/services', globex)).status)
    }
    expect(statuses).toEqual([
      ...Array<number>(QUERY_LIMIT).fill(200),
      ...Array<number>(2).fill(429),
    ])
    expect((await rawRequest(server.url, 'GET', '/health', globex)).status).toBe(200)
  })

  it('slows down guessing: failed authentications per address answer 429', async () => {
    const statuses: number[] = []
    for (let i = 0; i < FAILURE_LIMIT + 2; i++) {
      const res = await rawRequest(
        server.url,
        'GET',
        '/api/v1/services',
        bearer(`guess-${i}-xxxxxxxx`, 'acme'),
      )
      statuses.push(res.status)
    }
    expect(statuses).toEqual([
      ...Array<number>(FAILURE_LIMIT).fill(401),
      ...Array<number>(2).fill(429),
    ])
  })
})

describe('rate limits without tokens', () => {
  let open: Awaited<ReturnType<typeof withServer>>
  beforeAll(async () => {
    open = await withServer({ multiTenant: true, rateLimitQueryPerMinute: 2 })
  })
  afterAll(async () => open?.dispose())

  it('gives an address one budget, whatever tenant it claims', async () => {
    const statuses: number[] = []
    for (const tenant of ['a', 'b', 'c', 'd']) {
      const res = await rawRequest(open.url, 'GET', '/api/v1/services', { 'x-scope-orgid': tenant })
      statuses.push(res.status)
    }
    expect(statuses).toEqual([200, 200, 429, 429])
  })
})

describe('browser-facing headers', () => {
  let server: Awaited<ReturnType<typeof withServer>>
  beforeAll(async () => {
    server = await withServer({})
  })
  afterAll(async () => server?.dispose())

  it('sends a CSP, nosniff and no framing on the page and the API, and no CORS headers', async () => {
    for (const path of ['/', '/api/v1/services', '/api/v1/nowhere']) {
      const res = await rawRequest(server.url, 'GET', path, { origin: 'https://evil.example' })
      const csp = String(res.headers['content-security-policy'])
      expect(csp, path).toContain("script-src 'self'")
      expect(csp).toContain("frame-ancestors 'none'")
      expect(csp).toContain("object-src 'none'")
      expect(csp).not.toContain('unsafe-inline')
      expect(res.headers['x-content-type-options']).toBe('nosniff')
      expect(res.headers['x-frame-options']).toBe('DENY')
      expect(res.headers['access-control-allow-origin']).toBeUndefined()
      expect(res.headers['access-control-allow-credentials']).toBeUndefined()
    }
  })
})

describe('declarations and configuration', () => {
  it('refuses to start with a route that declares no access', async () => {
    const app = Fastify({ logger: false })
    await app.register(accessPlugin, { config: resolveConfig({ logLevel: 'silent' }) })
    await expect(
      app.register(async (child) => {
        child.get('/forgotten', async () => 'open?')
      }),
    ).rejects.toThrow(/GET \/forgotten declares no access/)
    await app.close()
  })

  it('refuses tokens bound to tenants without multi-tenant mode, and bad token entries', async () => {
    await expect(withServer({ tokens: `read@acme=${TOKENS.readAcme}` })).rejects.toThrow(
      /need KILN_MULTI_TENANT=true/,
    )
    await expect(withServer({ tokens: `write=${TOKENS.readAcme}` })).rejects.toThrow(
      /unknown scope "write"/,
    )
  })

  it('reads tokens from KILN_TOKENS_FILE, and keeps KILN_AUTH_TOKENS working with every scope', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-tokens-file-'))
    const file = join(dir, 'tokens')
    writeFileSync(file, `# the UI\nread=${TOKENS.readAcme}\n`)
    const server = await withServer({
      tokensFile: file,
      authTokens: 'legacy-token-123',
      authQueries: true,
    })
    try {
      const read = await rawRequest(server.url, 'GET', '/api/v1/services', bearer(TOKENS.readAcme))
      expect(read.status).toBe(200)
      const legacy = bearer('legacy-token-123')
      const sent = await rawRequest(
        server.url,
        'POST',
        `/ingest?name=legacy&from=${Math.floor(T0 / 1000)}`,
        { 'content-type': 'application/octet-stream', ...legacy },
        profileOf('legacyWork', 5),
      )
      expect(sent.status).toBe(200)
      expect((await rawRequest(server.url, 'GET', '/api/v1/services', legacy)).status).toBe(200)
      expect((await rawRequest(server.url, 'POST', '/api/v1/findings/run', legacy)).status).toBe(
        200,
      )
    } finally {
      await server.dispose()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('tokens never reach the log', () => {
  it('writes neither a good nor a bad token at trace level, nor in a configuration error', async () => {
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
    const dataDir = mkdtempSync(join(tmpdir(), 'kiln-tokens-log-'))
    const good = 'good-secret-4242424242'
    const bad = 'bad-secret-1313131313'
    const child = spawn(process.execPath, [cli], {
      env: {
        ...process.env,
        KILN_PORT: '0',
        KILN_DATA_DIR: dataDir,
        KILN_LOG_LEVEL: 'trace',
        KILN_TOKENS: `admin=${good}`,
        KILN_AUTH_QUERIES: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listen line: ${output}`)), 30_000)
        child.stdout.on('data', () => {
          const match = /Kiln listening on (http:\/\/[^"\s]+)/.exec(output)
          if (match) {
            clearTimeout(timer)
            resolve(match[1]!)
          }
        })
      })
      expect((await rawRequest(url, 'GET', '/api/v1/services', bearer(good))).status).toBe(200)
      expect((await rawRequest(url, 'GET', '/api/v1/services', bearer(bad))).status).toBe(401)
      expect((await rawRequest(url, 'GET', '/api/v1/session', basic('x', bad))).status).toBe(200)
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(output).toContain('incoming request')
      expect(output).not.toContain(good)
      expect(output).not.toContain(bad)
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
      rmSync(dataDir, { recursive: true, force: true })
    }
    const failed = spawn(process.execPath, [cli], {
      env: { ...process.env, KILN_PORT: '0', KILN_TOKENS: `write=${good},read@a b=${bad}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let error = ''
    failed.stderr.on('data', (chunk: Buffer) => (error += chunk.toString()))
    const code = await new Promise((resolve) => failed.once('exit', resolve))
    expect(code).toBe(1)
    expect(error).toContain('unknown scope')
    expect(error).not.toContain(good)
    expect(error).not.toContain(bad)
  })
})
