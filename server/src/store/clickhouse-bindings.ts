import { randomUUID } from 'node:crypto'
import { mkdirSync, rmSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { createChdbConnection } from 'chdb/connection'
import type { KilnConfig } from '../config/config-schema.js'
import { ConfigError } from '../config/resolve-config.js'
import { CLUSTER_QUERY_SETTINGS } from './schema.js'

type ChdbCompatible = NonNullable<Parameters<typeof createClient>[0]>['connection']

/**
 * The one place that knows which ClickHouse engine runs underneath. Embedded (default): chDB in
 * this process, data under `dataDir`. At scale: a ClickHouse server or cluster by URL. Both are
 * driven by the same `@clickhouse/client` and the same SQL.
 */
export function createClickHouseClient(config: KilnConfig): ClickHouseClient {
  // 64-bit ids (stack hashes, series ids) must survive JSON: quote them as strings.
  const clickhouse_settings = { output_format_json_quote_64bit_integers: 1 } as const
  if (config.clickhouseCluster !== undefined && !config.clickhouseUrl) {
    throw new ConfigError([
      'clickhouseCluster (KILN_CLICKHOUSE_CLUSTER): needs clickhouseUrl (KILN_CLICKHOUSE_URL); the embedded store is one node',
    ])
  }
  if (config.clickhouseUrl) {
    return createClient({
      url: config.clickhouseUrl,
      username: config.clickhouseUser ?? 'default',
      password: config.clickhousePassword ?? '',
      clickhouse_settings:
        config.clickhouseCluster === undefined
          ? clickhouse_settings
          : { ...clickhouse_settings, ...CLUSTER_QUERY_SETTINGS },
      request_timeout: 30_000,
      application: 'kiln',
    })
  }
  const path = resolve(config.dataDir)
  mkdirSync(path, { recursive: true })
  // chdb 3.4 types its connection against `@clickhouse/client-common` 1.23.0 while
  // `@clickhouse/client` 1.23.1 bundles its own copy of the same interfaces; they are the same
  // contract, so the cast only bridges two copies of one type.
  const connection = createChdbConnection({ path }) as unknown as ChdbCompatible
  return createClient({ connection, clickhouse_settings })
}

/** Formats the writer sends rows in. */
export type RowFormat = 'TabSeparated' | 'JSONEachRow' | 'Native'

/** Inserts rows given in one of the {@link RowFormat}s. */
export type RowInserter = (
  table: string,
  columns: readonly string[],
  format: RowFormat,
  body: string | Buffer,
) => Promise<void>

/**
 * How the batch writer hands rows to the store. A ClickHouse server gets them as the body of
 * the insert's HTTP request. chDB gets them in a file it reads (`INSERT ... FROM INFILE`): its
 * inline path (the rows appended to the statement, all `@clickhouse/client`'s chDB connection
 * has) parses several times slower, measured at 2.2 µs a sample row against 0.6 from a file
 * (bench/README.md, "Ingest speed"). The files live in `<dataDir>/.inserts` for the length of
 * one insert.
 *
 * `clients`: one, or several to insert side by side. A chDB connection runs one query at a
 * time, but connections to the same data directory run theirs in parallel: the writer's
 * concurrent flushes (KILN_INSERT_CONCURRENCY) each get a connection of their own
 * (`createInsertClients`), and never wait behind a read either. Each insert goes to the
 * client with the fewest inserts running.
 */
export function createRowInserter(
  config: KilnConfig,
  clients: ClickHouseClient | readonly ClickHouseClient[],
): RowInserter {
  const pool = [clients].flat().map((client) => ({ client, running: 0 }))
  const leastBusy = () => pool.reduce((best, c) => (c.running < best.running ? c : best))
  const run = async <T>(work: (client: ClickHouseClient) => Promise<T>): Promise<T> => {
    const chosen = leastBusy()
    chosen.running++
    try {
      return await work(chosen.client)
    } finally {
      chosen.running--
    }
  }
  if (config.clickhouseUrl) {
    return (table, columns, format, body) =>
      run(async (client) => {
        // `exec` sends the text as it is, whatever the format (`insert` wants rows as objects
        // for the JSON formats); the answer has no rows, but is read to its end so that the
        // connection is reused.
        const result = await client.exec({
          query: `INSERT INTO ${table} (${columns.join(', ')}) FORMAT ${format}`,
          values: Readable.from([body], { objectMode: false }),
        })
        for await (const _ of result.stream) {
          // nothing to read
        }
      })
  }
  const dir = join(resolve(config.dataDir), '.inserts')
  // Files a killed process left: chDB holds its directory for one process at a time, so none
  // of these is in use.
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  let next = 0
  // Unique to this inserter: two apps in one process may share a data directory (tests do).
  const prefix = `${process.pid}-${randomUUID().slice(0, 8)}`
  const extensions: Record<RowFormat, string> = {
    TabSeparated: 'tsv',
    JSONEachRow: 'json',
    Native: 'native',
  }
  return async (table, columns, format, body) => {
    const file = join(dir, `${prefix}-${next++}.${extensions[format]}`)
    await writeFile(file, body)
    try {
      await run((client) =>
        client.command({
          query: `INSERT INTO ${table} (${columns.join(', ')}) FROM INFILE ${sqlString(file)} FORMAT ${format}`,
        }),
      )
    } finally {
      await rm(file, { force: true })
    }
  }
}

/**
 * The clients the batch writer inserts through: `client` itself for a ClickHouse server (its
 * HTTP agent holds several connections already), else `count` chDB connections of their own to
 * the same data directory (see {@link createRowInserter}). The caller closes what is returned
 * besides `client`.
 */
export function createInsertClients(
  config: KilnConfig,
  client: ClickHouseClient,
  count: number,
): ClickHouseClient[] {
  if (config.clickhouseUrl) return [client]
  return Array.from({ length: Math.max(1, count) }, () => createClickHouseClient(config))
}

/** A ClickHouse string literal. */
function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}
