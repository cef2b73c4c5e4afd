// How true is a CPU flame graph? An I/O-bound service (test/fixtures/bursty-service.mjs: three
// bursts of 3 : 2 : 1 CPU per request, each well under the sampling interval) runs under a
// profiler that uploads to a real Kiln server. The service measures itself: how long each
// function ran (pure computation, so its CPU), its main thread's CPU and the process's. The
// bench compares what Kiln's CPU flame graph shows against those, for a bursty load (paced
// requests, ~20-30 % of a core) and a saturated one (closed loop, the core busy).
//
//   node bench/cpu-model/cpu-estimate.mjs [--seconds 30] [--rate 100] [--concurrency 8]
//     [--profiler kiln|pyroscope] [--runs 1] [--no-inlining]
// Needs `pnpm build` first.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, request } from 'node:http'
import { gunzipSync } from 'node:zlib'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startServer } from '@kiln/server'
import { Profile } from 'pprof-format'

const HERE = dirname(fileURLToPath(import.meta.url))
const BENCH = join(HERE, '..')
const FIXTURE = join(HERE, '../../test/fixtures/bursty-service.mjs')
const { BURST_WEIGHTS } = await import(FIXTURE.replace('bursty-service', 'bursty-weights'))

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    rate: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '8' },
    profiler: { type: 'string', default: 'kiln' },
    runs: { type: 'string', default: '1' },
    // V8 inlines the hottest burst into the request handler once the service is busy, and the
    // profiler then shows it as the handler: off, to measure the estimate alone.
    'no-inlining': { type: 'boolean', default: false },
  },
})
const SECONDS = Number(args.seconds)

/** One HTTP GET on a keep-alive agent-less socket; resolves with the body. */
function get(port, path) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = ''
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve(body))
    })
    req.on('error', reject)
    req.end()
  })
}

/** The fixture under the profiler; resolves once it listens. */
function startService(serverUrl, service, profiler) {
  const preload =
    profiler === 'kiln' ? '@kiln/agent/register' : join(HERE, 'pyroscope-cpu-preload.mjs')
  const flags = args['no-inlining'] ? ['--no-turbo-inlining'] : []
  const child = spawn(process.execPath, [...flags, '--import', preload, FIXTURE], {
    cwd: BENCH,
    env: {
      ...process.env,
      KILN_SERVER_URL: serverUrl,
      KILN_SERVICE: service,
      PYROSCOPE_SERVER_ADDRESS: serverUrl,
      PYROSCOPE_APPLICATION_NAME: service,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
      const match = /listening (\d+)/.exec(out)
      if (match) resolve({ child, port: Number(match[1]) })
    })
    child.on('exit', (code) => reject(new Error(`fixture exited ${code}`)))
  })
}

/** Paced requests (`rate` a second) or a closed loop of `concurrency`, for `seconds`. */
async function drive(port, { rate, concurrency, seconds }) {
  const end = Date.now() + seconds * 1000
  if (rate) {
    const pending = []
    for (let at = Date.now(); at < end; at += 1000 / rate) {
      const wait = at - Date.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      pending.push(get(port, '/work'))
    }
    await Promise.all(pending)
    return
  }
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) await get(port, '/work')
    }),
  )
}

/**
 * A proxy in front of Kiln that keeps each upload's pprof, so the raw CPU values (what the
 * profiler wrote, before Kiln's estimate) can be read beside what Kiln shows.
 */
