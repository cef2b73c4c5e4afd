import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { FlamegraphResponse } from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { queryFlamegraph } from '../src/query/flamegraph.js'
import { createClickHouseClient } from '../src/store/clickhouse-bindings.js'
import { HourlyRollup } from '../src/store/hourly-rollup.js'
import {
  LEGACY_ROLLUP,
  MIGRATIONS,
  ROLLUP,
  bootstrapStatements,
  migrate,
  type SchemaOptions,
} from '../src/store/schema.js'
import { ingestUploads, queryString, type Upload } from './helpers/query-fixture.js'

/**
 * The hourly rollup runs on a schedule (migration 9): hours are rolled up once they are due, and
 * samples that reach an hour late keep it raw until it is rolled up again, so a window reads
 * every acknowledged sample at every moment. And a store upgraded from migration 8 (the view of
 * migration 3 on every insert) is rolled up from its raw samples.
 */
const S = 1000
const MIN = 60 * S
const HOUR = 60 * MIN
const MARGIN_MS = 1500

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

function cpu(at: number, stack: string[], value: number): Upload {
  return {
    service: 'late',
    at,
    labels: { instance: 'a' },
    sampleType: ['cpu', 'nanoseconds'],
    samples: [{ stack, value }],
  }
}

describe('hourly rollup on a schedule, with late samples', () => {
  let app: FastifyInstance
  let dataDir: string
  const H0 = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR
  const window = { from: H0, to: H0 + 3 * HOUR }
  // Three hours, an upload every 10 minutes.
  const onTime = Array.from({ length: 18 }, (_, k) =>
    cpu(H0 + k * 10 * MIN + 5 * S, ['main@a.js', 'work@a.js'], 10 + k),
  )
  const onTimeTotal = onTime.reduce((a, u) => a + u.samples[0]!.value, 0)
  const late = cpu(H0 + HOUR + 17 * MIN, ['main@a.js', 'late@b.js'], 999)

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-rollup-late-'))
    app = await buildApp(
      resolveConfig({
        dataDir,
        logLevel: 'silent',
        insertBatchWaitMs: 1,
        rollupIntervalMs: 0,
        rollupMarginMs: MARGIN_MS,
      }),
    )
    await ingestUploads(app, onTime)
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  /** The window's flame graph over HTTP, and the hours it read from the rollup (by run). */
  const flame = async () => {
    const spy = vi.spyOn(app.store.client, 'query')
    try {
      const res = await app.inject({
        url: `/api/v1/flamegraph?${queryString({ service: 'late', type: 'cpu', ...window })}`,
      })
      expect(res.statusCode, res.body).toBe(200)
      const rolled = spy.mock.calls.some(([p]) => p.query.includes(`.${ROLLUP.table}`))
      return { body: res.json<FlamegraphResponse>(), rolled }
    } finally {
      spy.mockRestore()
    }
  }
  const rolledHours = async () => [...(await app.store.rollup.rolledHours()).keys()].sort()
  const hours = [0, 1, 2].map((h) => H0 + h * HOUR)

  it('waits while the marks of samples that came late hold, reading those hours raw', async () => {
    // These hours ended long ago: their samples were marked on the way in.
    expect(await app.store.rollup.run()).toBe(0)
    expect(await rolledHours()).toEqual([])
    const { body, rolled } = await flame()
    expect(rolled).toBe(false)
    expect(body.total).toBe(onTimeTotal)
  })

  it('rolls the hours up once the marks are past, with the same answer', async () => {
    await wait(2 * MARGIN_MS + 100)
    expect(await app.store.rollup.run()).toBe(3)
    expect(await rolledHours()).toEqual(hours)
    const { body, rolled } = await flame()
    expect(rolled).toBe(true)
    expect(body.total).toBe(onTimeTotal)
    expect(await app.store.rollup.run()).toBe(0)
  })

  it('reads an hour raw as soon as a late sample reaches it, then rolls it up again', async () => {
    const before = await app.store.rollup.rolledHours()
    await ingestUploads(app, [late])
    // The other two hours stay rolled up; the late one is read raw, with the new sample.
    expect(await rolledHours()).toEqual([hours[0], hours[2]])
    let answer = await flame()
    expect(answer.rolled).toBe(true)
    expect(answer.body.total).toBe(onTimeTotal + 999)
    expect(await app.store.rollup.run()).toBe(0)

    await wait(2 * MARGIN_MS + 100)
    expect(await app.store.rollup.run()).toBe(1)
    const after = await app.store.rollup.rolledHours()
    expect([...after.keys()].sort()).toEqual(hours)
    expect(after.get(hours[1]!)).not.toBe(before.get(hours[1]!))
    expect(after.get(hours[0]!)).toBe(before.get(hours[0]!))
    answer = await flame()
    expect(answer.body.total).toBe(onTimeTotal + 999)
    // Equal to reading every sample raw, node for node.
    const raw = await queryFlamegraph(app.store.client, app.store.database, {
      tenant: 'default',
      service: 'late',
      type: 'cpu',
      ...window,
      selector: [],
      maxStacks: 1000,
      maxNodes: 1000,
    })
    expect(answer.body).toEqual(JSON.parse(JSON.stringify(raw)))
  })

  it('is read the same by a second server on the same store (runs and marks are stored)', async () => {
    const other = new HourlyRollup(app.store.client, {
      database: app.store.database,
      latenessMs: 20 * MIN,
      marginMs: MARGIN_MS,
      retentionDays: 30,
    })
    expect(await other.rolledHours()).toEqual(await app.store.rollup.rolledHours())
    expect(await other.run()).toBe(0)
  })
})

