import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deserialize } from 'node:v8'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { UPLOAD_ATTEMPT_HEADER, UPLOAD_ID_HEADER, type FlamegraphResponse } from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { decodePprof } from '../src/ingest/pprof-decode.js'
import { normalizeProfile } from '../src/ingest/pprof-normalize.js'
import { hoursOf } from '../src/store/hourly-rollup.js'
import { samplesNative } from '../src/store/native.js'
import type { RowBatch } from '../src/store/rows.js'
import { uploadHashOf } from '../src/store/stored-profiles.js'
import { encodeProfile, type SyntheticProfile } from './helpers/pprof-builder.js'

/*
 * The ingest log (KILN_INGEST_LOG): an upload is answered once it is on disk, its rows inserted
 * behind the answer. The flush wait is a minute here, so nothing reaches the store unless a read
 * (or the close) asks for it: what each test sees in the store, it sees because of that.
 * Killed mid-load and replayed: test/e2e/durability.test.ts.
 */

const NOW = Date.now()
const FROM = Math.floor((NOW - 5 * 60_000) / 1000)
const CPU: [string, string][] = [['cpu', 'nanoseconds']]

describe('ingest log', () => {
  let app: FastifyInstance
  let dataDir: string
  const open = (ingestLogFlushMs = 60_000) =>
    buildApp(
      resolveConfig({
        dataDir,
        logLevel: 'silent',
        rateLimitIngestPerMinute: 0,
        ingestLog: true,
        ingestLogFlushMs,
      }),
    )

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-log-'))
    app = await open()
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const send = (service: string, profile: SyntheticProfile, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: `/ingest?name=${service}&from=${FROM}&until=${FROM + 10}`,
      headers: { 'content-type': 'application/octet-stream', ...headers },
      payload: encodeProfile(profile),
    })
  const one = (value: number): SyntheticProfile => ({
    sampleTypes: CPU,
    samples: [{ stack: ['main', 'work'], values: [value] }],
  })
  const total = async (service: string) => {
    const res = await app.inject({
      url: `/api/v1/flamegraph?service=${service}&type=cpu&from=${NOW - 600_000}&to=${NOW + 60_000}`,
    })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<FlamegraphResponse>().total
  }
  /** Rows of the service in a table (samples unless said), read past the log (`direct`: no read barrier). */
  const rowsInStore = async (service: string, table = 'samples') => {
    const result = await app.store.direct.query({
      query: `SELECT count() AS n FROM ${app.store.database}.${table} WHERE service = {service:String}`,
      query_params: { service },
      format: 'JSONEachRow',
    })
    return Number((await result.json<{ n: string }>())[0]!.n)
  }
  const metric = async (name: string) => {
    const res = await app.inject({ url: '/metrics' })
    return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(res.body)?.[1] ?? 0)
  }

  it('answers before the insert, and every read after the answer sees the upload', async () => {
    const res = await send('logged', one(700))
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toEqual({ profiles: 1, samples: 1 })
    expect(await rowsInStore('logged')).toBe(0)
    // Counted as the backlog the admission bound and `kiln_insert_queue_rows` read.
    expect(app.store.pendingRows).toBeGreaterThan(0)
    expect(readdirSync(join(dataDir, 'ingest-log')).some((f) => f.endsWith('.log'))).toBe(true)
    // The query waits for what was acknowledged before it.
    expect(await total('logged')).toBe(700)
    expect(await rowsInStore('logged')).toBe(1)
    expect(app.store.pendingRows).toBe(0)
  })

  it('answers a re-send of an upload still in the log as a duplicate, and stores it once', async () => {
    const before = await metric('kiln_ingest_duplicates_total')
    const id = { [UPLOAD_ID_HEADER]: 'upload-log-0001' }
    const first = await send('pending', one(900), { ...id, [UPLOAD_ATTEMPT_HEADER]: '1' })
    expect(first.statusCode, first.body).toBe(200)
    const resent = await Promise.all(
      [2, 3, 3].map((n) =>
        send('pending', one(900), { ...id, [UPLOAD_ATTEMPT_HEADER]: String(n) }),
      ),
    )
    expect(resent.map((r) => r.statusCode)).toEqual([200, 200, 200])
    expect(await rowsInStore('pending')).toBe(0)
    expect(await total('pending')).toBe(900)
    // And once it is in the store, a re-send is found there.
    expect(
      (await send('pending', one(900), { ...id, [UPLOAD_ATTEMPT_HEADER]: '4' })).statusCode,
    ).toBe(200)
    expect(await total('pending')).toBe(900)
    expect((await metric('kiln_ingest_duplicates_total')) - before).toBe(4)
  })

  it('refuses, before logging it, an upload whose values the store cannot hold', async () => {
    const results = await Promise.all([
      send('poisoned', { sampleTypes: CPU, samples: [{ stack: ['a'], values: [-1] }] }),
      send('poisoned', { sampleTypes: CPU, samples: [{ stack: ['a'], values: [2 ** 60] }] }),
      send('poisoned', {
        sampleTypes: CPU,
        samples: Array.from({ length: 120 }, (_, i) => ({ stack: ['a', `f${i}`], values: [9e18] })),
      }),
      send('healthy', one(5)),
    ])
    for (const bad of results.slice(0, 3)) {
      expect(bad.statusCode, bad.body).toBeGreaterThanOrEqual(400)
      expect(bad.statusCode, bad.body).toBeLessThan(500)
    }
    expect(results[3]!.statusCode).toBe(200)
    expect(await total('poisoned')).toBe(0)
    expect(await total('healthy')).toBe(5)
  })

  it('completes a half-stored upload held as its Native block, without its samples twice', async () => {
    // The writer as the log drives it: samples as their encoded block only. A first attempt is
    // cut between the inserts (a constraint refuses its profiles row, as a store going away
    // between them would); the log's retry then finds the samples stored and writes the rest.
    const { client, database, writer } = app.store
    const uploadKey = 'id\u0000default\u0000resumed\u0000upload-resume-01'
    const prepared = () => {
      const { batch } = normalizeProfile(
        decodePprof(
          encodeProfile({ sampleTypes: CPU, samples: [{ stack: ['r'], values: [77] }] }, false),
        ),
        {
          uploadKey,
          tenant: 'default',
          service: 'resumed',
          labels: {},
          fromMs: FROM * 1000,
          untilMs: FROM * 1000 + 10_000,
          limits: resolveConfig({}),
        },
      )
      const native = {
        block: samplesNative(batch.samples),
        rows: batch.samples.length,
        hours: hoursOf(batch.samples.map((r) => r.time)),
      }
      const upload = {
        tenant: 'default',
        service: 'resumed',
        timeStartMs: batch.profiles[0]!.time_start,
        profileIds: batch.profiles.map((p) => p.profile_id),
        upload: uploadHashOf(uploadKey),
      }
      return { batch: { ...batch, samples: [] }, native, upload }
    }
    const guard = `ALTER TABLE ${database}.profiles ADD CONSTRAINT cut CHECK service != 'resumed'`
    await client.command({ query: guard })
    try {
      const first = prepared()
      await expect(writer.write(first.batch, first.upload, first.native)).rejects.toThrow()
    } finally {
      await client.command({ query: `ALTER TABLE ${database}.profiles DROP CONSTRAINT cut` })
    }
    expect(await rowsInStore('resumed')).toBe(1)
    const retry = prepared()
    expect(
      await writer.write(retry.batch, { ...retry.upload, firstAttempt: false }, retry.native),
    ).toBe('resumed')
    expect(await rowsInStore('resumed')).toBe(1)
    expect(await total('resumed')).toBe(77)
  })

  it('logs a stack row once for uploads of a new service that arrive before the first is inserted', async () => {
    /** The stack rows each record of the log's segments carries, in order. */
    const loggedStackRows = () =>
      readdirSync(join(dataDir, 'ingest-log'))
        .filter((f) => f.endsWith('.log'))
        .sort()
        .flatMap((f) => {
          const bytes = readFileSync(join(dataDir, 'ingest-log', f))
          const rows: number[] = []
          for (let at = 0; at + 12 <= bytes.length;) {
            const end = at + 12 + bytes.readUInt32LE(at + 4)
            const { batch } = deserialize(bytes.subarray(at + 12, end)) as { batch: RowBatch }
            rows.push(batch.stacks.filter((r) => r.service === 'fresh').length)
            at = end
          }
          return rows
        })
    const first = await send('fresh', {
      sampleTypes: CPU,
      samples: [{ stack: ['main', 'a'], values: [3] }],
    })
    expect(first.statusCode, first.body).toBe(200)
    // Its stack is on its way: a later upload of the service needs no row of it.
    expect(app.store.log!.loggedStacks('default', 'fresh')).toBeDefined()
    const second = await send('fresh', {
      sampleTypes: CPU,
      samples: [
        { stack: ['main', 'a'], values: [4] },
        { stack: ['main', 'b'], values: [5] },
      ],
    })
    expect(second.statusCode, second.body).toBe(200)
    expect(loggedStackRows().filter((n) => n > 0)).toEqual([1, 1]) // [main, a]; then [main, b] only
    // In the store, every stack with its frames: the second upload's [main, a] by the first's row.
    const res = await app.inject({
      url: `/api/v1/flamegraph?service=fresh&type=cpu&from=${NOW - 600_000}&to=${NOW + 60_000}`,
    })
    const graph = res.json<FlamegraphResponse>()
    expect(graph.total).toBe(12)
    const main = graph.root.children.find((c) => c.name === 'main')
    expect(Object.fromEntries(main!.children.map((c) => [c.name, c.value]))).toEqual({ a: 7, b: 5 })
    // Settled: nothing of the service is on its way any more.
    expect(app.store.log!.loggedStacks('default', 'fresh')).toBeUndefined()
  })

  it('keeps what it acknowledged while the store is away, answers new uploads 503, and stores each once when it is back', async () => {
    // The store going away after uploads were acknowledged: `profiles` detached, so an insert
    // puts its samples in and finds no profiles table. The retry resumes a half-stored upload.
    const { direct, database, log } = app.store
    const attempt = (id: string, value: number, n = 1) =>
      send('away', one(value), { [UPLOAD_ID_HEADER]: id, [UPLOAD_ATTEMPT_HEADER]: String(n) })
    await direct.command({ query: `DETACH TABLE ${database}.profiles` })
    /** The values of the uploads acknowledged (each must be in the store once, in the end). */
    const acknowledged = new Map<string, number>()
    let refused: Awaited<ReturnType<typeof send>> | undefined
    try {
      const first = await attempt('upload-away-0000', 1000)
      expect(first.statusCode, first.body).toBe(200)
      acknowledged.set('upload-away-0000', 1000)
      // A read asks for the insert now; the store refuses it, and the log keeps the upload.
      void log!.barrier()
      for (let i = 1; i <= 200 && refused === undefined; i++) {
        const id = `upload-away-${String(i).padStart(4, '0')}`
        const res = await attempt(id, i)
        if (res.statusCode === 200) acknowledged.set(id, i)
        else refused = res
        await new Promise((r) => setTimeout(r, 20))
      }
      expect(refused, 'new uploads refused while the store is away').toBeDefined()
      expect(refused!.statusCode, refused!.body).toBe(503)
      expect(refused!.json()).toMatchObject({ code: 'KILN_ERR_STORE_UNAVAILABLE' })
      expect(Number(refused!.headers['retry-after'])).toBeGreaterThanOrEqual(1)
      // A re-send of an upload the log holds is still a duplicate: its client is told it is
      // stored, and it is, below.
      const resent = await attempt('upload-away-0000', 1000, 2)
      expect(resent.statusCode, resent.body).toBe(200)
      expect(await rowsInStore('away')).toBeGreaterThanOrEqual(1) // its samples went in
    } finally {
      await direct.command({ query: `ATTACH TABLE ${database}.profiles` })
    }
    // The store is back: the log's retries (0.5 s, doubling) put in what it holds, once.
    const expected = [...acknowledged.values()].reduce((a, b) => a + b, 0)
    await vi.waitFor(async () => expect(await total('away')).toBe(expected), {
      timeout: 30_000,
      interval: 500,
    })
    expect(await rowsInStore('away')).toBe(acknowledged.size)
    // Its profiles rows too (the timeline reads them): every acknowledged upload, whole.
    expect(await rowsInStore('away', 'profiles')).toBe(acknowledged.size)
    // And new uploads are taken again.
    const after = await attempt('upload-away-9999', 1)
    expect(after.statusCode, after.body).toBe(200)
    expect(await total('away')).toBe(expected + 1)
  })

  it('drops, and is not held up by, an upload the store refuses after its answer', async () => {
    // Rows the checks let through and the store refuses (an operator's constraint): nothing a
    // retry can change. Retried for ever, it would hold every upload behind it and refuse new
    // ones; the log drops it (an error in the server's log) and goes on.
    const { direct, database } = app.store
    const guard = `ALTER TABLE ${database}.profiles ADD CONSTRAINT late CHECK service != 'late'`
    await direct.command({ query: guard })
    try {
      const refused = await send('late', one(8), { [UPLOAD_ID_HEADER]: 'upload-late-0001' })
      expect(refused.statusCode, refused.body).toBe(200) // answered before the store saw it
      await app.store.log!.barrier()
      expect(app.store.pendingRows).toBe(0)
      const after = await send('after-late', one(9))
      expect(after.statusCode, after.body).toBe(200)
      expect(await total('after-late')).toBe(9)
    } finally {
      await direct.command({ query: `ALTER TABLE ${database}.profiles DROP CONSTRAINT late` })
    }
    expect(await rowsInStore('late', 'profiles')).toBe(0)
  })

  it('puts what it holds into the store when the server closes, and leaves no segment', async () => {
    expect((await send('closing', one(42))).statusCode).toBe(200)
    expect(await rowsInStore('closing')).toBe(0)
    await app.close()
    expect(readdirSync(join(dataDir, 'ingest-log')).filter((f) => f.endsWith('.log'))).toEqual([])
    app = await open()
    expect(await rowsInStore('closing')).toBe(1)
    expect(await total('closing')).toBe(42)
  })

  it('inserts what it holds every KILN_INGEST_LOG_FLUSH_MS without a read asking for it', async () => {
    await app.close()
    app = await open(100)
    for (let i = 1; i <= 3; i++) {
      const res = await send('flushed', one(i), { [UPLOAD_ID_HEADER]: `upload-flush-000${i}` })
      expect(res.statusCode, res.body).toBe(200)
      await new Promise((r) => setTimeout(r, 150)) // across flush waits
    }
    // Read past the log (no barrier): only the flush timer can have put them in.
    await vi.waitFor(async () => expect(await rowsInStore('flushed')).toBe(3), {
      timeout: 10_000,
      interval: 100,
    })
    expect(app.store.pendingRows).toBe(0)
  })
})