async function captureProxy(target) {
  const bodies = []
  const proxy = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      bodies.push({ url: req.url, body })
      const upstream = request(
        new URL(req.url, target),
        { method: req.method, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode, up.headers)
          up.pipe(res)
        },
      )
      upstream.end(body)
    })
  })
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${proxy.address().port}`, bodies, close: () => proxy.close() }
}

/** Raw CPU (ns) of each function name as the profiler wrote it, counted once per sample. */
function rawCpuByName(bodies, service) {
  const out = new Map()
  for (const { url, body } of bodies) {
    if (!decodeURIComponent(url).includes(`name=${service}`)) continue
    let bytes = body
    // Pyroscope sends multipart forms; Kiln's agent a gzipped pprof.
    const gz = bytes.indexOf(Buffer.from([0x1f, 0x8b]))
    if (gz > 0) bytes = bytes.subarray(gz)
    let profile
    try {
      profile = Profile.decode(gunzipSync(bytes))
    } catch {
      continue
    }
    const strings = profile.stringTable.strings
    const types = profile.sampleType.map((t) => `${strings[t.type]}/${strings[t.unit]}`)
    const cpu = types.indexOf('cpu/nanoseconds')
    if (cpu === -1) continue
    const fnName = new Map(profile.function.map((f) => [String(f.id), strings[f.name]]))
    const locNames = new Map(
      profile.location.map((l) => [
        String(l.id),
        l.line.map((x) => fnName.get(String(x.functionId))),
      ]),
    )
    if (process.env.DEBUG_UPLOADS) {
      const per = new Map()
      for (const sample of profile.sample) {
        const leaf = locNames.get(String(sample.locationId[0]))?.[0]
        per.set(leaf, (per.get(leaf) ?? 0) + Number(sample.value[0]))
      }
      console.log(
        [...per]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([n, v]) => `${n}:${v}`)
          .join(' '),
      )
    }
    for (const sample of profile.sample) {
      const names = new Set(sample.locationId.flatMap((id) => locNames.get(String(id)) ?? []))
      for (const name of names) out.set(name, (out.get(name) ?? 0) + Number(sample.value[cpu]))
      out.set('*', (out.get('*') ?? 0) + Number(sample.value[cpu]))
    }
  }
  return out
}

/** Total (inclusive) value of every function name, each call path counted once. */
function totalsByName(node, out = new Map(), onPath = new Set()) {
  for (const child of node.children) {
    if (!onPath.has(child.name)) out.set(child.name, (out.get(child.name) ?? 0) + child.value)
    onPath.add(child.name)
    totalsByName(child, out, onPath)
    onPath.delete(child.name)
  }
  return out
}

/** The value of function `fn`: Kiln's agent names it `fn`, `@pyroscope/nodejs` `file:fn:line`. */
function valueOf(totals, fn) {
  let sum = 0
  for (const [name, value] of totals) {
    if (name === fn || name.includes(`:${fn}:`)) sum += value
  }
  return sum
}

async function scenario(server, name, load) {
  const service = `cpu-${name}-${args.profiler}`
  const from = Date.now() - 1000
  const proxy = await captureProxy(server.url)
  const { child, port } = await startService(proxy.url, service, args.profiler)
  await drive(port, { ...load, seconds: SECONDS })
  const stats = JSON.parse(await get(port, '/stats'))
  const exited = new Promise((r) => child.once('exit', r))
  await get(port, '/exit')
  if (args.profiler === 'pyroscope') child.kill('SIGINT')
  await exited
  await new Promise((r) => setTimeout(r, 500))
  proxy.close()
  const raw = rawCpuByName(proxy.bodies, service)
  const url = `${server.url}/api/v1/flamegraph?service=${service}&type=cpu&from=${from}&to=${Date.now() + 60_000}&maxNodes=100000`
  const graph = await (await fetch(url)).json()
  const totals = totalsByName(graph.root)
  const ms = (ns) => ns / 1e6
  const nonJs = valueOf(totals, 'Non JS threads activity')
  const rows = Object.keys(BURST_WEIGHTS).map((fn) => ({
    fn,
    kilnMs: ms(valueOf(totals, fn)),
    rawMs: ms(valueOf(raw, fn)),
    ranMs: stats.ranMicros[fn] / 1000,
  }))
  const lightest = rows.at(-1)
  console.log(`\n## ${name} (${args.profiler}), ${SECONDS} s`)
  console.log(
    '| function | ran ms (truth) | raw CPU ms (profiler) | raw / ran | Kiln CPU ms | Kiln / ran | Kiln ratio to lightest (true) |',
  )
  console.log('|---|---|---|---|---|---|---|')
  for (const r of rows) {
    console.log(
      `| ${r.fn} | ${r.ranMs.toFixed(0)} | ${r.rawMs.toFixed(0)} | ${(r.rawMs / r.ranMs).toFixed(2)} | ${r.kilnMs.toFixed(0)} | ${(r.kilnMs / r.ranMs).toFixed(2)} | ${(r.kilnMs / lightest.kilnMs).toFixed(2)} (${(r.ranMs / lightest.ranMs).toFixed(2)}) |`,
    )
  }
  console.log(
    `raw: total ${ms(raw.get('*') ?? 0).toFixed(0)} ms, (idle) ${ms(valueOf(raw, '(idle)')).toFixed(0)} ms`,
  )
  const mainMs = stats.mainThreadCpuMicros / 1000
  const processMs = stats.processCpuMicros / 1000
  console.log(
    `| total | ${ms(graph.total).toFixed(0)} | main thread ${mainMs.toFixed(0)}, process ${processMs.toFixed(0)} | ${(ms(graph.total) / processMs).toFixed(2)} of process | main-thread part ${(ms(graph.total - nonJs) / mainMs).toFixed(2)} of main thread |`,
  )
  console.log(
    `(idle) ${ms(valueOf(totals, '(idle)')).toFixed(0)} ms, Non JS threads ${ms(nonJs).toFixed(0)} ms`,
  )
  const selves = new Map()
  const visit = (node) => {
    if (node.self > 0) selves.set(node.name, (selves.get(node.name) ?? 0) + node.self)
    node.children.forEach(visit)
  }
  graph.root.children.forEach(visit)
  const top = [...selves].sort((a, b) => b[1] - a[1]).slice(0, 8)
  console.log(`top self: ${top.map(([n, v]) => `${n} ${ms(v).toFixed(0)}`).join(', ')}`)
  // Share of each function among the three, against the share of the time it ran.
  const sum = (key) => rows.reduce((a, r) => a + r[key], 0)
  const shareError = (key) =>
    Math.max(...rows.map((r) => Math.abs(r[key] / sum(key) / (r.ranMs / sum('ranMs')) - 1)))
  const summary = {
    scenario: name,
    rawShareError: shareError('rawMs'),
    kilnShareError: shareError('kilnMs'),
    rawOfRan: sum('rawMs') / sum('ranMs'),
    kilnOfRan: sum('kilnMs') / sum('ranMs'),
    totalOfProcess: ms(graph.total) / processMs,
    idleShareRaw: (raw.get('(idle)') ?? valueOf(raw, '(idle)')) / (raw.get('*') || 1),
  }
  summaries.push(summary)
}

const summaries = []
const dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-cpu-'))
const server = await startServer({ port: 0, dataDir, logLevel: 'warn' })
try {
  for (let run = 0; run < Number(args.runs); run++) {
    await scenario(server, 'bursty', { rate: Number(args.rate) })
    await scenario(server, 'saturated', { concurrency: Number(args.concurrency) })
  }
  console.log(`\n## Summary (${args.profiler}, ${args.runs} run(s) of ${SECONDS} s)`)
  console.log(
    '| scenario | (idle) share of raw CPU | worst share error, raw | worst share error, Kiln | the three, raw / ran | the three, Kiln / ran | Kiln total / process CPU |',
  )
  console.log('|---|---|---|---|---|---|---|')
  const pct = (x) => `${(x * 100).toFixed(0)} %`
  for (const m of summaries) {
    console.log(
      `| ${m.scenario} | ${pct(m.idleShareRaw)} | ${pct(m.rawShareError)} | ${pct(m.kilnShareError)} | ${m.rawOfRan.toFixed(2)} | ${m.kilnOfRan.toFixed(2)} | ${m.totalOfProcess.toFixed(2)} |`,
    )
  }
} finally {
  await server.close()
  rmSync(dataDir, { recursive: true, force: true })
}
