import type { ClickHouseClient } from '@clickhouse/client'

export interface SchemaOptions {
  database: string
  retentionDays: number
}

export interface Migration {
  version: number
  name: string
  statements: (o: SchemaOptions) => string[]
}

/**
 * Versioned migrations, applied in order on start and recorded in `schema_migrations`. Never
 * edit a released migration; add the next one.
 *
 * Tables (see DESIGN.md):
 * - `series`: one row per label set (tenant, service, type, sorted labels) under a 64-bit id.
 * - `stacks`: one row per distinct stack per service under a 64-bit hash, frames root first.
 * - `samples`: (series id, time, stack hash, value), the bulk of the data.
 * - `profiles`: one row per ingested profile and type, for the timeline and deploy markers.
 */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    statements: ({ database: db, retentionDays: days }) => [
      `CREATE TABLE IF NOT EXISTS ${db}.series (
        tenant LowCardinality(String),
        service LowCardinality(String),
        type LowCardinality(String),
        series_id UInt64,
        labels Map(LowCardinality(String), String),
        last_seen DateTime('UTC')
      ) ENGINE = ReplacingMergeTree(last_seen)
      ORDER BY (tenant, service, type, series_id)
      TTL last_seen + INTERVAL ${days + 1} DAY`,
      `CREATE TABLE IF NOT EXISTS ${db}.stacks (
        tenant LowCardinality(String),
        service LowCardinality(String),
        stack_hash UInt64,
        functions Array(String) CODEC(ZSTD(3)),
        files Array(LowCardinality(String)) CODEC(ZSTD(3)),
        lines Array(UInt32) CODEC(ZSTD(3)),
        last_seen DateTime('UTC')
      ) ENGINE = ReplacingMergeTree(last_seen)
      ORDER BY (tenant, service, stack_hash)
      TTL last_seen + INTERVAL ${days + 1} DAY`,
      `CREATE TABLE IF NOT EXISTS ${db}.samples (
        tenant LowCardinality(String),
        service LowCardinality(String),
        type LowCardinality(String),
        time DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
        series_id UInt64 CODEC(ZSTD(1)),
        stack_hash UInt64 CODEC(ZSTD(1)),
        value Int64 CODEC(T64, ZSTD(1))
      ) ENGINE = MergeTree
      PARTITION BY toDate(time)
      ORDER BY (tenant, service, type, time, series_id, stack_hash)
      TTL toDateTime(time) + INTERVAL ${days} DAY`,
      `CREATE TABLE IF NOT EXISTS ${db}.profiles (
        tenant LowCardinality(String),
        service LowCardinality(String),
        type LowCardinality(String),
        profile_id UUID,
        series_id UInt64,
        time_start DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
        time_end DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
        version LowCardinality(String),
        labels Map(LowCardinality(String), String),
        total Int64,
        sample_count UInt32,
        spy_name LowCardinality(String),
        received_at DateTime64(3, 'UTC')
      ) ENGINE = MergeTree
      PARTITION BY toDate(time_start)
      ORDER BY (tenant, service, type, time_start)
      TTL toDateTime(time_start) + INTERVAL ${days} DAY`,
    ],
  },
]

/** Create the database and apply every migration not yet recorded. Returns the versions applied. */
export async function migrate(client: ClickHouseClient, options: SchemaOptions): Promise<number[]> {
  const db = options.database
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` })
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (
      version UInt32, name String, applied_at DateTime('UTC') DEFAULT now()
    ) ENGINE = MergeTree ORDER BY version`,
  })
  const result = await client.query({
    query: `SELECT version FROM ${db}.schema_migrations`,
    format: 'JSONEachRow',
  })
  const done = new Set((await result.json<{ version: number }>()).map((r) => Number(r.version)))
  const applied: number[] = []
  for (const migration of MIGRATIONS) {
    if (done.has(migration.version)) continue
    for (const statement of migration.statements(options)) {
      await client.command({ query: statement })
    }
    await client.insert({
      table: `${db}.schema_migrations`,
      values: [{ version: migration.version, name: migration.name }],
      format: 'JSONEachRow',
    })
    applied.push(migration.version)
  }
  return applied
}
