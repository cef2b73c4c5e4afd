// Sample-row insert path, side by side: the same batches of real sample rows (medium-http
// profiles, decoded and normalized by Kiln, serialized by `samplesTsv`) inserted one after the
// other for --seconds into each target through Kiln's own `createRowInserter`:
//   (a) a ClickHouse server over HTTP: Debian's clickhouse-server 18.16, started here on free
//       loopback ports in a temporary directory (a reduced `samples` table, see REDUCED_DDL),
//       and as a control the same table with the time as a Float64 (18.16 sorts a Decimal64
//       inside a composite ORDER BY several times slower than anything else: that, not Kiln's
//       path, is most of the 18.16 figure);
//   (b) embedded chDB (`INSERT ... FROM INFILE`), into the same reduced table;
//   (c) embedded chDB into Kiln's real `kiln.samples` (schema applied by `startServer`, with its
//       hourly rollup view).
// The server's targets run before chDB is opened, so this process's CPU there is the client's.
// Per target: rows/s, profiles/s equivalent, ms per batch (serialize; insert median and p90),
// this Node process's CPU per 1,000 rows (for chDB that includes the engine, which runs in this
// process) and, for the server, its own CPU per 1,000 rows (/proc/<pid>/stat). At the end every
// target must hold exactly the rows and the sum of values sent, or the script exits 1.
// One flush at a time (KILN_INSERT_CONCURRENCY 1). Every figure comes from this run, on this
// machine.
//   node bench/ingest/remote-insert-bench.mjs [--seconds 10] [--batch-profiles 30]
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startServer } from '@kiln/server'
import { decodePprof, decompress, normalizeProfile } from '@kiln/server/ingest'
import { SAMPLE_COLUMNS, samplesTsv } from '../../server/dist/store/tsv.js'
import {
  createClickHouseClient,
  createRowInserter,
} from '../../server/dist/store/clickhouse-bindings.js'
import { NORMALIZE_LIMITS } from '../normalize-limits.mjs'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    // What one flush holds at 64 concurrent senders.
    'batch-profiles': { type: 'string', default: '30' },
  },
})
const SECONDS = Number(args.seconds)
const BATCH_PROFILES = Number(args['batch-profiles'])
const SERVICES = 32
const WARMUP_BATCHES = 2
const USER_HZ = 100
const CLICKHOUSE_BIN = process.env.KILN_CLICKHOUSE_SERVER_BIN ?? '/usr/sbin/clickhouse-server'
const CLICKHOUSE_USER = 'kiln'
const CLICKHOUSE_PASSWORD = 'kiln-secret'

/**
 * The columns of `samplesTsv`'s lines, reduced to what ClickHouse 18.16 has: it has no
 * DateTime64 (the time is a Decimal64(3), which reads Kiln's `seconds.mmm` the same way), no
 * LowCardinality, no column codecs, no TTL, and Kiln's hourly rollup view (AggregateFunction
 * states, `uniqExact` snapshots) is not created on it. Rows, columns, format and sort key are
 * Kiln's.
 */
const REDUCED_DDL = (table, partition, timeType = 'Decimal64(3)') => `CREATE TABLE ${table} (
  tenant String,
  service String,
  type String,
  time ${timeType},
  series_id UInt64,
  stack_hash UInt64,
  value Int64,
  upload UInt64
) ENGINE = MergeTree() ${partition} ORDER BY (tenant, service, type, time, series_id, stack_hash)`
/** Tried in order: the first one the server accepts is used (on chDB too). */
const PARTITIONS = ['PARTITION BY toDate(toDateTime(toUInt32(time)))', '']

