// Traces benchmark (issue 17): a service whose samples carry 10,000 distinct traces in a window
// (trace_id, span_id and endpoint labels, as Kiln's agent writes them with OpenTelemetry) against
// the same samples without the ids (endpoint only), side by side in one embedded store: series
// created, rows stored, ingest time, and the latency of the window's queries, alternating the
// two services run by run. Also what one trace's profile costs to read.
//   node bench/query/traces-bench.mjs [--traces 10000] [--uploads 60] [--runs 15]
// Needs `pnpm --filter @kiln/server build` first.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'
import {
  Function as PprofFunction,
  Label,
  Line,
  Location,
  Profile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format'
import { startServer } from '@kiln/server'
import { prng } from '../prng.mjs'

const { values: args } = parseArgs({
  options: {
    traces: { type: 'string', default: '10000' },
    uploads: { type: 'string', default: '60' },
    runs: { type: 'string', default: '15' },
  },
})
const TRACES = Number(args.traces)
const UPLOADS = Number(args.uploads)
const RUNS = Number(args.runs)
const ENDPOINTS = [
  'GET /items',
  'POST /checkout/:id',
  'GET /users/:id',
  'POST /login',
  'GET /search',
  'PUT /cart/:id',
  'GET /health',
  'POST /orders',
]
const STACKS = 300
const DEPTH = 24
const SAMPLES_PER_TRACE = 4

const rand = prng(17)
/** A pool of stacks: a shared trunk, then a branch per endpoint, then leaves. */
const stacks = Array.from({ length: STACKS }, (_, i) => {
  const endpoint = i % ENDPOINTS.length
  return [
    ...Array.from({ length: DEPTH - 6 }, (_, d) => `frame${d}@node_modules/fastify/lib/f${d}.js`),
    `handler${endpoint}@src/routes.js`,
    ...Array.from({ length: 5 }, (_, d) => `work${endpoint}_${(i * 7 + d) % 40}@src/work${d}.js`),
  ]
})

const hex = (n, digits) => n.toString(16).padStart(digits, '0')

/** The samples of upload `u`: its share of the traces, each on a few stacks of its endpoint. */
function uploadSamples(u, withIds) {
  const out = []
  const perUpload = Math.ceil(TRACES / UPLOADS)
  for (let t = u * perUpload; t < Math.min(TRACES, (u + 1) * perUpload); t++) {
    const endpoint = t % ENDPOINTS.length
    for (let s = 0; s < SAMPLES_PER_TRACE; s++) {
      const stack =
        stacks[
          endpoint + ENDPOINTS.length * Math.floor(rand() * Math.floor(STACKS / ENDPOINTS.length))
        ]
      const labels = { endpoint: ENDPOINTS[endpoint] }
      if (withIds)
        Object.assign(labels, { trace_id: hex(0x7000000 + t, 32), span_id: hex(0x100000 + t, 16) })
      out.push({ stack, value: 10_000_000, labels })
    }
  }
  // Time outside any request.
  out.push({ stack: stacks[0].slice(0, 3), value: 50_000_000, labels: {} })
  return out
}

function encode(samples) {
  const strings = new StringTable()
  const fns = new Map()
  const locs = new Map()
  const loc = (frame) => {
    let l = locs.get(frame)
    if (l) return l
    const [name, file] = frame.split('@')
    const fn = new PprofFunction({
      id: fns.size + 1,
      name: strings.dedup(name),
      filename: strings.dedup(file),
    })
    fns.set(frame, fn)
    l = new Location({ id: locs.size + 1, line: [new Line({ functionId: fn.id, line: 1 })] })
    locs.set(frame, l)
    return l
  }
  const sample = samples.map(
    (s) =>
      new Sample({
        locationId: [...s.stack].reverse().map((f) => loc(f).id),
        value: [s.value],
        label: Object.entries(s.labels).map(
          ([k, v]) => new Label({ key: strings.dedup(k), str: strings.dedup(v) }),
        ),
      }),
  )
  return gzipSync(
    new Profile({
      sampleType: [
        new ValueType({ type: strings.dedup('cpu'), unit: strings.dedup('nanoseconds') }),
      ],
      sample,
      location: [...locs.values()],
      function: [...fns.values()],
      stringTable: strings,
    }).encode(),
  )
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const dataDir = mkdtempSync(join(tmpdir(), 'kiln-traces-bench-'))
const server = await startServer({
  port: 0,
  dataDir,
  logLevel: 'warn',
  rateLimitIngestPerMinute: 0,
})
try {
  const end = Math.floor(Date.now() / 10_000) * 10_000
  const start = end - UPLOADS * 10_000
  const bodies = { traced: [], plain: [] }
  for (let u = 0; u < UPLOADS; u++) {
    const samples = uploadSamples(u, true)
    bodies.traced.push(encode(samples))
    // The same samples, without the ids.
    bodies.plain.push(
      encode(
        samples.map((s) => ({
          ...s,
          labels: s.labels.endpoint ? { endpoint: s.labels.endpoint } : {},
        })),
      ),
    )
  }
  const ingestMs = { traced: 0, plain: 0 }
  for (let u = 0; u < UPLOADS; u++) {
    for (const service of u % 2 === 0 ? ['traced', 'plain'] : ['plain', 'traced']) {
      const at = (start + u * 10_000) / 1000
      const t0 = performance.now()
      const res = await fetch(`${server.url}/ingest?name=${service}&from=${at}&until=${at + 10}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: bodies[service][u],
      })
      if (!res.ok) throw new Error(`${service}: ${res.status} ${await res.text()}`)
      ingestMs[service] += performance.now() - t0
    }
  }

  const { client, database } = server.app.store
  const count = async (sql) => {
    const r = await client.query({ query: sql.replaceAll('{db}', database), format: 'JSONEachRow' })
    return Number((await r.json())[0].n)
  }
  const stored = {}
  for (const service of ['traced', 'plain']) {
    stored[service] = {
      series: await count(
        `SELECT uniqExact(series_id) AS n FROM {db}.series WHERE service = '${service}'`,
      ),
      samples: await count(`SELECT count() AS n FROM {db}.samples WHERE service = '${service}'`),
      traceSamples: await count(
        `SELECT count() AS n FROM {db}.trace_samples WHERE service = '${service}'`,
      ),
      traces: await count(
        `SELECT uniqExact(trace_id) AS n FROM {db}.trace_samples WHERE service = '${service}'`,
      ),
    }
  }

  const window = `from=${start}&to=${end + 10_000}`
  const queries = {
    flamegraph: (s) => `/api/v1/flamegraph?service=${s}&type=cpu&${window}`,
    top: (s) => `/api/v1/top?service=${s}&type=cpu&${window}`,
    timeline: (s) => `/api/v1/timeline?service=${s}&type=cpu&${window}`,
    'flamegraph {endpoint=...}': (s) =>
      `/api/v1/flamegraph?service=${s}&type=cpu&${window}&query=${encodeURIComponent('{endpoint="POST /checkout/:id"}')}`,
    endpoints: (s) => `/api/v1/endpoints?service=${s}&${window}`,
  }
  const time = async (path) => {
    const t0 = performance.now()
    const res = await fetch(`${server.url}${path}`)
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
    await res.arrayBuffer()
    return performance.now() - t0
  }
  const latency = {}
  for (const [name, path] of Object.entries(queries)) {
    const runs = { traced: [], plain: [] }
    await time(path('traced'))
    await time(path('plain'))
    for (let r = 0; r < RUNS; r++) {
      for (const service of r % 2 === 0 ? ['traced', 'plain'] : ['plain', 'traced']) {
        runs[service].push(await time(path(service)))
      }
    }
    latency[name] = { traced: median(runs.traced), plain: median(runs.plain) }
  }
  // One trace's profile, and 50 spans', against the whole window's flame graph.
  const traceRuns = []
  const spansRuns = []
  for (let r = 0; r < RUNS; r++) {
    const t = Math.floor(rand() * TRACES)
    traceRuns.push(
      await time(
        `/api/v1/flamegraph?service=traced&type=cpu&${window}&traceId=${hex(0x7000000 + t, 32)}`,
      ),
    )
    const spans = Array.from({ length: 50 }, () => hex(0x100000 + Math.floor(rand() * TRACES), 16))
    spansRuns.push(
      await time(`/api/v1/flamegraph?service=traced&type=cpu&${window}&spanIds=${spans.join(',')}`),
    )
  }

  const fmt = (x) => x.toFixed(1)
  console.log(
    `\n${TRACES} traces over ${UPLOADS} uploads (10 s each), ${SAMPLES_PER_TRACE} samples per trace, ${ENDPOINTS.length} endpoints\n`,
  )
  console.log('| | with trace ids | without | ratio |')
  console.log('|---|---|---|---|')
  for (const key of ['series', 'samples']) {
    console.log(
      `| ${key} rows | ${stored.traced[key]} | ${stored.plain[key]} | ${(stored.traced[key] / stored.plain[key]).toFixed(2)} |`,
    )
  }
  console.log(
    `| trace_samples rows | ${stored.traced.traceSamples} | ${stored.plain.traceSamples} | |`,
  )
  console.log(`| distinct traces stored | ${stored.traced.traces} | ${stored.plain.traces} | |`)
  console.log(
    `| ingest, ms per upload | ${fmt(ingestMs.traced / UPLOADS)} | ${fmt(ingestMs.plain / UPLOADS)} | ${(ingestMs.traced / ingestMs.plain).toFixed(2)} |`,
  )
  for (const [name, l] of Object.entries(latency)) {
    console.log(
      `| ${name}, median ms | ${fmt(l.traced)} | ${fmt(l.plain)} | ${(l.traced / l.plain).toFixed(2)} |`,
    )
  }
  console.log(
    `\none trace's flame graph: median ${fmt(median(traceRuns))} ms; 50 spans': ${fmt(median(spansRuns))} ms; the window's: ${fmt(latency.flamegraph.traced)} ms`,
  )
} finally {
  await server.close()
  rmSync(dataDir, { recursive: true, force: true })
}
