import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ClickHouseClient } from '@clickhouse/client'
import { describe, expect, it } from 'vitest'
import { ConfigError, resolveConfig } from '../src/config/resolve-config.js'
import { createClickHouseClient } from '../src/store/clickhouse-bindings.js'
import {
  CLUSTER_QUERY_SETTINGS,
  REPLICA_PATH,
  SHARDING_KEY,
  MIGRATIONS,
  migrate,
  schemaScript,
  type SchemaOptions,
} from '../src/store/schema.js'

/**
 * A client that records what `migrate` sends and answers as an empty store, or as one whose
 * `schema_migrations` table has the engine `existing`.
 */
function recordingClient(existing?: string) {
  const commands: string[] = []
  const inserts: { table: string; values: unknown; clickhouse_settings?: unknown }[] = []
  const client = {
    command: async ({ query }: { query: string }) => void commands.push(query),
    query: async ({ query }: { query: string }) => ({
      json: async () => (query.includes('system.tables') && existing ? [{ engine: existing }] : []),
    }),
    insert: async (params: { table: string; values: unknown }) => void inserts.push(params),
  }
  return { client: client as unknown as ClickHouseClient, commands, inserts }
}

interface CreateTable {
  table: string
  onCluster: string | undefined
  asTable: string | undefined
  engine: string
  engineArgs: string
  /** Everything after the ENGINE clause: PARTITION BY, ORDER BY, TTL. */
  clauses: string
  sql: string
}

/** The parts of a CREATE TABLE statement as `createTable` writes them. */
function parseCreate(sql: string): CreateTable {
  const head =
    /^CREATE TABLE IF NOT EXISTS (\S+)(?: ON CLUSTER '([^']+)')?(?: AS (\S+))?[\s\S]*?\nENGINE = (\w+)(?:\((.*)\))?\n?([\s\S]*)$/.exec(
      sql,
    )
  if (!head) throw new Error(`not a CREATE TABLE of createTable:\n${sql}`)
  const [, table, onCluster, asTable, engine, engineArgs, clauses] = head
  return {
    table: table!,
    onCluster,
    asTable,
    engine: engine!,
    engineArgs: engineArgs ?? '',
    clauses: clauses!.trim(),
    sql,
  }
}

async function ddl(options: SchemaOptions) {
  const recorded = recordingClient()
  const applied = await migrate(recorded.client, options)
  const tables = recorded.commands
    .filter((s) => s.startsWith('CREATE TABLE'))
    .map((s) => parseCreate(s))
  return { ...recorded, applied, tables }
}

const single: SchemaOptions = { database: 'kiln', retentionDays: 7 }
const VERSIONS = MIGRATIONS.map((m) => m.version)
const DATA_TABLES = [
  'series',
  'stacks',
  'samples',
  'profiles',
  'alerts',
  'findings',
  'samples_1h',
  'agent_stats',
  'agent_checkins',
  'trace_samples',
  'samples_hourly',
]
/** Tables of Kiln's own bookkeeping, with no tenant or service: sharded by their key. */
const META_TABLES: Record<string, string> = {
  schema_migrations: 'version',
  rollups: 'cityHash64(name)',
  rollup_runs: 'cityHash64(bucket)',
  rollup_dirty: 'cityHash64(bucket)',
}
/** Every table in the order the migrations create them. */
const ALL_TABLES = [
  'schema_migrations',
  ...DATA_TABLES.slice(0, 7),
  'rollups',
  ...DATA_TABLES.slice(7),
  'rollup_runs',
  'rollup_dirty',
]
const isMeta = (table: string) => Object.keys(META_TABLES).some((t) => table === `kiln.${t}`)
const cluster: SchemaOptions = { ...single, cluster: 'profiling' }