// 1. Real sample rows: the medium corpus profiles normalized once per (service, type, copy);
// each batch takes the next profiles in turn, each at its own time, so that no two profiles'
// rows are the same.
const corpusDir = new URL('./corpus/', import.meta.url)
const raw = await Promise.all(
  ['medium-http.wall.pb.gz', 'medium-http.heap.pb.gz'].map((name) =>
    decompress(readFileSync(new URL(name, corpusDir)), 1 << 30),
  ),
)
const copies = Math.ceil(BATCH_PROFILES / (SERVICES * raw.length))
const dayStart = Math.floor(Date.now() / 86_400_000) * 86_400_000
const pool = []
for (let copy = 0; copy < copies; copy++) {
  for (let s = 0; s < SERVICES; s++) {
    for (const bytes of raw) {
      const { batch } = normalizeProfile(decodePprof(bytes), {
        tenant: 'bench',
        service: `svc-${s}`,
        labels: { pod: `pod-${s}-${copy}` },
        fromMs: dayStart,
        limits: NORMALIZE_LIMITS,
      })
      const rows = batch.samples
      pool.push({ rows, valueSum: rows.reduce((sum, r) => sum + BigInt(r.value), 0n) })
    }
  }
}
const rowsPerProfile = pool.reduce((n, p) => n + p.rows.length, 0) / pool.length

/**
 * The `index`th batch of the run: profile j is pool entry j mod the pool's size, at the time of
 * its round (one every 10 s per service and type, as agents send).
 */
function batchAt(index) {
  const rows = []
  let valueSum = 0n
  for (let k = 0; k < BATCH_PROFILES; k++) {
    const j = index * BATCH_PROFILES + k
    const entry = pool[j % pool.length]
    const time = dayStart + Math.floor(j / pool.length) * 10_000
    for (const row of entry.rows) {
      row.time = time
      rows.push(row)
    }
    valueSum += entry.valueSum
  }
  return { rows, valueSum }
}

