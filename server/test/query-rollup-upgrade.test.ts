import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveConfig } from '../src/config/resolve-config.js'
import { queryFlamegraph } from '../src/query/flamegraph.js'
import { RollupCoverage } from '../src/query/rollup.js'
import { createClickHouseClient } from '../src/store/clickhouse-bindings.js'
import {
  MIGRATIONS,
  ROLLUP,
  bootstrapStatements,
  migrate,
  type SchemaOptions,
} from '../src/store/schema.js'

/**
 * A store that held samples before migration 3 created the rollup: the view never saw them, so
 * the hours they are in must keep being read raw, while hours after the recorded coverage are
 * read from the rollup.
 */
const MIN = 60_000
const HOUR = 60 * MIN
const options: SchemaOptions = { database: 'kiln_upgrade', retentionDays: 30 }
const db = options.database
const H0 = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR
const STACK = '11'
const SERIES = '21'

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow' })).json<T>()
}

/** One sample every 10 minutes over `hours` hours from `start`, of `value` each. */
function samples(start: number, hours: number, value: number) {
  return Array.from({ length: hours * 6 }, (_, k) => ({
    tenant: 'default',
    service: 'old',
    type: 'cpu',
    time: start + k * 10 * MIN,
    series_id: SERIES,
    stack_hash: STACK,
    value,
  }))
}

describe('rollup on a store upgraded from migration 2', () => {
  let dataDir: string
  let client: ClickHouseClient
  const before = samples(H0, 3, 5)
  let coverage: number | undefined

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-rollup-upgrade-'))
    client = createClickHouseClient(resolveConfig({ dataDir }))
    // The store as a server of migration 2 left it, with samples in it.
    for (const statement of bootstrapStatements(options)) await client.command({ query: statement })
    for (const migration of MIGRATIONS.filter((m) => m.version <= 2)) {
      for (const statement of migration.statements(options))
        await client.command({ query: statement })
      await client.insert({
        table: `${db}.schema_migrations`,
        values: [{ version: migration.version, name: migration.name }],
        format: 'JSONEachRow',
      })
    }
    const lastSeen = Math.floor(Date.now() / 1000)
    await client.insert({
      table: `${db}.series`,
      values: [
        {
          tenant: 'default',
          service: 'old',
          type: 'cpu',
          series_id: SERIES,
          labels: { pod: 'a' },
          last_seen: lastSeen,
        },
      ],
      format: 'JSONEachRow',
    })
    await client.insert({
      table: `${db}.stacks`,
      values: [
        {
          tenant: 'default',
          service: 'old',
          stack_hash: STACK,
          functions: ['main', 'work'],
          files: ['a.js', 'a.js'],
          lines: [1, 2],
          last_seen: lastSeen,
        },
      ],
      format: 'JSONEachRow',
    })
    await client.insert({ table: `${db}.samples`, values: before, format: 'JSONEachRow' })
  })
  afterAll(async () => {
    await client?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const flamegraph = (from: number, to: number, rollupFrom: number | undefined) =>
    queryFlamegraph(client, db, {
      tenant: 'default',
      service: 'old',
      type: 'cpu',
      from,
      to,
      selector: [],
      rollupFrom,
      maxStacks: 100,
      maxNodes: 100,
    })

  it('records coverage from two hours past the newest sample and the current hour', async () => {
    const started = Date.now()
    // Migration 3 and every one after it.
    const pending = MIGRATIONS.filter((m) => m.version > 2).map((m) => m.version)
    expect(pending[0]).toBe(3)
    expect(await migrate(client, options)).toEqual(pending)
    const finished = Date.now()
    coverage = await new RollupCoverage(client, db).from()
    const newest = Math.max(...before.map((s) => s.time))
    const bound = (now: number) => Math.floor(Math.max(newest, now) / HOUR) * HOUR + 2 * HOUR
    expect(coverage).toBeGreaterThanOrEqual(bound(started))
    expect(coverage).toBeLessThanOrEqual(bound(finished))
    // The view saw none of the older samples.
    const [count] = await rows<{ n: string }>(
      client,
      `SELECT count() AS n FROM ${db}.${ROLLUP.table}`,
    )
    expect(Number(count!.n)).toBe(0)
  })

  it('reads the hours before the coverage raw, with every sample', async () => {
    const window = { from: H0, to: H0 + 3 * HOUR }
    const total = before.reduce((a, s) => a + s.value, 0)
    expect((await flamegraph(window.from, window.to, coverage)).total).toBe(total)
    // What reading those hours from the rollup would have missed.
    expect((await flamegraph(window.from, window.to, 0)).total).toBe(0)
  })

  it('reads the hours after the coverage from the rollup, equal to raw', async () => {
    const after = samples(coverage!, 2, 3)
    await client.insert({ table: `${db}.samples`, values: after, format: 'JSONEachRow' })
    const window = { from: H0, to: coverage! + 2 * HOUR }
    const rolled = await flamegraph(window.from, window.to, coverage)
    expect(rolled).toEqual(await flamegraph(window.from, window.to, undefined))
    expect(rolled.total).toBe([...before, ...after].reduce((a, s) => a + s.value, 0))
    const [count] = await rows<{ n: string }>(
      client,
      `SELECT count() AS n FROM ${db}.${ROLLUP.table} WHERE stack_hash = ${STACK}`,
    )
    expect(Number(count!.n)).toBeGreaterThan(0)
  })

  it('keeps the latest record when the migration runs again', async () => {
    // An interrupted migration 3 runs again: its record now sees samples, and only narrows.
    const record = MIGRATIONS.find((m) => m.version === 3)!
      .statements(options)
      .at(-1)!
    expect(record).toMatch(/^INSERT INTO/)
    await client.command({ query: record })
    const again = await new RollupCoverage(client, db).from()
    expect(again).toBeGreaterThanOrEqual(coverage!)
    expect(await migrate(client, options)).toEqual([])
  })
})
