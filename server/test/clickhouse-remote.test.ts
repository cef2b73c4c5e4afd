import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { createClickHouseClient, createRowInserter } from '../src/store/clickhouse-bindings.js'
import { tsvString } from '../src/store/tsv.js'
import { wrapStoreError } from '../src/store/store-errors.js'
import {
  CLICKHOUSE_PASSWORD,
  CLICKHOUSE_USER,
  TestClickHouse,
} from './helpers/clickhouse-server.js'
import { encodeProfile } from './helpers/pprof-builder.js'

/**
 * The remote path (`KILN_CLICKHOUSE_URL`) against a real ClickHouse server: Debian's
 * `clickhouse-server` 18.16. That server predates features Kiln's schema uses (Map columns,
 * DateTime64, column codecs, TTL), so here the schema cannot be created: this test covers
 * connection, authentication, error mapping, and a server that goes away and comes back, and
 * SKIPS storing and querying profiles remotely. The schema itself runs on chDB (same SQL) in
 * every other integration test.
 */
describe('remote ClickHouse server', () => {
  const clickhouse = new TestClickHouse()
  let app: FastifyInstance

  beforeAll(async () => {
    await clickhouse.start()
  }, 60_000)
  afterAll(async () => {
    await app?.close()
    await clickhouse.dispose()
  })

  const config = (password = CLICKHOUSE_PASSWORD) =>
    resolveConfig({
      clickhouseUrl: clickhouse.url,
      clickhouseUser: CLICKHOUSE_USER,
      clickhousePassword: password,
      logLevel: 'silent',
    })

  it('connects with the configured user and password', async () => {
    const client = createClickHouseClient(config())
    const result = await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })
    const [row] = await result.json<{ v: string }>()
    expect(row?.v).toMatch(/^\d+\.\d+/)
    await client.close()
  })

  it('maps a wrong password to a clear store error', async () => {
    const client = createClickHouseClient(config('wrong'))
    const error = await client.query({ query: 'SELECT 1' }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(wrapStoreError(error).message).toMatch(/password/i)
    await client.close()
  })

  it("writes JSON rows and TSV rows through the batch writer's inserter", async () => {
    // Kiln's own tables need a newer server; a table 18.16 can hold takes the same two formats,
    // escapes included, as the batch writer sends them (JSON for most tables, TSV for samples).
    const client = createClickHouseClient(config())
    const insert = createRowInserter(config(), client)
    await client.command({
      query: 'CREATE TABLE IF NOT EXISTS default.kiln_rows (a String, n UInt64) ENGINE = Memory',
    })
    const json = [
      { a: 'tab\there', n: '18446744073709551615' },
      { a: 'quote " and \\', n: '2' },
    ]
    await insert(
      'default.kiln_rows',
      ['a', 'n'],
      'JSONEachRow',
      json.map((r) => JSON.stringify(r)).join('\n'),
    )
    await insert(
      'default.kiln_rows',
      ['a', 'n'],
      'TabSeparated',
      Buffer.from(`${tsvString('new\nline')}\t3\n`),
    )
    const result = await client.query({
      query: 'SELECT a, toString(n) AS s FROM default.kiln_rows ORDER BY n',
      format: 'JSONEachRow',
    })
    expect(await result.json()).toEqual([
      { a: 'quote " and \\', s: '2' },
      { a: 'new\nline', s: '3' },
      { a: 'tab\there', s: '18446744073709551615' },
    ])
    await client.close()
  })

  it('starts degraded when the schema cannot be applied, answering 503 with the reason', async () => {
    app = await buildApp(config())
    const health = await app.inject({ url: '/health' })
    expect(health.statusCode).toBe(503)
    expect(health.json().store).toMatchObject({ reachable: true })
    expect(health.json().store.schema).toMatch(/KILN_ERR|Store|Unknown|type|Syntax/i)
    const ingest = await app.inject({
      method: 'POST',
      url: `/ingest?name=svc&from=${Math.floor(Date.now() / 1000)}`,
      payload: encodeProfile({
        sampleTypes: [['cpu', 'nanoseconds']],
        samples: [{ stack: ['a'], values: [1] }],
      }),
      headers: { 'content-type': 'application/octet-stream' },
    })
    expect(ingest.statusCode).toBe(503)
    expect(ingest.json()).toMatchObject({ code: 'KILN_ERR_STORE_UNAVAILABLE' })
    const query = await app.inject({ url: '/api/v1/services' })
    expect(query.statusCode).toBe(503)
  })

  it('notices the server going away and coming back', async () => {
    await clickhouse.stop()
    const down = await app.inject({ url: '/health' })
    expect(down.statusCode).toBe(503)
    expect(down.json().store.reachable).toBe(false)
    await clickhouse.start()
    const up = await app.inject({ url: '/health' })
    expect(up.json().store.reachable).toBe(true)
    // The app kept serving throughout.
    expect((await app.inject({ url: '/metrics' })).statusCode).toBe(200)
  }, 60_000)
})