describe('cluster schema (KILN_CLICKHOUSE_CLUSTER)', () => {
  it('applies every migration ON CLUSTER, creating nothing outside the cluster', async () => {
    const { commands, applied } = await ddl(cluster)
    expect(applied).toEqual(VERSIONS)
    expect(commands[0]).toBe(`CREATE DATABASE IF NOT EXISTS kiln ON CLUSTER 'profiling'`)
    for (const statement of commands.filter((s) => !s.startsWith('INSERT')))
      expect(statement).toContain(` ON CLUSTER 'profiling'`)
  })

  it('adds a column to the Replicated local table, then to the Distributed one over it', async () => {
    const alters = (commands: string[]) => commands.filter((s) => s.startsWith('ALTER TABLE'))
    const plain = alters((await ddl(single)).commands)
    const clustered = alters((await ddl(cluster)).commands)
    expect(plain.length).toBeGreaterThan(0)
    expect(clustered).toEqual(
      plain.flatMap((s) => {
        const [, table, rest] = /^ALTER TABLE (\S+) (.*)$/s.exec(s)!
        const on = ` ON CLUSTER 'profiling' `
        return [`ALTER TABLE ${table}_local${on}${rest}`, `ALTER TABLE ${table}${on}${rest}`]
      }),
    )
    for (const statement of plain) expect(statement).toContain('ADD COLUMN IF NOT EXISTS')
  })

  it('writes the records of a migration through Distributed tables, once on their shard', async () => {
    const { commands, tables } = await ddl(cluster)
    const inserts = commands.filter((s) => s.startsWith('INSERT'))
    // Migration 3's coverage record of its rollup, and migration 9's that retires it.
    expect(inserts).toHaveLength(2)
    for (const insert of inserts) {
      const [, table] = /^INSERT INTO (\S+)/.exec(insert)!
      expect(tables.find((t) => t.table === table)?.engine).toBe('Distributed')
      expect(insert).toContain('SETTINGS insert_distributed_sync = 1')
    }
    for (const insert of (await ddl(single)).commands.filter((s) => s.startsWith('INSERT')))
      expect(insert).not.toContain('insert_distributed_sync')
  })

  it('feeds the hourly rollup by a view on each node, from and to the local tables', async () => {
    const views = (commands: string[]) =>
      commands.filter((s) => s.startsWith('CREATE MATERIALIZED VIEW'))
    const [onCluster] = views((await ddl(cluster)).commands)
    const [plain] = views((await ddl(single)).commands)
    expect(onCluster).toMatch(
      /^CREATE MATERIALIZED VIEW IF NOT EXISTS kiln\.samples_1h_mv ON CLUSTER 'profiling'\nTO kiln\.samples_1h_local AS\n/,
    )
    expect(onCluster).toContain('FROM kiln.samples_local ')
    expect(plain).toMatch(
      /^CREATE MATERIALIZED VIEW IF NOT EXISTS kiln\.samples_1h_mv\nTO kiln\.samples_1h AS\n/,
    )
    expect(plain).toContain('FROM kiln.samples ')
    // Apart from the table names, the same view.
    expect(onCluster!.replace(/_local/g, '').replace(` ON CLUSTER 'profiling'`, '')).toBe(plain)
  })

  it('drops that view on every node when the rollup moves to a schedule (migration 9)', async () => {
    const drops = (commands: string[]) => commands.filter((s) => s.startsWith('DROP VIEW'))
    expect(drops((await ddl(cluster)).commands)).toEqual([
      `DROP VIEW IF EXISTS kiln.samples_1h_mv ON CLUSTER 'profiling'`,
    ])
    expect(drops((await ddl(single)).commands)).toEqual([`DROP VIEW IF EXISTS kiln.samples_1h_mv`])
  })

  it('turns each table into a Replicated <name>_local and a Distributed <name> over it', async () => {
    const plain = (await ddl(single)).tables
    const { tables } = await ddl(cluster)
    // Every table of the single-server schema, and nothing else, in the same order.
    expect(tables.map((t) => t.table)).toEqual(plain.flatMap((t) => [`${t.table}_local`, t.table]))
    expect(plain.map((t) => t.table)).toEqual(ALL_TABLES.map((t) => `kiln.${t}`))
    for (const one of plain) {
      const local = tables.find((t) => t.table === `${one.table}_local`)!
      const distributed = tables.find((t) => t.table === one.table)!
      // Same engine family, columns, partitioning, order and TTL; replicated.
      expect(local.engine).toBe(`Replicated${one.engine}`)
      expect(local.engineArgs).toBe(
        [`'${REPLICA_PATH}'`, `'{replica}'`, ...(one.engineArgs ? [one.engineArgs] : [])].join(
          ', ',
        ),
      )
      expect(local.clauses).toBe(one.clauses)
      expect(local.sql.slice(local.sql.indexOf('('), local.sql.indexOf('\nENGINE'))).toBe(
        one.sql.slice(one.sql.indexOf('('), one.sql.indexOf('\nENGINE')),
      )
      expect(distributed.asTable).toBe(local.table)
      expect(distributed.engine).toBe('Distributed')
      expect(distributed.clauses).toBe('')
      const [clusterName, database, localTable, shardingKey] =
        distributed.engineArgs.split(/, (?![^(]*\))/)
      expect([clusterName, database, localTable]).toEqual([
        `'profiling'`,
        `'kiln'`,
        `'${local.table.split('.')[1]}'`,
      ])
      // A stack and its samples (and the series that select them) share a shard.
      expect(shardingKey).toBe(
        isMeta(one.table) ? META_TABLES[one.table.split('.')[1]!] : SHARDING_KEY,
      )
    }
  })

  it('shards every data table by (tenant, service), columns every one of them has', async () => {
    const { tables } = await ddl(cluster)
    const data = tables.filter((t) => t.engine === 'Distributed' && !isMeta(t.table))
    expect(data).toHaveLength(DATA_TABLES.length)
    expect(SHARDING_KEY).toBe('cityHash64(tenant, service)')
    for (const t of data) {
      expect(t.engineArgs.endsWith(`, ${SHARDING_KEY}`)).toBe(true)
      const local = tables.find((l) => l.table === t.asTable)!
      expect(local.sql).toMatch(/\n {2}tenant LowCardinality\(String\),\n {2}service /)
    }
  })

  it('records a migration only once it is on its shard', async () => {
    const { inserts } = await ddl(cluster)
    expect(inserts).toEqual(
      VERSIONS.map(() =>
        expect.objectContaining({
          table: 'kiln.schema_migrations',
          clickhouse_settings: { insert_distributed_sync: 1 },
        }),
      ),
    )
  })

  it('leaves the single-server schema free of cluster engines', async () => {
    const { commands, tables } = await ddl(single)
    for (const statement of commands)
      expect(statement).not.toMatch(/ON CLUSTER|Replicated|Distributed/)
    expect(Object.fromEntries(tables.map((t) => [t.table, t.engine]))).toEqual({
      'kiln.schema_migrations': 'MergeTree',
      'kiln.series': 'ReplacingMergeTree',
      'kiln.stacks': 'ReplacingMergeTree',
      'kiln.samples': 'MergeTree',
      'kiln.profiles': 'MergeTree',
      'kiln.alerts': 'ReplacingMergeTree',
      'kiln.findings': 'ReplacingMergeTree',
      'kiln.samples_1h': 'AggregatingMergeTree',
      'kiln.rollups': 'MergeTree',
      'kiln.agent_stats': 'MergeTree',
      'kiln.agent_checkins': 'MergeTree',
      'kiln.trace_samples': 'MergeTree',
      'kiln.samples_hourly': 'AggregatingMergeTree',
      'kiln.rollup_runs': 'MergeTree',
      'kiln.rollup_dirty': 'MergeTree',
    })
  })

  it('refuses a database laid out for the other mode, before any DDL', async () => {
    const onSingle = recordingClient('MergeTree')
    await expect(migrate(onSingle.client, cluster)).rejects.toThrow(/single-server tables/)
    const onCluster = recordingClient('Distributed')
    await expect(migrate(onCluster.client, single)).rejects.toThrow(/KILN_CLICKHOUSE_CLUSTER/)
    expect([...onSingle.commands, ...onCluster.commands]).toEqual([])
    // The same layout again is an upgrade: it goes ahead.
    expect(await migrate(recordingClient('Distributed').client, cluster)).toEqual(VERSIONS)
  })

  it('is checked in as deploy/clickhouse/schema-cluster.sql, generated, not edited', () => {
    const file = readFileSync(
      new URL('../../deploy/clickhouse/schema-cluster.sql', import.meta.url),
      'utf8',
    )
    const script = schemaScript({ database: 'kiln', retentionDays: 30, cluster: 'kiln' })
    // Regenerate with `node deploy/clickhouse/generate-schema.mjs` after `pnpm build`.
    expect(file.endsWith(script), 'schema-cluster.sql is stale: regenerate it').toBe(true)
    const header = file.slice(0, file.length - script.length)
    for (const line of header.split('\n')) expect(line).toMatch(/^(-- .*)?$/)
  })
})