describe('hourly rollup on a store upgraded from migration 8', () => {
  const options: SchemaOptions = { database: 'kiln_upgrade9', retentionDays: 30 }
  const db = options.database
  const H0 = Math.floor(Date.now() / HOUR) * HOUR - 5 * HOUR
  let dataDir: string
  let client: ClickHouseClient
  /** One sample every 10 minutes over three hours, stored by a server of migration 8. */
  const before = Array.from({ length: 18 }, (_, k) => ({
    tenant: 'default',
    service: 'old',
    type: 'cpu',
    time: H0 + k * 10 * MIN,
    series_id: '21',
    stack_hash: '11',
    value: 5 + k,
    upload: String(k + 1),
  }))
  const count = async (query: string) =>
    Number(
      (await (await client.query({ query, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n,
    )

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-rollup-upgrade-'))
    client = createClickHouseClient(resolveConfig({ dataDir }))
    for (const statement of bootstrapStatements(options)) await client.command({ query: statement })
    for (const migration of MIGRATIONS.filter((m) => m.version <= 8)) {
      for (const statement of migration.statements(options))
        await client.command({ query: statement })
      await client.insert({
        table: `${db}.schema_migrations`,
        values: [{ version: migration.version, name: migration.name }],
        format: 'JSONEachRow',
      })
    }
    await client.insert({ table: `${db}.samples`, values: before, format: 'JSONEachRow' })
  })
  afterAll(async () => {
    await client?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('drops the view on every insert, and sends servers of earlier versions raw', async () => {
    // Migration 8's store: the view rolled the samples up as they went in.
    expect(await count(`SELECT count() AS n FROM ${db}.${LEGACY_ROLLUP.table}`)).toBeGreaterThan(0)
    expect(await migrate(client, options)).toEqual([9])
    expect(
      await count(`SELECT count() AS n FROM system.tables
        WHERE database = '${db}' AND name = '${LEGACY_ROLLUP.view}'`),
    ).toBe(0)
    const legacy = await count(`SELECT count() AS n FROM ${db}.${LEGACY_ROLLUP.table}`)
    await client.insert({
      table: `${db}.samples`,
      values: [{ ...before[0]!, time: H0 + 3 * HOUR, upload: '99' }],
      format: 'JSONEachRow',
    })
    expect(await count(`SELECT count() AS n FROM ${db}.${LEGACY_ROLLUP.table}`)).toBe(legacy)
    // What an earlier server reads as the rollup's coverage: past every sample it will see.
    expect(
      await count(`SELECT toYear(max(complete_from)) AS n FROM ${db}.${LEGACY_ROLLUP.coverageTable}
        WHERE name = '${LEGACY_ROLLUP.table}'`),
    ).toBeGreaterThan(2100)
    expect(await migrate(client, options)).toEqual([])
  })

  it('rolls up the hours stored before, equal to raw', async () => {
    const rollup = new HourlyRollup(client, {
      database: db,
      latenessMs: 20 * MIN,
      marginMs: 0,
      retentionDays: 30,
    })
    expect(await rollup.run()).toBe(4)
    const rolledHours = await rollup.rolledHours()
    expect([...rolledHours.keys()].sort()).toEqual([0, 1, 2, 3].map((h) => H0 + h * HOUR))
    const w = { tenant: 'default', service: 'old', type: 'cpu' as const, selector: [] }
    const read = (r: typeof rolledHours | undefined) =>
      queryFlamegraph(client, db, {
        ...w,
        from: H0,
        to: H0 + 4 * HOUR,
        rolledHours: r,
        maxStacks: 100,
        maxNodes: 100,
      })
    const total = before.reduce((a, s) => a + s.value, 0) + before[0]!.value
    expect((await read(rolledHours)).total).toBe(total)
    expect(await read(rolledHours)).toEqual(await read(undefined))
  })
})