// 2. The ClickHouse server, as server/test/helpers/clickhouse-server.ts starts it.
async function freePort() {
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function startClickHouse() {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-ch-'))
  const httpPort = await freePort()
  const tcpPort = await freePort()
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas']) mkdirSync(join(dir, sub))
  writeFileSync(
    join(dir, 'config.xml'),
    `<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
`,
  )
  writeFileSync(
    join(dir, 'users.xml'),
    `<yandex>
  <profiles><default></default></profiles>
  <users>
    <${CLICKHOUSE_USER}>
      <password>${CLICKHOUSE_PASSWORD}</password>
      <networks><ip>::/0</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </${CLICKHOUSE_USER}>
  </users>
  <quotas><default></default></quotas>
</yandex>
`,
  )
  const child = spawn(CLICKHOUSE_BIN, [`--config-file=${join(dir, 'config.xml')}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (c) => (stderr = (stderr + c.toString()).slice(-4000)))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const ch = {
    url: `http://127.0.0.1:${httpPort}`,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      if ((await fetch(`${ch.url}/ping`)).ok) return ch
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  await ch.stop()
  throw new Error(`clickhouse-server did not start: ${stderr}`)
}

/** utime + stime of a process, in ms. */
function processCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields 14 and 15 of stat(5); `fields` starts at field 3.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ
}

async function scalar(client, query) {
  const result = await client.query({ query, format: 'JSONEachRow' })
  const [row] = await result.json()
  return Object.values(row)[0]
}

/** The reduced table, with the first partition clause the engine accepts; what it refused. */
async function createReducedTable(client, table, partitions, timeType) {
  const refused = []
  for (const partition of partitions) {
    try {
      await client.command({ query: REDUCED_DDL(table, partition, timeType) })
      return { partition, refused }
    } catch (error) {
      refused.push(`${partition || '(no partition)'}: ${String(error.message).split('\n')[0]}`)
    }
  }
  throw new Error(`could not create ${table}:\n  ${refused.join('\n  ')}`)
}

// 3. One target: batches in turn for SECONDS, serialize + insert timed per batch.
async function measure(target) {
  const sent = { rows: 0, valueSum: 0n }
  const send = async (index) => {
    const { rows, valueSum } = batchAt(index)
    const cpu = process.cpuUsage()
    const t0 = performance.now()
    const body = samplesTsv(rows)
    const t1 = performance.now()
    await target.insert(target.table, SAMPLE_COLUMNS, 'TabSeparated', body)
    const t2 = performance.now()
    const { user, system } = process.cpuUsage(cpu)
    sent.rows += rows.length
    sent.valueSum += valueSum
    return {
      rows: rows.length,
      bytes: body.length,
      serializeMs: t1 - t0,
      insertMs: t2 - t1,
      cpuMs: (user + system) / 1000,
    }
  }
  let index = 0
  for (; index < WARMUP_BATCHES; index++) await send(index)
  const batches = []
  const serverCpu0 = target.pid ? processCpuMs(target.pid) : 0
  const started = performance.now()
  const end = started + SECONDS * 1000
  while (performance.now() < end) batches.push(await send(index++))
  const elapsed = (performance.now() - started) / 1000
  const serverCpuMs = target.pid ? processCpuMs(target.pid) - serverCpu0 : undefined
  const rows = batches.reduce((n, b) => n + b.rows, 0)
  const insertMs = batches.map((b) => b.insertMs).sort((a, b) => a - b)
  const serializeMs = batches.map((b) => b.serializeMs).sort((a, b) => a - b)
  return {
    sent,
    batches: batches.length,
    rowsPerBatch: rows / batches.length,
    bytesPerBatch: batches.reduce((n, b) => n + b.bytes, 0) / batches.length,
    rowsPerSecond: rows / elapsed,
    serializeMedian: quantile(serializeMs, 0.5),
    insertMedian: quantile(insertMs, 0.5),
    insertP90: quantile(insertMs, 0.9),
    nodeCpuPer1k: (batches.reduce((n, b) => n + b.cpuMs, 0) / rows) * 1000,
    serverCpuPer1k: serverCpuMs === undefined ? undefined : (serverCpuMs / rows) * 1000,
  }
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

function report(name, r) {
  console.log(
    `${name.padEnd(26)} ${String(r.batches).padStart(7)} ${r.rowsPerSecond.toFixed(0).padStart(9)} ` +
      `${(r.rowsPerSecond / rowsPerProfile).toFixed(0).padStart(10)} ${r.serializeMedian.toFixed(1).padStart(9)} ` +
      `${`${r.insertMedian.toFixed(1)} / ${r.insertP90.toFixed(1)}`.padStart(15)} ` +
      `${r.nodeCpuPer1k.toFixed(2).padStart(12)} ` +
      `${(r.serverCpuPer1k === undefined ? 'in process' : r.serverCpuPer1k.toFixed(2)).padStart(12)}`,
  )
}

async function verify(name, client, table, sent) {
  const count = BigInt(await scalar(client, `SELECT count() FROM ${table}`))
  const sum = BigInt(await scalar(client, `SELECT sum(value) FROM ${table}`))
  const [database, tableName] = table.split('.')
  const parts = await scalar(
    client,
    `SELECT count() FROM system.parts WHERE active AND database = '${database}' AND table = '${tableName}'`,
  )
  const ok = count === BigInt(sent.rows) && sum === sent.valueSum
  console.log(
    `${ok ? 'ok  ' : 'FAIL'} ${name.padEnd(26)} rows ${count} of ${sent.rows} sent, ` +
      `sum(value) ${sum} of ${sent.valueSum} sent (${parts} active parts)`,
  )
  return ok
}

let clickhouse
let remote
let kiln
let dataDir
const stopAll = async () => {
  await remote?.close().catch(() => {})
  await kiln?.close().catch(() => {})
  await clickhouse?.stop()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
}
process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)))

