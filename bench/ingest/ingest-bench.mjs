// Ingest benchmark: profiles/s and MB/s sustained into the embedded store, the cost split
// (decode, normalize, insert), the raw pprof-format decode speed as the ceiling, and the storage
// one instance costs per day. Every figure comes from this run, on this machine.
//   node bench/ingest/ingest-bench.mjs [--seconds 10] [--concurrency 8] [--quick]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { gunzipSync } from 'node:zlib'
import { Profile } from 'pprof-format'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { startServer } from '@kiln/server'
import { decodePprof, decompress, normalizeProfile } from '@kiln/server/ingest'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '8' },
    quick: { type: 'boolean', default: false },
  },
})
const SECONDS = args.quick ? 3 : Number(args.seconds)
const CONCURRENCY = Number(args.concurrency)
const LIMITS = {
  maxSamplesPerProfile: 1e9,
  maxStackDepth: 1024,
  maxLabels: 64,
  maxLabelNameLength: 128,
  maxLabelValueLength: 1024,
}

const corpusDir = new URL('./corpus/', import.meta.url)
const corpus = readdirSync(corpusDir)
  .filter((f) => f.endsWith('.pb.gz'))
  .sort()
  .map((name) => ({ name, gz: readFileSync(new URL(name, corpusDir)) }))
const sizes = [...new Set(corpus.map((c) => c.name.split('.')[0]))]

function timeLoop(seconds, fn) {
  const end = performance.now() + seconds * 1000
  let n = 0
  while (performance.now() < end) {
    fn(n)
    n++
  }
  return n / seconds
}

// 1. Ceiling: gunzip + pprof-format decode, nothing else.
console.log('\n## Ceiling: gunzip + pprof-format decode (single thread)')
const ceiling = {}
for (const size of sizes) {
  const files = corpus.filter((c) => c.name.startsWith(size))
  const bytes = files.reduce((s, f) => s + f.gz.length, 0) / files.length
  const rate = timeLoop(Math.min(SECONDS, 3), (i) =>
    Profile.decode(gunzipSync(files[i % files.length].gz)),
  )
  ceiling[size] = rate
  console.log(
    `${size.padEnd(18)} ${rate.toFixed(0).padStart(7)} profiles/s  ${((rate * bytes) / 1e6).toFixed(2).padStart(6)} MB/s (gzipped)`,
  )
}

// 2. Stage split, in process: decompress+decode, normalize; insert measured through the server.
console.log('\n## Cost split per profile (µs, single thread)')
const split = {}
for (const size of sizes) {
  const files = corpus.filter((c) => c.name.startsWith(size))
  const decoded = []
  const n = 300
  let t = performance.now()
  for (let i = 0; i < n; i++)
    decoded.push(decodePprof(await decompress(files[i % files.length].gz, 1 << 30)))
  const decodeUs = ((performance.now() - t) * 1000) / n
  t = performance.now()
  for (let i = 0; i < n; i++) {
    normalizeProfile(decoded[i], {
      tenant: 't',
      service: 's',
      labels: { pod: 'p' },
      fromMs: Date.now(),
      limits: LIMITS,
    })
  }
  const normalizeUs = ((performance.now() - t) * 1000) / n
  split[size] = { decodeUs, normalizeUs }
  console.log(
    `${size.padEnd(18)} decode ${decodeUs.toFixed(0).padStart(6)}  normalize ${normalizeUs.toFixed(0).padStart(6)}`,
  )
}

