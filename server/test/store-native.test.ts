import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveConfig } from '../src/config/resolve-config.js'
import { createClickHouseClient, createRowInserter } from '../src/store/clickhouse-bindings.js'
import { RowEncodingError, samplesFromNative, samplesNative } from '../src/store/native.js'
import type { SampleRow } from '../src/store/rows.js'
import { SAMPLE_COLUMNS, samplesTsv } from '../src/store/tsv.js'
import { mulberry32, type Rand } from './helpers/pprof-fuzz.js'

/*
 * The Native encoding of sample rows (what the embedded store is sent) against two references:
 * a plain BigInt encoder of the same layout, byte for byte; and chDB itself, which must store
 * from the Native bytes exactly the rows it stores from the TabSeparated text of the same rows.
 */

const UINT64_EDGES = [
  '1',
  '9',
  '4294967295',
  '4294967296',
  '999999999999999',
  '1000000000000000',
  '9007199254740991',
  '9007199254740993',
  '10000000000000000000',
  '18446744073709551615',
]
// Safe integers only: TSV writes a larger number as its shortest decimal, not its exact value.
const VALUE_EDGES = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -(2 ** 40), -(2 ** 53 - 1)]
const STRINGS = ['default', 'svc', 'tab\there', 'back\\slash', 'new\nline', 'ünïcødé ✓', '']

function randomUint64(rand: Rand): string {
  if (rand() < 0.1) return UINT64_EDGES[Math.floor(rand() * UINT64_EDGES.length)]!
  const hi = BigInt(Math.floor(rand() * 2 ** 32)) >> BigInt(Math.floor(rand() * 33))
  const value = (hi << 32n) | BigInt(Math.floor(rand() * 2 ** 32))
  return (value === 0n ? 1n : value).toString()
}

/** Runs of rows sharing their strings, time, series and upload, as an upload's rows do. */
function randomRows(seed: number, count: number): SampleRow[] {
  const rand = mulberry32(seed)
  const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!
  const rows: SampleRow[] = []
  while (rows.length < count) {
    const run = {
      tenant: pick(STRINGS),
      service: pick(STRINGS),
      type: pick(['cpu', 'wall', 'heap_inuse_space']),
      time: 1_700_000_000_000 + Math.floor(rand() * 400 * 86_400_000),
      series_id: randomUint64(rand),
      upload: randomUint64(rand),
    }
    for (let i = 1 + Math.floor(rand() * 40); i > 0 && rows.length < count; i--) {
      const value =
        rand() < 0.1 ? pick(VALUE_EDGES) : Math.floor(rand() * 2 ** (1 + Math.floor(rand() * 52)))
      rows.push({ ...run, stack_hash: randomUint64(rand), value })
    }
  }
  return rows
}

/** The same layout, written the obvious way. */
function referenceNative(rows: readonly SampleRow[]): Buffer {
  const parts: Buffer[] = []
  const varint = (v: number) => {
    const bytes = []
    for (; v >= 0x80; v = Math.floor(v / 128)) bytes.push((v & 0x7f) | 0x80)
    bytes.push(v)
    parts.push(Buffer.from(bytes))
  }
  const string = (s: string) => {
    const bytes = Buffer.from(s)
    varint(bytes.length)
    parts.push(bytes)
  }
  const word = (write: (b: Buffer) => void) => {
    const b = Buffer.alloc(8)
    write(b)
    parts.push(b)
  }
  varint(SAMPLE_COLUMNS.length)
  varint(rows.length)
  const types: Record<(typeof SAMPLE_COLUMNS)[number], string> = {
    tenant: 'String',
    service: 'String',
    type: 'String',
    time: "DateTime64(3, 'UTC')",
    series_id: 'UInt64',
    stack_hash: 'UInt64',
    value: 'Int64',
    upload: 'UInt64',
  }
  for (const column of SAMPLE_COLUMNS) {
    string(column)
    string(types[column])
    for (const row of rows) {
      const v = row[column]
      if (types[column] === 'String') string(v as string)
      else if (types[column] === 'UInt64') word((b) => b.writeBigUInt64LE(BigInt(v)))
      else word((b) => b.writeBigInt64LE(BigInt(v)))
    }
  }
  return Buffer.concat(parts)
}

