import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { queryFlamegraph } from '../src/query/flamegraph.js'
import { HourlyRollup, type RolledHours } from '../src/store/hourly-rollup.js'
import { ROLLUP } from '../src/store/schema.js'
import { selectRows } from '../src/store/select-rows.js'
import { encodeProfile } from './helpers/pprof-builder.js'

/**
 * The scheduled hourly rollup under hostile and unlucky conditions: a client sending late samples
 * into one hour again and again, and a run that the store finished but the client saw fail.
 * Answers stay exact, the marks stay few, and a failing hour neither repeats every tick nor
 * holds up the hours after it.
 */
const S = 1000
const MIN = 60 * S
const HOUR = 60 * MIN
const MARGIN_MS = 1500

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** One CPU profile of `svc` at `at` (Unix ms), `value` on `stack`; it must be acknowledged. */
async function ingestOne(app: FastifyInstance, at: number, stack: string[], value: number) {
  const res = await app.inject({
    method: 'POST',
    url: `/ingest?name=${encodeURIComponent('svc{instance=a}')}&from=${at}&until=${at + 10 * S}&format=pprof`,
    headers: { 'content-type': 'application/octet-stream' },
    payload: encodeProfile({
      sampleTypes: [['cpu', 'nanoseconds']],
      samples: [{ stack, values: [value] }],
    }),
  })
  expect(res.statusCode, res.body).toBe(200)
}

describe('hourly rollup under a stream of late samples', () => {
  let app: FastifyInstance
  let dataDir: string
  const H0 = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR
  const window = { from: H0, to: H0 + 3 * HOUR }

  const upload = (at: number, value: number, fn = 'work') =>
    ingestOne(app, at, ['main@a.js', `${fn}@a.js`], value)
  const total = async (rolledHours: RolledHours | undefined) =>
    (
      await queryFlamegraph(app.store.client, app.store.database, {
        tenant: 'default',
        service: 'svc',
        type: 'cpu',
        ...window,
        selector: [],
        maxStacks: 100,
        maxNodes: 100,
        rolledHours,
      })
    ).total
  const hours = [0, 1, 2].map((h) => H0 + h * HOUR)
  const marks = async () => {
    const [row] = await selectRows<{ n: string }>(
      app.store.client,
      `SELECT count() AS n FROM ${app.store.database}.${ROLLUP.dirtyTable}`,
      {},
    )
    return Number(row!.n)
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-rollup-adversarial-'))
    app = await buildApp(
      resolveConfig({
        dataDir,
        logLevel: 'silent',
        insertBatchWaitMs: 1,
        rollupIntervalMs: 0,
        rollupMarginMs: MARGIN_MS,
      }),
    )
    for (let k = 0; k < 18; k++) await upload(H0 + k * 10 * MIN + 5 * S, 10)
    // The marks are written as the samples go in: with the ingest log, behind the answers.
    await app.store.log?.barrier()
    await wait(2 * MARGIN_MS + 100)
    expect(await app.store.rollup.run()).toBe(3)
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('writes about one mark per hour and margin however many late samples arrive', async () => {
    const before = await marks()
    const late = 20
    for (let i = 0; i < late; i++) await upload(H0 + HOUR + 17 * MIN + i * S, 1000, 'late')
    // Each upload is marked (one mark may cover the next ones); within one margin, not 20 rows.
    expect((await marks()) - before).toBeLessThanOrEqual(2)
    // Acknowledged late samples are in the answer at once: the hour is read raw.
    const rolled = await app.store.rollup.rolledHours()
    expect(rolled.has(H0 + HOUR)).toBe(false)
    expect(await total(rolled)).toBe(180 + late * 1000)
    // Once the mark has passed, the hour is rolled up again, with the same answer.
    await wait(2 * MARGIN_MS + 100)
    expect(await app.store.rollup.run()).toBe(1)
    const again = await app.store.rollup.rolledHours()
    expect([...again.keys()].sort()).toEqual(hours)
    expect(await total(again)).toBe(180 + late * 1000)
  })

  it('answers with a late sample on every server of a shared store once it is acknowledged', async () => {
    await wait(2 * MARGIN_MS + 100)
    await app.store.rollup.run()
    // A second server on the same store (a ClickHouse server by URL), which read the runs
    // before the late upload and will not read them again for 30 s.
    const other = new HourlyRollup(app.store.client, {
      database: app.store.database,
      latenessMs: 20 * MIN,
      marginMs: MARGIN_MS,
      retentionDays: 30,
      shared: true,
    })
    const before = await other.rolledHours()
    expect([...before.keys()].sort()).toEqual(hours)
    const expected = (await total(before)) + 5000
    await upload(H0 + 2 * HOUR + 3 * MIN, 5000, 'later')
    // Acknowledged by the first server: both read the hour raw, with it.
    expect(await total(await app.store.rollup.rolledHours())).toBe(expected)
    const after = await other.rolledHours()
    expect(after.has(H0 + 2 * HOUR)).toBe(false)
    expect(await total(after)).toBe(expected)
  })
})

describe('hourly rollup when a run fails after the store wrote its rows', () => {
  let app: FastifyInstance
  let dataDir: string
  const H0 = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-rollup-adversarial-fail-'))
    app = await buildApp(
      resolveConfig({
        dataDir,
        logLevel: 'silent',
        insertBatchWaitMs: 1,
        rollupIntervalMs: 0,
        rollupMarginMs: 0,
      }),
    )
    for (let k = 0; k < 18; k++) await ingestOne(app, H0 + k * 10 * MIN, ['main@a.js'], 5)
  })
  afterAll(async () => {
    vi.restoreAllMocks()
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('neither repeats the insert every tick nor holds up the hours after it', async () => {
    // A ClickHouse server finishes an INSERT ... SELECT whose HTTP request timed out
    // (`request_timeout` 30 s; an hour of a large fleet takes longer): the client sees an error,
    // the rows are in. Here: the store does the insert of the first hour, then the call fails.
    const client = app.store.client
    const command = client.command.bind(client)
    vi.spyOn(client, 'command').mockImplementation(async (params) => {
      const result = await command(params)
      const first = params.query_params?.from === H0
      if (params.query.includes(`INSERT INTO ${app.store.database}.${ROLLUP.table}`) && first) {
        throw new Error('Timeout error.')
      }
      return result
    })
    for (let tick = 0; tick < 5; tick++) await app.store.rollup.run().catch(() => undefined)
    // The two later hours are rolled up, whatever became of the first.
    const rolled = [...(await app.store.rollup.rolledHours()).keys()].sort()
    expect(rolled).toEqual(expect.arrayContaining([H0 + HOUR, H0 + 2 * HOUR]))
    // And the first hour's rows were not written again on every tick.
    const [copies] = await selectRows<{ runs: string }>(
      client,
      `SELECT uniqExact(run) AS runs FROM ${app.store.database}.${ROLLUP.table}
        WHERE bucket = toDateTime({h:UInt32}, 'UTC')`,
      { h: H0 / 1000 },
    )
    expect(Number(copies!.runs)).toBeLessThanOrEqual(2)
  })
})
