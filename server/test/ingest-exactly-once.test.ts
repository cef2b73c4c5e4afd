import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  UPLOAD_ATTEMPT_HEADER,
  UPLOAD_ID_HEADER,
  type FlamegraphResponse,
  type TimelineResponse,
} from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { encodeProfile } from './helpers/pprof-builder.js'

/** An upload re-sent (a retry after a lost answer, a restart) is stored once. */

const NOW = Date.now()
const FROM = Math.floor((NOW - 5 * 60_000) / 1000)
const VALUE = 4200

// With the ingest log (the default) and without it (uploads answered once inserted).
describe.each([true, false])('exactly once (ingest log: %s)', (ingestLog) => {
  let app: FastifyInstance
  let dataDir: string
  const open = () =>
    buildApp(
      resolveConfig({
        dataDir,
        logLevel: 'silent',
        insertBatchWaitMs: 5,
        rateLimitIngestPerMinute: 0,
        ingestLog,
      }),
    )

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-once-'))
    app = await open()
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const body = (value = VALUE) =>
    encodeProfile({
      sampleTypes: [
        ['cpu', 'nanoseconds'],
        ['alloc_space', 'bytes'],
      ],
      samples: [{ stack: ['main', 'work'], values: [value, 2 * value] }],
    })
  const send = (
    service: string,
    payload: Buffer,
    headers: Record<string, string> = {},
    from = FROM,
  ) =>
    app.inject({
      method: 'POST',
      url: `/ingest?name=${service}&from=${from}&until=${from + 10}`,
      headers: { 'content-type': 'application/octet-stream', ...headers },
      payload,
    })
  const total = async (service: string, type = 'cpu') => {
    const res = await app.inject({
      url: `/api/v1/flamegraph?service=${service}&type=${type}&from=${NOW - 600_000}&to=${NOW + 60_000}`,
    })
    return res.json<FlamegraphResponse>().total
  }

  it('recognises a Pyroscope-style re-send by its content', async () => {
    const payload = body()
    for (let i = 0; i < 3; i++) {
      const res = await send('resent', payload)
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toEqual({ profiles: 2, samples: 1 })
    }
    expect(await total('resent')).toBe(VALUE)
    expect(await total('resent', 'alloc_space')).toBe(2 * VALUE)
    // The same bytes for another interval are another upload.
    expect((await send('resent', payload, {}, FROM + 10)).statusCode).toBe(200)
    expect(await total('resent')).toBe(2 * VALUE)
  })

  it("recognises the agent's retries by their upload id, even sent at once", async () => {
    const headers = { [UPLOAD_ID_HEADER]: 'upload-0001-aaaa' }
    const results = await Promise.all(
      Array.from({ length: 5 }, () => send('retried', body(), headers)),
    )
    expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200])
    expect((await send('retried', body(), headers)).statusCode).toBe(200)
    expect(await total('retried')).toBe(VALUE)
    // Another id is another upload.
    expect(
      (await send('retried', body(), { [UPLOAD_ID_HEADER]: 'upload-0002-bbbb' })).statusCode,
    ).toBe(200)
    expect(await total('retried')).toBe(2 * VALUE)
    const bad = await send('retried', body(), { [UPLOAD_ID_HEADER]: 'no good' })
    expect(bad.statusCode).toBe(400)
  })

  // The store refusing between two inserts is the answer's only when the answer waits for them
  // (with the log, the answer comes first; its resume: ingest-log.test.ts).
  if (!ingestLog) {
    it('completes a half-stored upload without storing its samples twice', async () => {
      // The store going away between the two inserts, for real: `profiles` detached, so the
      // samples insert of the batch succeeds and the profiles insert finds no table. (A first
      // attempt, so that no lookup of `profiles` comes before the inserts.)
      const { client, database } = app.store
      await client.command({ query: `DETACH TABLE ${database}.profiles` })
      const headers = { [UPLOAD_ID_HEADER]: 'upload-half-0001' }
      try {
        const first = await send('halved', body(), { ...headers, [UPLOAD_ATTEMPT_HEADER]: '1' })
        expect(first.statusCode, first.body).toBe(503)
      } finally {
        await client.command({ query: `ATTACH TABLE ${database}.profiles` })
      }
      // The samples are in (the flame graph reads them), the profiles rows are not.
      expect(await total('halved')).toBe(VALUE)
      const retry = await send('halved', body(), headers)
      expect(retry.statusCode, retry.body).toBe(200)
      expect(await total('halved')).toBe(VALUE)
      expect(await total('halved', 'alloc_space')).toBe(2 * VALUE)
      // Now whole: its profiles rows are in (the timeline of a whole service reads them).
      const timeline = await app.inject({
        url: `/api/v1/timeline?service=halved&type=cpu&from=${NOW - 600_000}&to=${NOW + 60_000}`,
      })
      const values = timeline.json<TimelineResponse>().values.filter((v) => v !== null)
      expect(values).toEqual([VALUE])
      expect((await send('halved', body(), headers)).statusCode).toBe(200)
      expect(await total('halved')).toBe(VALUE)
      const metrics = await app.inject({ url: '/metrics' })
      expect(metrics.body).toMatch(/^kiln_ingest_resumed_total 1$/m)
    })
  }

  it("skips the store's lookup for an agent's first attempt, and still stores it once", async () => {
    const id = { [UPLOAD_ID_HEADER]: 'upload-first-0001' }
    const attempt = (n: number) => ({ ...id, [UPLOAD_ATTEMPT_HEADER]: String(n) })
    const duplicates = async () => {
      const metrics = await app.inject({ url: '/metrics' })
      return Number(/^kiln_ingest_duplicates_total (\d+)$/m.exec(metrics.body)?.[1] ?? 0)
    }
    const before = await duplicates()
    const first = await send('first-attempt', body(), attempt(1))
    expect(first.statusCode, first.body).toBe(200)
    // Its retries are looked up; a first attempt replayed to the same server is caught by what
    // the server stored recently.
    for (const headers of [attempt(2), attempt(1), id]) {
      expect((await send('first-attempt', body(), headers)).statusCode).toBe(200)
    }
    expect(await total('first-attempt')).toBe(VALUE)
    expect((await duplicates()) - before).toBe(3)
  })

  // Likewise.
  if (!ingestLog) {
    it('completes a half-stored first attempt when the agent retries it', async () => {
      const { client, database } = app.store
      await client.command({ query: `DETACH TABLE ${database}.profiles` })
      const id = { [UPLOAD_ID_HEADER]: 'upload-half-first' }
      try {
        const first = await send('half-first', body(), { ...id, [UPLOAD_ATTEMPT_HEADER]: '1' })
        expect(first.statusCode, first.body).toBe(503)
      } finally {
        await client.command({ query: `ATTACH TABLE ${database}.profiles` })
      }
      const retry = await send('half-first', body(), { ...id, [UPLOAD_ATTEMPT_HEADER]: '2' })
      expect(retry.statusCode, retry.body).toBe(200)
      expect(await total('half-first')).toBe(VALUE)
    })
  }

  it('still recognises a re-send after the server restarted', async () => {
    const headers = { [UPLOAD_ID_HEADER]: 'upload-restart-1' }
    expect((await send('restarted', body(), headers)).statusCode).toBe(200)
    await app.close()
    app = await open()
    expect((await send('restarted', body(), headers)).statusCode).toBe(200)
    expect((await send('restarted', body())).statusCode).toBe(200) // content key: new upload
    expect(await total('restarted')).toBe(2 * VALUE)
    const metrics = await app.inject({ url: '/metrics' })
    expect(metrics.body).toMatch(/^kiln_ingest_duplicates_total 1$/m)
  })
})
