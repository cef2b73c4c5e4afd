import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TENANT_HEADER } from '@kiln/wire'
import { afterEach, describe, expect, it } from 'vitest'
import { asciiJson } from '../src/agent.js'
import { silentLogger } from '../src/logger.js'
import { emptyStats } from '../src/stats.js'
import { MIN_RETRY_DELAY_MS, UploadQueue, type UploadQueueOptions } from '../src/upload-queue.js'

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))))
})

/** A real HTTP server on port 0 playing the Kiln server. */
async function listen(handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => handler(req, res, Buffer.concat(chunks)))
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function queue(serverUrl: string, overrides: Partial<UploadQueueOptions> = {}) {
  const stats = emptyStats(10_000, 1)
  const q = new UploadQueue({
    serverUrl,
    uploadTimeoutMs: 2000,
    maxQueueProfiles: 10,
    maxQueueBytes: 1 << 20,
    maxRetries: 5,
    retryBaseMs: 10,
    logger: silentLogger,
    stats,
    ...overrides,
  })
  return { q, stats }
}

const item = (n: number) => ({
  query: new URLSearchParams({ name: 'svc', n: String(n) }),
  body: Buffer.from(`profile-${n}`),
  attempts: 0,
})

describe('UploadQueue against a real HTTP server', () => {
  it('retries after 503 and delivers once the server accepts', async () => {
    const received: string[] = []
    let calls = 0
    const url = await listen((req, res, body) => {
      calls++
      if (calls <= 2) return res.writeHead(503).end('{"code":"KILN_ERR_STORE_UNAVAILABLE"}')
      received.push(`${req.headers.authorization} ${body.toString()}`)
      res.writeHead(200).end('{}')
    })
    const { q, stats } = queue(url, { token: 's3cret' })
    q.enqueue(item(1))
    await q.drain(5000)
    expect(received).toEqual(['Bearer s3cret profile-1'])
    expect(stats).toMatchObject({
      uploadsOk: 1,
      uploadsFailed: 2,
      uploadsRetried: 2,
      profilesDropped: 0,
      queuedProfiles: 0,
    })
  })

  it('never throws when the server is unreachable, and counts the drop after its retries', async () => {
    const url = await listen((_req, res) => res.end())
    await new Promise((r) => servers.pop()!.close(r)) // the port is now closed
    const { q, stats } = queue(url, { maxRetries: 2 })
    expect(() => q.enqueue(item(1))).not.toThrow()
    await q.drain(5000)
    expect(stats).toMatchObject({
      uploadsOk: 0,
      uploadsFailed: 3,
      uploadsRetried: 2,
      profilesDropped: 1,
    })
    expect(stats.lastError).toMatch(/ECONNREFUSED/)
  })

  it('does not retry a profile the server refuses as bad input', async () => {
    const url = await listen((_req, res) =>
      res.writeHead(400).end('{"code":"KILN_ERR_PPROF_INVALID"}'),
    )
    const { q, stats } = queue(url)
    q.enqueue(item(1))
    await q.drain(5000)
    expect(stats).toMatchObject({ uploadsFailed: 1, uploadsRetried: 0, profilesDropped: 1 })
  })

  it('stays bounded while the server hangs, dropping the oldest queued profiles', async () => {
    const held: ServerResponse[] = []
    const url = await listen((_req, res) => held.push(res))
    const max = 3
    const { q, stats } = queue(url, { maxQueueProfiles: max, uploadTimeoutMs: 60_000 })
    const total = 10
    for (let i = 0; i < total; i++) q.enqueue(item(i))
    expect(q.size).toBe(max)
    expect(stats.profilesDropped).toBe(total - max)
    // The upload in flight (the first) is not among the dropped; the newest are kept.
    await expect.poll(() => held.length).toBe(1)
    held[0]!.writeHead(200).end()
    await expect.poll(() => held.length).toBe(2)
    held.forEach((r) => r.writableEnded || r.writeHead(200).end())
  })

  it('bounds the queue by bytes too', async () => {
    const url = await listen(() => {}) // never answers
    const { q, stats } = queue(url, { maxQueueBytes: 1024, uploadTimeoutMs: 60_000 })
    for (let i = 0; i < 5; i++) q.enqueue({ ...item(i), body: Buffer.alloc(400) })
    expect(stats.queuedBytes).toBeLessThanOrEqual(1024)
    expect(stats.profilesDropped).toBe(5 - q.size)
    q.discard()
  })
})