let ok = true
try {
  console.log(
    `## Sample rows: medium-http wall+heap, ${rowsPerProfile.toFixed(1)} rows per profile, ` +
      `${BATCH_PROFILES} profiles per batch (${(rowsPerProfile * BATCH_PROFILES).toFixed(0)} rows), ` +
      `${SERVICES} services, ${SECONDS} s per target, one insert at a time`,
  )

  // (a) The server over HTTP.
  clickhouse = await startClickHouse()
  const remoteConfig = {
    clickhouseUrl: clickhouse.url,
    clickhouseUser: CLICKHOUSE_USER,
    clickhousePassword: CLICKHOUSE_PASSWORD,
  }
  remote = createClickHouseClient(remoteConfig)
  const remoteTable = await createReducedTable(remote, 'default.samples', PARTITIONS)
  await createReducedTable(remote, 'default.samples_float', [remoteTable.partition], 'Float64')
  console.log(
    `ClickHouse server ${await scalar(remote, 'SELECT version()')} (pid ${clickhouse.pid})`,
  )
  for (const line of remoteTable.refused) console.log(`  refused: ${line}`)
  console.log(`  table: ${remoteTable.partition || '(no partition)'}`)
  const remoteInsert = createRowInserter(remoteConfig, remote)
  const targets = [
    {
      name: 'ClickHouse 18.16 HTTP',
      client: remote,
      table: 'default.samples',
      insert: remoteInsert,
      pid: clickhouse.pid,
    },
    {
      name: '  control: time Float64',
      client: remote,
      table: 'default.samples_float',
      insert: remoteInsert,
      pid: clickhouse.pid,
    },
  ]
  const results = []
  for (const target of targets) results.push(await measure(target))

  // (b, c) chDB, one data path for the process (chDB binds one): Kiln's schema by startServer,
  // the reduced table beside it. The server takes no ingest here, so its own inserter (same
  // `.inserts` directory) writes nothing.
  dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-chdb-'))
  kiln = await startServer({ port: 0, dataDir, logLevel: 'warn' })
  const chdb = kiln.app.store.client
  await chdb.command({ query: 'CREATE DATABASE IF NOT EXISTS bench' })
  await createReducedTable(chdb, 'bench.samples', [remoteTable.partition])
  console.log(`chDB ${await scalar(chdb, 'SELECT version()')}`)
  const chdbInsert = createRowInserter({ dataDir }, chdb)
  targets.push(
    { name: 'chDB reduced table', client: chdb, table: 'bench.samples', insert: chdbInsert },
    { name: 'chDB kiln.samples (+view)', client: chdb, table: 'kiln.samples', insert: chdbInsert },
  )
  for (const target of targets.slice(2)) results.push(await measure(target))

  console.log(
    `\n${'target'.padEnd(26)} ${'batches'.padStart(7)} ${'rows/s'.padStart(9)} ${'profiles/s'.padStart(10)} ` +
      `${'ser. ms'.padStart(9)} ${'insert ms p50/90'.padStart(15)} ${'node CPU ms'.padStart(12)} ${'server CPU ms'.padStart(12)}`,
  )
  console.log(
    `${''.padEnd(26)} ${''.padStart(7)} ${''.padStart(9)} ${''.padStart(10)} ${'median'.padStart(9)} ` +
      `${''.padStart(15)} ${'/1k rows'.padStart(12)} ${'/1k rows'.padStart(12)}`,
  )
  targets.forEach((t, i) => report(t.name, results[i]))
  console.log(
    `batch: ${results[0].rowsPerBatch.toFixed(0)} rows, ${(results[0].bytesPerBatch / 1024).toFixed(0)} KiB of TSV; ` +
      `node CPU includes samplesTsv, and for chDB the engine itself (it runs in this process)`,
  )

  console.log('\n## Verification (count(), sum(value) against what was sent, warm-up included)')
  for (const [i, t] of targets.entries())
    ok = (await verify(t.name, t.client, t.table, results[i].sent)) && ok
} catch (error) {
  ok = false
  console.error(error)
} finally {
  await stopAll()
}
process.exit(ok ? 0 : 1)