describe('cluster setting', () => {
  it('takes a cluster name or a macro and nothing that could break out of the DDL', () => {
    for (const ok of ['kiln', 'prod-eu.1', '{cluster}']) {
      expect(resolveConfig({}, { KILN_CLICKHOUSE_CLUSTER: ok }).clickhouseCluster).toBe(ok)
    }
    for (const bad of [`kiln'`, 'a b', '{cluster', 'x;DROP']) {
      expect(() => resolveConfig({}, { KILN_CLICKHOUSE_CLUSTER: bad })).toThrow(ConfigError)
    }
  })

  it('needs a ClickHouse URL: the embedded store has no cluster', () => {
    const config = resolveConfig({ clickhouseCluster: 'kiln', dataDir: '/nonexistent/kiln' })
    expect(() => createClickHouseClient(config)).toThrow(/KILN_CLICKHOUSE_URL/)
  })

  it('queries a cluster with the settings its sharding relies on, and only a cluster', async () => {
    // A stand-in ClickHouse that records the settings each request carries.
    const seen: URLSearchParams[] = []
    const server = createServer((req, res) => {
      seen.push(new URL(req.url ?? '/', 'http://x').searchParams)
      req.resume().on('end', () => res.end())
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    try {
      for (const clickhouseCluster of ['kiln', undefined]) {
        const client = createClickHouseClient(
          resolveConfig({ clickhouseUrl: `http://127.0.0.1:${port}`, clickhouseCluster }),
        )
        await client.command({ query: 'SELECT 1' })
        await client.close()
      }
    } finally {
      server.close()
    }
    const [onCluster, single] = seen
    for (const [name, value] of Object.entries(CLUSTER_QUERY_SETTINGS)) {
      expect(onCluster!.get(name), name).toBe(String(value))
      expect(single!.has(name), name).toBe(false)
    }
  })
})