describe('sample rows in the Native format', () => {
  it('are byte for byte what a plain BigInt encoder writes', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rows = randomRows(seed, 1 + seed * 20)
      expect(samplesNative(rows).equals(referenceNative(rows)), `seed ${seed}`).toBe(true)
    }
  })

  it('read back (the ingest log replaying) are the rows written', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rows = randomRows(seed, 1 + seed * 20)
      expect(samplesFromNative(samplesNative(rows)), `seed ${seed}`).toEqual(rows)
    }
    expect(() => samplesFromNative(samplesNative(randomRows(3, 10)).subarray(0, 100))).toThrow(
      RangeError,
    )
  })

  it('refuses what a UInt64 or an Int64 cannot hold, as a data error', () => {
    const row: SampleRow = randomRows(7, 1)[0]!
    for (const bad of [
      { value: 1e30 },
      { value: 2 ** 63 },
      { value: Number.NaN },
      { value: 1.5 },
      { stack_hash: '18446744073709551616' },
      { stack_hash: '123456789012345678901' },
      { series_id: '-1' },
      { upload: '12a' },
      { upload: '' },
    ]) {
      expect(() => samplesNative([{ ...row, ...bad }]), JSON.stringify(bad)).toThrow(
        RowEncodingError,
      )
    }
  })

  describe('in chDB', () => {
    let dataDir: string
    let client: ClickHouseClient
    let insert: ReturnType<typeof createRowInserter>

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'kiln-native-'))
      const config = resolveConfig({ dataDir })
      client = createClickHouseClient(config)
      insert = createRowInserter(config, client)
      const columns = `tenant LowCardinality(String), service LowCardinality(String),
        type LowCardinality(String), time DateTime64(3, 'UTC'), series_id UInt64,
        stack_hash UInt64, value Int64, upload UInt64`
      for (const table of ['from_native', 'from_tsv']) {
        await client.command({
          query: `CREATE TABLE ${table} (${columns}) ENGINE = MergeTree ORDER BY tuple()`,
        })
      }
    })

    afterAll(async () => {
      await client.close()
      rmSync(dataDir, { recursive: true, force: true })
    })

    it('stores from Native bytes exactly the rows it stores from their TSV text', async () => {
      const rows = randomRows(2026, 5_000)
      await insert('from_native', SAMPLE_COLUMNS, 'Native', samplesNative(rows))
      await insert('from_tsv', SAMPLE_COLUMNS, 'TabSeparated', samplesTsv(rows))
      const read = async (table: string) => {
        const result = await client.query({
          query: `SELECT tenant, service, type, toUnixTimestamp64Milli(time) AS time,
              toString(series_id) AS series_id, toString(stack_hash) AS stack_hash,
              toString(value) AS value, toString(upload) AS upload
            FROM ${table} ORDER BY ALL`,
          format: 'JSONEachRow',
        })
        return result.json<Record<string, string | number>>()
      }
      const [native, tsv] = [await read('from_native'), await read('from_tsv')]
      expect(native).toHaveLength(rows.length)
      expect(native).toEqual(tsv)
      // And both are the rows sent.
      const key = (r: object) =>
        SAMPLE_COLUMNS.map((c) => String((r as Record<string, unknown>)[c])).join('|')
      expect(native.map(key).sort()).toEqual(rows.map(key).sort())
    })

    it('stores the rows of several blocks sent one after the other in one insert', async () => {
      // The batch writer sends the blocks the ingest log encoded, one per upload, as one stream.
      const uploads = [11, 12, 13].map((seed) => randomRows(seed, 300 + seed))
      await client.command({ query: 'CREATE TABLE blocks AS from_native' })
      await insert('blocks', SAMPLE_COLUMNS, 'Native', Buffer.concat(uploads.map(samplesNative)))
      const result = await client.query({
        query: 'SELECT count() AS n, toString(sum(value)) AS total FROM blocks',
        format: 'JSONEachRow',
      })
      const all = uploads.flat()
      expect(await result.json()).toEqual([
        { n: String(all.length), total: String(all.reduce((a, r) => a + BigInt(r.value), 0n)) },
      ])
    })
  })
})