/**
 * Node's timers run off a loop clock cached at the start of each tick, so a timer may fire a
 * few ms early as `Date.now()` sees it: waits are checked to within this.
 */
const TIMER_SLACK_MS = 20

/**
 * A server that answers the first request `status` with `Retry-After: retryAfter()` and every
 * later one 200, noting when each request arrived and the bodies it accepted.
 */
async function throttlingServer(status: number, retryAfter: () => string) {
  const arrivals: number[] = []
  const accepted: string[] = []
  const url = await listen((_req, res, body) => {
    arrivals.push(Date.now())
    if (arrivals.length === 1) {
      return res.writeHead(status, { 'retry-after': retryAfter() }).end('{"code":"over limit"}')
    }
    accepted.push(body.toString())
    res.writeHead(200).end('{}')
  })
  return { url, arrivals, accepted, gapMs: () => arrivals[1]! - arrivals[0]! }
}

describe('UploadQueue honours Retry-After', () => {
  it('waits the delta-seconds of a 429 before the next attempt, however short the backoff', async () => {
    const retryAfterSeconds = 1
    const server = await throttlingServer(429, () => String(retryAfterSeconds))
    const { q, stats } = queue(server.url, { retryBaseMs: 1 })
    q.enqueue(item(1))
    await q.drain(10_000)
    expect(server.accepted).toEqual([item(1).body.toString()])
    expect(server.gapMs()).toBeGreaterThanOrEqual(retryAfterSeconds * 1000 - TIMER_SLACK_MS)
    expect(stats).toMatchObject({ uploadsOk: 1, uploadsFailed: 1, uploadsRetried: 1 })
    // Throttling shows in the stats the server receives.
    expect(stats.lastError).toBe(
      `HTTP 429 (Retry-After: ${retryAfterSeconds}): {"code":"over limit"}`,
    )
  })

  it('waits until the HTTP-date of a 503', async () => {
    // HTTP-dates have whole seconds: rounding up keeps the date at least 2 s ahead.
    let retryAtMs = 0
    const server = await throttlingServer(503, () => {
      retryAtMs = Math.ceil(Date.now() / 1000) * 1000 + 2000
      return new Date(retryAtMs).toUTCString()
    })
    const { q } = queue(server.url, { retryBaseMs: 1 })
    q.enqueue(item(1))
    await q.drain(10_000)
    expect(server.accepted).toEqual([item(1).body.toString()])
    expect(server.arrivals[1]).toBeGreaterThanOrEqual(retryAtMs - TIMER_SLACK_MS)
  })

  it('caps a huge Retry-After at maxRetryAfterMs', async () => {
    const maxRetryAfterMs = 500
    const server = await throttlingServer(503, () => String(24 * 60 * 60)) // a day
    const { q } = queue(server.url, { retryBaseMs: 1, maxRetryAfterMs })
    q.enqueue(item(1))
    const deadlineMs = 10 * maxRetryAfterMs
    await q.drain(deadlineMs)
    // Delivered within the drain's deadline, far short of a day, yet not before the cap.
    expect(server.accepted).toEqual([item(1).body.toString()])
    expect(server.gapMs()).toBeGreaterThanOrEqual(maxRetryAfterMs - TIMER_SLACK_MS)
    expect(server.gapMs()).toBeLessThan(deadlineMs)
  })

  it('holds back the next profile too when the throttled one is dropped', async () => {
    const retryAfterSeconds = 1
    const server = await throttlingServer(429, () => String(retryAfterSeconds))
    const { q, stats } = queue(server.url, { retryBaseMs: 1, maxRetries: 0 })
    q.enqueue(item(1))
    q.enqueue(item(2))
    await q.drain(10_000)
    expect(server.accepted).toEqual([item(2).body.toString()])
    expect(server.gapMs()).toBeGreaterThanOrEqual(retryAfterSeconds * 1000 - TIMER_SLACK_MS)
    expect(stats).toMatchObject({ uploadsOk: 1, profilesDropped: 1, uploadsRetried: 0 })
  })

  it('falls back to the backoff when Retry-After is not valid', async () => {
    const server = await throttlingServer(503, () => 'soon')
    const { q } = queue(server.url, { retryBaseMs: 1 })
    q.enqueue(item(1))
    await q.drain(10_000)
    expect(server.accepted).toEqual([item(1).body.toString()])
    // A valid Retry-After waits whole seconds; a 1 ms backoff base retries within a few ms.
    expect(server.gapMs()).toBeLessThan(1000)
  })

  it('lets a final drain cut the wait short', async () => {
    const server = await throttlingServer(429, () => String(10 * 60))
    const { q, stats } = queue(server.url, { retryBaseMs: 1 })
    q.enqueue(item(1))
    await expect.poll(() => stats.uploadsRetried).toBe(1)
    const started = Date.now()
    await q.drain(5000)
    expect(server.accepted).toEqual([item(1).body.toString()])
    expect(Date.now() - started).toBeLessThan(5000)
  })
})

