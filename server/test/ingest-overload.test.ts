import { mkdtempSync, rmSync } from 'node:fs'
import { Agent, request, type ClientRequest } from 'node:http'
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
      maxIngestInFlight: 3,
      rateLimitIngestPerMinute: 0,
      // While an admitted upload is still on its way, the others wait this long in the batch
      // writer for it: their clients give up before.
      insertBatchWaitMs: 2000,
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
    // An upload whose body is still on its way holds a slot, and the batch waits for it.
    const slow = await slowUpload(
      server.url,
      `/ingest?name=slow&from=${from}&until=${from + 10}`,
      body,
    )
    // Two more slots taken by clients that give up while their uploads wait to be stored.
    expect(await Promise.all([post(1, 500), post(2, 500)])).toEqual([0, 0])
    slow.request.destroy()
    // Their uploads are stored all the same; then the server has room again, for three.
    await new Promise((r) => setTimeout(r, 3000))
    expect(await Promise.all([post(3), post(4), post(5)])).toEqual([200, 200, 200])
  })
})

describe('a batch waits for uploads on their way, and only for them', () => {
  let server: RunningServer
  let dataDir: string

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-batch-wait-'))
    // A wait no test outlasts: an answer at all means the batch did not wait it out.
    server = await startServer({
      port: 0,
      dataDir,
      logLevel: 'silent',
      rateLimitIngestPerMinute: 0,
      insertBatchWaitMs: 10 * 60_000,
    })
  })
  afterAll(async () => {
    await server?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('stores an upload at once when no other is on its way, and waits for one that is', async () => {
    const from = Math.floor(NOW / 1000) - 60
    const upload = (i: number) =>
      encodeProfile({
        sampleTypes: [['cpu', 'nanoseconds']],
        samples: [{ stack: ['main', `work${i}`], values: [VALUE * i] }],
      })
    const post = (i: number) =>
      fetch(`${server.url}/ingest?name=waits&from=${from + i}&until=${from + i + 10}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: upload(i),
      }).then((res) => res.status)
    // Alone: answered, not held for the batch wait.
    expect(await post(1)).toBe(200)

    // With an upload admitted and its body still on its way, the next one waits for it...
    const slow = await slowUpload(
      server.url,
      `/ingest?name=waits&from=${from + 2}&until=${from + 12}`,
      upload(2),
    )
    let answered = false
    const fast = post(3).then((status) => ((answered = true), status))
    await new Promise((r) => setTimeout(r, 500))
    expect(answered).toBe(false)
    // ...and both are stored once it has arrived.
    expect(await Promise.all([slow.finish(), fast])).toEqual([200, 200])
    const res = await fetch(
      `${server.url}/api/v1/flamegraph?service=waits&type=cpu&from=${(from - 60) * 1000}&to=${NOW + 60_000}`,
    )
    const graph = (await res.json()) as FlamegraphResponse
    expect(graph.total).toBe(VALUE * (1 + 2 + 3))
  })
})

const MiB = 1024 * 1024

/**
 * A POST of `body` to `path` on `url` that sends its headers and first byte, and waits until
 * the server holds it in flight: an upload declaring all of KILN_MAX_INGEST_IN_FLIGHT_BYTES is
 * shed (429) beside another, and refused as too large (413) alone. `finish()` sends the rest
 * and resolves to the status.
 */
async function slowUpload(
  url: string,
  path: string,
  body: Uint8Array,
): Promise<{ request: ClientRequest; finish(): Promise<number> }> {
  const { hostname: host, port } = new URL(url)
  const slow = request({
    agent: false,
    host,
    port,
    method: 'POST',
    path,
    headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
  })
  const status = new Promise<number>((resolve) => {
    slow.on('response', (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    slow.on('error', () => resolve(0))
  })
  slow.write(body.subarray(0, 1))
  const othersInFlight = () =>
    new Promise<boolean>((resolve) => {
      const probe = request(
        {
          agent: false,
          host,
          port,
          method: 'POST',
          path: '/ingest?name=probe',
          headers: { 'content-type': 'application/octet-stream', 'content-length': 256 * MiB },
        },
        (res) => {
          res.resume()
          resolve(res.statusCode === 429)
          probe.destroy()
        },
      )
      probe.on('error', () => resolve(false))
      probe.flushHeaders()
    })
  while (!(await othersInFlight())) await new Promise((r) => setTimeout(r, 20))
  return {
    request: slow,
    finish: () => {
      slow.end(body.subarray(1))
      return status
    },
  }
}
