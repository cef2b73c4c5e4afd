import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../src/logger.js'
import { emptyStats } from '../src/stats.js'
import { UploadQueue, type UploadQueueOptions } from '../src/upload-queue.js'

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