describe('UploadQueue never asks again at once', () => {
  it('waits between attempts even when the server says Retry-After: 0', async () => {
    const arrivals: number[] = []
    const refusals = 3
    const url = await listen((_req, res) => {
      arrivals.push(Date.now())
      if (arrivals.length <= refusals) return res.writeHead(429, { 'retry-after': '0' }).end()
      res.writeHead(200).end('{}')
    })
    const { q, stats } = queue(url, { retryBaseMs: 1 })
    q.enqueue(item(1))
    await expect.poll(() => stats.uploadsOk, { timeout: 10_000 }).toBe(1)
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!)
    expect(gaps).toHaveLength(refusals)
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(MIN_RETRY_DELAY_MS - TIMER_SLACK_MS)
  })

  it("survives a server whose error text is not ASCII, though it goes into every upload's header", async () => {
    const bodies: string[] = []
    const url = await listen((req, res) => {
      if (bodies.length === 0) {
        bodies.push('refused')
        return res.writeHead(500).end('💥 überlastet')
      }
      bodies.push(String(req.headers['x-kiln-agent-stats']))
      res.writeHead(200).end('{}')
    })
    const stats = emptyStats(10_000, 1)
    const { q } = queue(url, {
      maxRetries: 1,
      retryBaseMs: 1,
      stats,
      headers: () => ({ 'x-kiln-agent-stats': asciiJson(stats) }),
    })
    q.enqueue(item(1))
    await q.drain(5000)
    expect(stats).toMatchObject({ uploadsOk: 1, profilesDropped: 0 })
    // Escaped on the wire, the same text once parsed.
    expect(JSON.parse(bodies[1]!).lastError).toBe('HTTP 500: 💥 überlastet')
  })
})

describe('UploadQueue tenant', () => {
  it('sends X-Scope-OrgID when a tenant is set, and not otherwise', async () => {
    const tenants: (string | string[] | undefined)[] = []
    const url = await listen((req, res) => {
      tenants.push(req.headers[TENANT_HEADER])
      res.writeHead(200).end('{}')
    })
    const tenant = 'acme-prod.eu_1'
    const withTenant = queue(url, { tenant }).q
    withTenant.enqueue(item(1))
    await withTenant.drain(5000)
    const without = queue(url).q
    without.enqueue(item(2))
    await without.drain(5000)
    expect(tenants).toEqual([tenant, undefined])
  })
})
