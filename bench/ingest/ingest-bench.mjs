// Ingest benchmark: profiles/s sustained into the embedded store, the server's CPU per profile,
// the cost of each stage, the raw pprof-format decode speed as the ceiling, and the storage one
// instance costs per day. Every figure comes from this run, on this machine; with --baseline,
// another build of Kiln is measured side by side, interleaved with this one.
//   node bench/ingest/ingest-bench.mjs [--seconds 10] [--senders 8,64] [--baseline DIR] [--quick]
//     [--sizes medium-http,...] [--without-log]
// --without-log: this build also with KILN_INGEST_LOG=false (each answer waits for its insert, as
//   before the ingest log), interleaved with its default.
// --baseline DIR: a checkout of Kiln with its server built (DIR/server/dist/cli.js), e.g.
//   git worktree add /tmp/kiln-before <commit> && cd /tmp/kiln-before &&
//   pnpm install --offline --frozen-lockfile && pnpm -r --filter ./wire --filter ./server build
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { gunzipSync } from 'node:zlib'
import { Profile } from 'pprof-format'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { Agent, request } from 'node:http'
import { startServer } from '@kiln/server'
import { decodePprof, normalizeProfile } from '@kiln/server/ingest'
import { NORMALIZE_LIMITS } from '../normalize-limits.mjs'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    senders: { type: 'string', default: '8,64' },
    baseline: { type: 'string' },
    quick: { type: 'boolean', default: false },
    // Only these sizes (comma-separated corpus names, e.g. medium-http), for quick A/B runs.
    sizes: { type: 'string' },
    'without-log': { type: 'boolean', default: false },
  },
})
const SECONDS = args.quick ? 4 : Number(args.seconds)
const WARMUP_SECONDS = 2
const SENDERS = args.senders.split(',').map(Number)

const corpusDir = new URL('./corpus/', import.meta.url)
const corpus = readdirSync(corpusDir)
  .filter((f) => f.endsWith('.pb.gz'))
  .sort()
  .map((name) => ({ name, gz: readFileSync(new URL(name, corpusDir)) }))
const sizes = [...new Set(corpus.map((c) => c.name.split('.')[0]))].filter(
  (size) => args.sizes === undefined || args.sizes.split(',').includes(size),
)
const filesOf = (size) => corpus.filter((c) => c.name.startsWith(`${size}.`))

/** Runs of `fn` per second over `seconds`, after as many runs again to warm the JIT. */
function rate(seconds, fn) {
  const warm = performance.now() + seconds * 500
  for (let n = 0; performance.now() < warm; n++) fn(n)
  const end = performance.now() + seconds * 1000
  let n = 0
  while (performance.now() < end) fn(n++)
  return n / seconds
}

const fmt = (x, digits = 0) =>
  x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

// 1. Ceiling: gunzip + pprof-format decode, nothing else (the issue's reference); and the same
// with Kiln's own reader, for comparison.
console.log('\n## Ceiling: gunzip + decode, single thread (profiles/s)')
const ceiling = {}
for (const size of sizes) {
  const files = filesOf(size)
  const seconds = Math.min(SECONDS, 3)
  ceiling[size] = rate(seconds, (i) => Profile.decode(gunzipSync(files[i % files.length].gz)))
  const kiln = rate(seconds, (i) => decodePprof(gunzipSync(files[i % files.length].gz)))
  console.log(
    `${size.padEnd(18)} pprof-format ${fmt(ceiling[size]).padStart(7)}  Kiln's reader ${fmt(kiln).padStart(7)}`,
  )
}

// 2. Stage split, in this process, single thread, warmed: what each stage of the server's
// ingest path costs per profile.
console.log('\n## Cost per profile by stage (µs, single thread)')
const split = {}
for (const size of sizes) {
  const files = filesOf(size)
  const gz = (i) => files[i % files.length].gz
  const raw = files.map((f) => gunzipSync(f.gz))
  const decoded = raw.map((r) => decodePprof(r))
  const seconds = Math.min(SECONDS, 2)
  const us = (perSecond) => 1e6 / perSecond
  let t = 0
  const stages = {
    gunzip: us(rate(seconds, (i) => gunzipSync(gz(i)))),
    decode: us(rate(seconds, (i) => decodePprof(raw[i % raw.length]))),
    normalize: us(
      rate(seconds, (i) =>
        normalizeProfile(decoded[i % decoded.length], {
          tenant: 't',
          service: 's',
          labels: { pod: 'p' },
          fromMs: Date.now() - 60_000 + (t++ % 1000),
          limits: NORMALIZE_LIMITS,
        }),
      ),
    ),
  }
  split[size] = stages
  console.log(
    `${size.padEnd(18)} ${Object.entries(stages)
      .map(([k, v]) => `${k} ${fmt(v).padStart(5)}`)
      .join('  ')}`,
  )
}

const currentCli = join(createRequire(import.meta.url).resolve('@kiln/server'), '../cli.js')
const builds = [{ name: 'this build', cli: currentCli, env: {} }]
if (args['without-log']) {
  builds.push({ name: 'no log', cli: currentCli, env: { KILN_INGEST_LOG: 'false' } })
}
if (args.baseline) {
  builds.unshift({ name: 'baseline', cli: resolve(args.baseline, 'server/dist/cli.js'), env: {} })
}

