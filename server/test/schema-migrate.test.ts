import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveConfig } from '../src/config/resolve-config.js'
import { createClickHouseClient } from '../src/store/clickhouse-bindings.js'
import {
  EMBEDDED_MERGE_SETTINGS,
  EMBEDDED_MERGE_TABLES,
  MIGRATIONS,
  bootstrapStatements,
  migrate,
  tuneEmbeddedMerges,
  type SchemaOptions,
} from '../src/store/schema.js'

const options: SchemaOptions = { database: 'kiln_migrate', retentionDays: 9 }

async function rows<T>(client: ClickHouseClient, query: string, params = {}): Promise<T[]> {
  const result = await client.query({ query, query_params: params, format: 'JSONEachRow' })
  return result.json<T>()
}

describe('migrations on a fresh chDB store', () => {
  let dataDir: string
  let client: ClickHouseClient
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-migrate-'))
    client = createClickHouseClient(resolveConfig({ dataDir }))
  })
  afterAll(async () => {
    await client?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('creates every table, as the design says, and records each migration', async () => {
    expect(await migrate(client, options)).toEqual(MIGRATIONS.map((m) => m.version))
    const tables = await rows<{
      name: string
      engine: string
      sorting_key: string
      partition_key: string
      engine_full: string
    }>(
      client,
      `SELECT name, engine, sorting_key, partition_key, engine_full FROM system.tables
        WHERE database = {db:String} ORDER BY name`,
      { db: options.database },
    )
    const byName = Object.fromEntries(tables.map((t) => [t.name, t]))
    expect(Object.keys(byName)).toEqual([
      'agent_checkins',
      'agent_stats',
      'alerts',
      'findings',
      'profiles',
      'rollup_dirty',
      'rollup_runs',
      'rollups',
      'samples',
      'samples_1h',
      'samples_hourly',
      'schema_migrations',
      'series',
      'stacks',
      'trace_samples',
    ])
    expect(byName.samples).toMatchObject({
      engine: 'MergeTree',
      partition_key: 'toDate(time)',
      sorting_key: 'tenant, service, type, time, series_id, stack_hash',
    })
    expect(byName.profiles).toMatchObject({
      engine: 'MergeTree',
      partition_key: 'toDate(time_start)',
      sorting_key: 'tenant, service, type, time_start',
    })
    // The hourly rollup is written on a schedule (migration 9): no view on `samples` any more.
    expect(byName.samples_hourly).toMatchObject({
      engine: 'AggregatingMergeTree',
      partition_key: 'toDate(bucket)',
      sorting_key: 'tenant, service, type, bucket, run, series_id, stack_hash',
    })
    expect(byName.rollup_runs!.engine).toBe('MergeTree')
    expect(byName.rollup_dirty!.engine).toBe('MergeTree')
    expect(byName.series).toMatchObject({
      engine: 'ReplacingMergeTree',
      sorting_key: 'tenant, service, type, series_id',
    })
    expect(byName.stacks).toMatchObject({
      engine: 'ReplacingMergeTree',
      sorting_key: 'tenant, service, stack_hash',
    })
    expect(byName.agent_stats).toMatchObject({
      engine: 'MergeTree',
      partition_key: 'toDate(time)',
      sorting_key: 'tenant, service, time, host, pid',
    })
    expect(byName.agent_checkins).toMatchObject({
      engine: 'MergeTree',
      sorting_key: 'tenant, service, time, instance',
    })
    expect(byName.trace_samples).toMatchObject({
      engine: 'MergeTree',
      partition_key: 'toDate(time)',
      sorting_key: 'tenant, service, type, trace_id, time',
    })
    // Retention is the table TTL: samples and profiles after `retentionDays`, the series and
    // stacks they point at one day later.
    const days = options.retentionDays
    expect(byName.samples!.engine_full).toContain(`toIntervalDay(${days})`)
    expect(byName.profiles!.engine_full).toContain(`toIntervalDay(${days})`)
    expect(byName.samples_hourly!.engine_full).toContain(`toIntervalDay(${days})`)
    expect(byName.agent_stats!.engine_full).toContain(`toIntervalDay(${days})`)
    // Samples of traces: 7 days by default, never past the retention.
    expect(byName.trace_samples!.engine_full).toContain(`toIntervalDay(${Math.min(7, days)})`)
    expect(byName.series!.engine_full).toContain(`toIntervalDay(${days + 1})`)
    expect(byName.stacks!.engine_full).toContain(`toIntervalDay(${days + 1})`)

    const recorded = await rows<{ version: number }>(
      client,
      `SELECT version FROM ${options.database}.schema_migrations ORDER BY version`,
    )
    expect(recorded.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version))
    // Migration 3's rollup is retired: its coverage record starts past 2100, so that a server of
    // an earlier version reads every window raw instead of a rollup that no view fills.
    const coverage = await rows<{ name: string; year: number }>(
      client,
      `SELECT name, toYear(max(complete_from)) AS year FROM ${options.database}.rollups
        GROUP BY name`,
    )
    expect(coverage).toEqual([{ name: 'samples_1h', year: 2105 }])
  })

  it("sets the embedded store's merge policy on the tables every upload writes, again and again", async () => {
    for (let start = 0; start < 2; start++) await tuneEmbeddedMerges(client, options.database)
    const tables = await rows<{ name: string; create_table_query: string }>(
      client,
      `SELECT name, create_table_query FROM system.tables WHERE database = {db:String}`,
      { db: options.database },
    )
    for (const { name, create_table_query: ddl } of tables) {
      for (const [setting, value] of Object.entries(EMBEDDED_MERGE_SETTINGS)) {
        const set = ddl.includes(`${setting} = ${value}`)
        expect(set, name).toBe((EMBEDDED_MERGE_TABLES as readonly string[]).includes(name))
      }
    }
  })

  it('is idempotent: a second start applies nothing and records nothing', async () => {
    expect(await migrate(client, options)).toEqual([])
    const [count] = await rows<{ n: string }>(
      client,
      `SELECT count() AS n FROM ${options.database}.schema_migrations`,
    )
    expect(Number(count!.n)).toBe(MIGRATIONS.length)
  })

  it('will not turn a single-server database into a cluster one', async () => {
    await expect(migrate(client, { ...options, cluster: 'kiln' })).rejects.toThrow(
      /single-server tables/,
    )
    expect(await migrate(client, options)).toEqual([])
  })

  it('writes cluster DDL that ClickHouse parses (the parser of this chDB build)', async () => {
    const cluster: SchemaOptions = { ...options, cluster: '{cluster}' }
    const statements = [
      ...bootstrapStatements(cluster),
      ...MIGRATIONS.flatMap((m) => m.statements(cluster)),
    ]
    expect(statements.length).toBeGreaterThan(0)
    for (const statement of statements) {
      // formatQuery parses without executing: no Keeper or remote_servers needed.
      const [formatted] = await rows<{ f: string }>(client, 'SELECT formatQuery({q:String}) AS f', {
        q: statement,
      })
      // DDL runs on every node; a migration's record is an INSERT through a Distributed table.
      expect(formatted!.f).toMatch(statement.startsWith('INSERT') ? /^INSERT INTO/ : /ON CLUSTER/)
    }
  })
})
