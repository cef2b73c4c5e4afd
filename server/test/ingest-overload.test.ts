import { mkdtempSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FlamegraphResponse } from '@kiln/wire'
import { startServer, type RunningServer } from '../src/index.js'
import { encodeProfile } from './helpers/pprof-builder.js'

/*
 * Many more concurrent senders than the server admits: the excess is answered 429 with
 * Retry-After at once, every admitted upload is stored, and each exactly once. Loopback only,
 * bounded in count. The same at 1,024 senders against the server as its own process, with its
 * memory read: test/e2e/ingest-overload.test.ts.
 */

const SENDERS = 256
const IN_FLIGHT = 8
const VALUE = 1000
const NOW = Date.now()

describe('ingest under overload', () => {
  let server: RunningServer
  let dataDir: string

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-overload-'))
    server = await startServer({
      port: 0,
      dataDir,
      logLevel: 'silent',
      maxIngestInFlight: IN_FLIGHT,
      rateLimitIngestPerMinute: 0,
    })
  })
  afterAll(async () => {
    await server?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('sheds the excess with 429 + Retry-After and stores every admitted upload once', async () => {
    const body = encodeProfile({
      sampleTypes: [['cpu', 'nanoseconds']],
      samples: [{ stack: ['main', 'work'], values: [VALUE] }],
    })
    const { hostname, port } = new URL(server.url)
    const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
    const send = (i: number) =>
      new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
        const from = Math.floor(NOW / 1000) - 600 + i // each upload its own: none is a re-send
        const req = request(
          {
            agent,
            host: hostname,
            port,
            method: 'POST',
            path: `/ingest?name=flood&from=${from}&until=${from + 10}`,
            headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
          },
          (res) => {
            res.resume()
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }),
            )
          },
        )
        req.on('error', reject)
        req.end(body)
      })
    const results = await Promise.all(Array.from({ length: SENDERS }, (_, i) => send(i)))
    const ok = results.filter((r) => r.status === 200).length
    const shed = results.filter((r) => r.status === 429)
    expect(
      ok + shed.length,
      JSON.stringify(results.filter((r) => ![200, 429].includes(r.status))),
    ).toBe(SENDERS)
    expect(ok).toBeGreaterThanOrEqual(IN_FLIGHT)
    expect(shed.length).toBeGreaterThan(0)
    for (const r of shed) expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1)

    const graph = (await (
      await fetch(
        `${server.url}/api/v1/flamegraph?service=flood&type=cpu&from=${NOW - 700_000}&to=${NOW + 60_000}`,
      )
    ).json()) as FlamegraphResponse
    expect(graph.total).toBe(ok * VALUE)
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    const counted = [...metrics.matchAll(/^kiln_ingest_shed_total\{reason="\w+"\} (\d+)$/gm)]
      .map((m) => Number(m[1]))
      .reduce((a, b) => a + b, 0)
    expect(counted).toBe(shed.length)
    // Once the flood is over, the server admits again.
    expect((await send(0)).status).toBe(200)
  })
})

describe('ingest admission after clients give up', () => {
  let server: RunningServer
  let dataDir: string

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-overload-abandon-'))
    server = await startServer({
      port: 0,
      dataDir,
      logLevel: 'silent',
      maxIngestInFlight: 2,
      rateLimitIngestPerMinute: 0,
      // Each admitted upload waits this long in the batch writer: its client gives up before.
      // Without the ingest log, whose answer does not wait for the writer.
      insertBatchWaitMs: 2000,
      ingestLog: false,
    })
  })
  afterAll(async () => {
    await server?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  /*
   * A client that times out after sending its whole body (as the agent does after
   * KILN_UPLOAD_TIMEOUT_MS) gets neither onRequestAbort (only while the body arrives) nor
   * onResponse (no answer is written): its slot comes back when its upload is stored or
   * refused, or KILN_MAX_INGEST_IN_FLIGHT such clients would shed every later upload for good.
   */
  it('gives a slot back when its client gives up while the upload is stored', async () => {
    const body = encodeProfile({
      sampleTypes: [['cpu', 'nanoseconds']],
      samples: [{ stack: ['main', 'work'], values: [VALUE] }],
    })
    const { hostname, port } = new URL(server.url)
    const from = Math.floor(NOW / 1000) - 60
    const post = (i: number, giveUpAfterMs?: number) =>
      new Promise<number>((resolve) => {
        const req = request(
          {
            agent: false,
            host: hostname,
            port,
            method: 'POST',
            path: `/ingest?name=abandoned&from=${from + i}&until=${from + i + 10}`,
            headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
          },
          (res) => {
            res.resume()
            res.on('end', () => resolve(res.statusCode ?? 0))
          },
        )
        req.on('error', () => resolve(0))
        if (giveUpAfterMs !== undefined) setTimeout(() => req.destroy(), giveUpAfterMs)
        req.end(body)
      })
    // Both slots taken by clients that give up while their uploads wait to be stored.
    expect(await Promise.all([post(1, 500), post(2, 500)])).toEqual([0, 0])
    // Their uploads are stored all the same; then the server has room again.
    await new Promise((r) => setTimeout(r, 3000))
    expect(await post(3)).toBe(200)
  })
})