/** A server in its own process, so the senders here do not share its event loop. */
function startServerProcess(cli, dataDir, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli], {
      env: {
        ...process.env,
        KILN_DATA_DIR: dataDir,
        KILN_PORT: '0',
        KILN_LOG_LEVEL: 'info',
        // The senders share one address: the per-client ingest limit would cap the bench.
        KILN_RATE_LIMIT_INGEST_PER_MINUTE: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    let listening = false
    child.stdout.on('data', (chunk) => {
      if (listening) return // request logs: read and dropped, so the pipe never fills
      out += chunk.toString()
      const match = /Kiln listening on (http:\/\/[\d.:]+)/.exec(out)
      if (match) {
        listening = true
        resolve({
          url: match[1],
          /** CPU time of the server process, all threads, in ms. */
          cpuMs: () => {
            const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8')
            const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
            return (Number(fields[11]) + Number(fields[12])) * 10 // USER_HZ = 100
          },
          close: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))),
        })
      }
    })
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${out}`)))
  })
}

/**
 * One POST over a kept-alive connection of `agent`: status, Retry-After, body read to its end.
 * Node's `http` rather than `fetch`: the senders stand for agents on other machines, and fetch
 * cost the bench process 40 to 75 % of a core at 500 to 1,500 uploads/s, CPU the server it
 * measures shares (http: 10 to 20 %).
 */
function post(url, body, headers, agent) {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': body.length } },
      (res) => {
        res.on('data', () => {})
        res.on('end', () =>
          resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * `senders` senders, each its own service and instance, posting the size's profiles round robin
 * for WARMUP_SECONDS (not counted: every stack is new then) and SECONDS. A profile counts when
 * its 200 arrives (sent once its rows are stored). `style`: `agent` sends an upload id and
 * `x-kiln-upload-attempt: 1` as Kiln's agent does; `pyroscope` neither (uploads are then known
 * by their content).
 */
async function endToEnd(build, size, senders, style) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-ingest-'))
  const server = await startServerProcess(build.cli, dataDir, build.env)
  const files = filesOf(size)
  // One kept-alive connection per sender, as each agent has its own.
  const agent = new Agent({ keepAlive: true, maxSockets: senders })
  const run = async (seconds, phase) => {
    let done = 0
    let failed = 0
    const cpuBefore = server.cpuMs()
    const started = performance.now()
    const end = started + seconds * 1000
    await Promise.all(
      Array.from({ length: senders }, async (_, w) => {
        for (let i = 0; performance.now() < end; i++) {
          const file = files[i % files.length]
          const from = Math.floor(Date.now() / 1000) - 3600 + i
          const headers = { 'content-type': 'application/octet-stream' }
          if (style === 'agent') {
            headers['x-kiln-upload-id'] = `bench-${phase}-${w}-${i}`
            headers['x-kiln-upload-attempt'] = '1'
          }
          const res = await post(
            `${server.url}/ingest?name=bench-${w}{pod=p${w}}&from=${from}&until=${from + 10}&format=pprof`,
            file.gz,
            headers,
            agent,
          )
          if (res.status === 200) done++
          else {
            failed++
            // As Kiln's agent does: a shed upload waits for Retry-After before trying again.
            const wait = Number(res.retryAfter ?? 1) * 1000
            await new Promise((r) => setTimeout(r, Math.min(wait, end - performance.now())))
          }
        }
      }),
    )
    const elapsed = (performance.now() - started) / 1000
    return { rate: done / elapsed, cpuMsPerProfile: (server.cpuMs() - cpuBefore) / done, failed }
  }
  try {
    await run(WARMUP_SECONDS, 'warm')
    return await run(SECONDS, 'measure')
  } finally {
    agent.destroy()
    await server.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

// 3. End to end over HTTP into the embedded store, each build at its default settings.
console.log(
  `\n## End to end: POST /ingest, server in its own process at its defaults, ${SECONDS} s after ${WARMUP_SECONDS} s of warm-up`,
)
const runs = []
const configs = []
for (const size of sizes)
  for (const senders of SENDERS) configs.push({ size, senders, style: 'agent' })
configs.push({ size: 'medium-http', senders: Math.max(...SENDERS), style: 'pyroscope' })
for (const { size, senders, style } of configs) {
  for (const build of builds) {
    const r = await endToEnd(build, size, senders, style)
    runs.push({ build: build.name, size, senders, style, ...r })
    console.log(
      `${build.name.padEnd(11)} ${size.padEnd(17)} ${String(senders).padStart(3)} senders ${style.padEnd(9)} ` +
        `${fmt(r.rate).padStart(5)} profiles/s  server CPU ${fmt(r.cpuMsPerProfile, 2).padStart(6)} ms/profile  ` +
        `= ${fmt((r.rate / ceiling[size]) * 100, 1)}% of the pprof-format ceiling  failed ${r.failed}`,
    )
  }
}

// 4. Where a medium profile's CPU goes at the highest sender count (this build).
{
  const senders = Math.max(...SENDERS)
  const r = runs.find(
    (x) => x.build === 'this build' && x.size === 'medium-http' && x.senders === senders,
  )
  const s = split['medium-http']
  const stagesMs = (s.gunzip + s.decode + s.normalize) / 1000
  console.log(
    `\n## Server CPU per medium profile, ${senders} senders: ${fmt(r.cpuMsPerProfile, 2)} ms = ` +
      `gunzip + decode + normalize ${fmt(stagesMs, 2)} ms (single-thread timings above) + ` +
      `HTTP, batching, row encoding, the store's inserts, merges and GC ${fmt(r.cpuMsPerProfile - stagesMs, 2)} ms`,
  )
}

// 5. Storage: one instance, one hour of 10 s profiles (wall+cpu and heap), then per day.
console.log('\n## Storage per instance (medium-http profiles, one every 10 s)')
{
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-storage-'))
  const server = await startServer({ port: 0, dataDir, logLevel: 'warn' })
  const files = filesOf('medium-http')
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