/** The server in its own process, so the senders here do not share its event loop. */
function startServerProcess(dataDir) {
  const cli = join(createRequire(import.meta.url).resolve('@kiln/server'), '../cli.js')
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli], {
      env: {
        ...process.env,
        KILN_DATA_DIR: dataDir,
        KILN_PORT: '0',
        KILN_LOG_LEVEL: 'info',
        // The senders share one address: the per-client ingest limit would cap the bench.
        KILN_RATE_LIMIT_INGEST_PER_MINUTE: '0',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk.toString()
      const match = /Kiln listening on (http:\/\/[\d.:]+)/.exec(out)
      if (match)
        resolve({
          url: match[1],
          close: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))),
        })
    })
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${out}`)))
  })
}

// 3. End to end over HTTP into the embedded store (server in a child process).
console.log(
  `\n## End to end: POST /ingest, ${CONCURRENCY} concurrent senders, ${SECONDS} s per size`,
)
const e2e = {}
for (const size of sizes) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-ingest-'))
  const server = await startServerProcess(dataDir)
  const files = corpus.filter((c) => c.name.startsWith(size))
  let done = 0
  let bytes = 0
  let failed = 0
  const started = performance.now()
  const end = started + SECONDS * 1000
  const insertBefore = await metric(server.url, 'kiln_insert_duration_seconds_sum')
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        const file = files[i % files.length]
        const from = Math.floor(Date.now() / 1000) - 3600 + i
        const res = await fetch(
          `${server.url}/ingest?name=bench-${w}{pod=p${w}}&from=${from}&until=${from + 10}&format=pprof`,
          {
            method: 'POST',
            body: file.gz,
            headers: { 'content-type': 'application/octet-stream' },
          },
        )
        await res.arrayBuffer()
        if (res.status === 200) {
          done++
          bytes += file.gz.length
        } else failed++
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  const insertSeconds =
    (await metric(server.url, 'kiln_insert_duration_seconds_sum')) - insertBefore
  const inserts = await metric(server.url, 'kiln_insert_duration_seconds_count')
  await server.close()
  rmSync(dataDir, { recursive: true, force: true })
  const rate = done / elapsed
  e2e[size] = {
    profilesPerSecond: rate,
    mbPerSecond: bytes / elapsed / 1e6,
    failed,
    insertUsPerProfile: (insertSeconds * 1e6) / done,
    inserts,
  }
  console.log(
    `${size.padEnd(18)} ${rate.toFixed(0).padStart(6)} profiles/s  ${(bytes / elapsed / 1e6).toFixed(2).padStart(6)} MB/s  ` +
      `insert ${((insertSeconds * 1e6) / done).toFixed(0)} µs/profile over ${inserts} batched inserts  ` +
      `= ${((rate / ceiling[size]) * 100).toFixed(1)}% of the decode ceiling  failed ${failed}`,
  )
}

// 4. Storage: one instance, one hour of 10 s profiles (wall+cpu and heap), then per day.
console.log('\n## Storage per instance (medium-http profiles, one every 10 s)')
{
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-storage-'))
  const server = await startServer({ port: 0, dataDir, logLevel: 'warn' })
  const files = corpus.filter((c) => c.name.startsWith('medium-http'))
  const intervals = args.quick ? 60 : 360
  const t0 = Math.floor(Date.now() / 1000) - intervals * 10
  let sent = 0
  for (let i = 0; i < intervals; i++) {
    for (const file of files) {
      const res = await fetch(
        `${server.url}/ingest?name=storage{pod=p1}&from=${t0 + i * 10}&until=${t0 + i * 10 + 10}&format=pprof`,
        {
          method: 'POST',
          body: file.gz,
          headers: { 'content-type': 'application/octet-stream' },
        },
      )
      await res.arrayBuffer()
      sent += file.gz.length
    }
  }
  const client = server.app.store.client
  for (const table of ['series', 'stacks', 'samples', 'profiles'])
    await client.command({ query: `OPTIMIZE TABLE kiln.${table} FINAL` })
  const result = await client.query({
    query: `SELECT table, sum(data_compressed_bytes) AS bytes, sum(rows) AS rows FROM system.parts
      WHERE database = 'kiln' AND active GROUP BY table ORDER BY table`,
    format: 'JSONEachRow',
  })
  const rows = await result.json()
  const total = rows.reduce((s, r) => s + Number(r.bytes), 0)
  for (const r of rows)
    console.log(
      `${r.table.padEnd(10)} ${String(r.rows).padStart(9)} rows ${(Number(r.bytes) / 1024).toFixed(1).padStart(9)} KiB`,
    )
  const perDay = (total / intervals) * 8640
  console.log(
    `stored ${(total / 1024).toFixed(1)} KiB for ${intervals} intervals (received ${(sent / 1024).toFixed(1)} KiB gzipped pprof)`,
  )
  console.log(
    `=> ${(perDay / 1e6).toFixed(1)} MB per instance per day (${((total / sent) * 100).toFixed(0)}% of the gzipped pprof received)`,
  )
  await server.close()
  rmSync(dataDir, { recursive: true, force: true })
}

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line ? Number(line.split(' ')[1]) : 0
}
