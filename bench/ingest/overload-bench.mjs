// Ingest under overload: 1,024 concurrent senders against one server process for a bounded time,
// once at the default limits (excess answered 429 + Retry-After) and once with shedding off
// (limits raised out of reach), side by side. Every figure comes from this run, on this machine.
//   node bench/ingest/overload-bench.mjs [--senders 1024] [--seconds 30] [--size medium-http]
//     [--warmup 5] [--timeout-ms 10000] [--max-backoff-ms 30000] [--modes defaults,unbounded]
//     [--rounds 1] [--quick]
// A mode's environment can be varied with --env-<mode> KEY=VALUE,... (e.g. --env-defaults
// KILN_MAX_INGEST_IN_FLIGHT=8 to try another limit); --server-node-args=--cpu-prof profiles the
// server, --server-cli <path/to/cli.js> runs another build of it.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { clearInterval, setInterval } from 'node:timers'
import { parseArgs } from 'node:util'
import { UPLOAD_ID_HEADER } from '@kiln/wire'
import {
  counterTotal,
  deliver,
  percentile,
  sendersAgent,
  startServerProcess,
} from '../../test/fixtures/overload-senders.mjs'

const { values: args } = parseArgs({
  options: {
    senders: { type: 'string', default: '1024' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '1' },
    size: { type: 'string', default: 'medium-http' },
    'timeout-ms': { type: 'string', default: '10000' },
    'max-backoff-ms': { type: 'string', default: '30000' },
    modes: { type: 'string', default: 'defaults,unbounded' },
    'env-defaults': { type: 'string', default: '' },
    'env-unbounded': { type: 'string', default: '' },
    'server-node-args': { type: 'string', default: '' },
    'server-cli': { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
})
const SENDERS = Number(args.senders)
const SECONDS = args.quick ? 10 : Number(args.seconds)
/** Answers to requests started in the first seconds (a cold server) are left out of latencies. */
const WARMUP_SECONDS = args.quick ? 2 : Number(args.warmup)
const TIMEOUT_MS = Number(args['timeout-ms'])
/**
 * Senders retry as Kiln's agent does: after the server's Retry-After, or a full-jitter backoff
 * from 500 ms doubling up to this cap (the agent's is 30 s) when that is longer. 0 makes the
 * most eager client that still honours Retry-After.
 */
const MAX_BACKOFF_MS = Number(args['max-backoff-ms'])
const HUGE = String(2 ** 50)

/** Shedding off: every limit the ingest plugin checks raised out of reach. */
const UNBOUNDED = {
  KILN_MAX_INGEST_IN_FLIGHT: HUGE,
  KILN_MAX_INGEST_IN_FLIGHT_BYTES: HUGE,
  // Only the pending-rows bound (4 × this) reads it; a batch is flushed whole either way.
  KILN_INSERT_BATCH_MAX_ROWS: HUGE,
}
const parseEnv = (text) =>
  Object.fromEntries(
    text
      .split(',')
      .filter(Boolean)
      .map((kv) => kv.split('=')),
  )
const MODES = {
  defaults: { ...parseEnv(args['env-defaults']) },
  unbounded: { ...UNBOUNDED, ...parseEnv(args['env-unbounded']) },
}

const corpusDir = new URL('./corpus/', import.meta.url)
const files = readdirSync(corpusDir)
  .filter((f) => f.startsWith(`${args.size}.`) && f.endsWith('.pb.gz'))
  .sort()
  .map((name) => readFileSync(new URL(name, corpusDir)))
if (files.length === 0) throw new Error(`no corpus profiles named ${args.size}.*`)

async function run(mode, env) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-overload-'))
  const execArgv = args['server-node-args'].split(' ').filter(Boolean)
  const cli = args['server-cli']
  const server = await startServerProcess({ dataDir, env, execArgv, ...(cli ? { cli } : {}) })
  try {
    return await measure(server, mode, env)
  } finally {
    await server.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function measure(server, mode, env) {
  const cpuAtStart = serverCpuSeconds(server.pid)
  const agent = sendersAgent()
  const accepted = []
  const acceptedConnected = []
  const delivered = []
  const status = {}
  let timeouts = 0
  let connections = 0
  let acknowledged = 0
  let ackedBytes = 0
  let maxRssBytes = 0
  const sampler = setInterval(() => {
    maxRssBytes = Math.max(maxRssBytes, server.memory().rssBytes)
  }, 250)
  const onAnswer = (answer) => {
    // Latencies count from the warm-up's end: a request counts if it started after it.
    const warm = performance.now() - answer.latencyMs >= warmEnd
    const key = answer.status === 0 ? (answer.error?.message ?? 'error') : String(answer.status)
    if (answer.connectMs > 0) connections++
    if (/timed out/.test(key)) timeouts++
    else status[key] = (status[key] ?? 0) + 1
    if (answer.status === 200 && warm) {
      accepted.push(answer.latencyMs)
      acceptedConnected.push(answer.latencyMs - answer.connectMs)
    }
  }
  const overflowsAtStart = listenOverflows()
  const started = performance.now()
  const sendersCpuAtStart = process.cpuUsage()
  const deadline = started + SECONDS * 1000
  const warmEnd = started + WARMUP_SECONDS * 1000
  await Promise.all(
    Array.from({ length: SENDERS }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const body = files[(w + i) % files.length]
        const fromS = Math.floor(Date.now() / 1000) - 10
        const upload = {
          path: `/ingest?name=overload-bench{pod=p${w}}&from=${fromS}&until=${fromS + 10}&format=pprof`,
          body,
          headers: { [UPLOAD_ID_HEADER]: `bench-${mode.replace(/[^\w-]/g, '_')}-${w}-${i}` },
        }
        const first = performance.now()
        const { answer } = await deliver(agent, server.url, upload, {
          maxBackoffMs: MAX_BACKOFF_MS,
          deadline,
          timeoutMs: TIMEOUT_MS,
          onAnswer,
        })
        if (answer.status === 200 && first >= warmEnd) delivered.push(performance.now() - first)
        if (answer.status === 200) {
          acknowledged++
          ackedBytes += body.length
        }
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  const sendersCpu = process.cpuUsage(sendersCpuAtStart)
  clearInterval(sampler)
  agent.destroy()
  const memory = server.memory()
  const cpuSeconds = serverCpuSeconds(server.pid) - cpuAtStart
  const metrics = await fetchMetrics(server.url)
  const answers = Object.values(status).reduce((a, b) => a + b, 0) + timeouts
  return {
    mode,
    env,
    elapsedSeconds: elapsed,
    answers,
    status,
    timeouts,
    shedShare: (status['429'] ?? 0) / answers,
    acknowledged,
    acknowledgedPerSecond: acknowledged / elapsed,
    acknowledgedMBPerSecond: ackedBytes / elapsed / 1e6,
    acceptedLatencyMs: summary(accepted),
    acceptedAfterConnectMs: summary(acceptedConnected),
    connectionsOpened: connections,
    listenOverflows: listenOverflows() - overflowsAtStart,
    deliveryLatencyMs: summary(delivered),
    serverCpuSeconds: cpuSeconds,
    sendersCpuSeconds: (sendersCpu.user + sendersCpu.system) / 1e6,
    peakRssMiB: memory.peakRssBytes / 2 ** 20,
    maxSampledRssMiB: maxRssBytes / 2 ** 20,
    shed: counterTotal(metrics, 'kiln_ingest_shed_total'),
    duplicates: counterTotal(metrics, 'kiln_ingest_duplicates_total'),
    storedMB: counterTotal(metrics, 'kiln_ingested_bytes_total') / 1e6,
  }
}

/** /metrics, waiting for a server still busy with a backlog (shedding off) to accept it. */
async function fetchMetrics(url) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(`${url}/metrics`)).text()
    } catch (error) {
      if (attempt >= 6) throw error
    }
  }
}

function summary(values) {
  return {
    n: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: percentile(values, 100),
  }
}

/**
 * Connections the kernel dropped because a listen queue was full (all sockets of the machine):
 * each costs its client a SYN retransmission, a second or more.
 */
function listenOverflows() {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n')
  const names = lines.find((l) => l.startsWith('TcpExt:'))?.split(' ') ?? []
  const values = lines.filter((l) => l.startsWith('TcpExt:'))[1]?.split(' ') ?? []
  return Number(values[names.indexOf('ListenOverflows')] ?? NaN)
}

/** utime + stime of a process (all threads, chDB's included), in seconds. */
function serverCpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

const ms = (v) => (Number.isNaN(v) ? '-' : `${Math.round(v).toLocaleString('en')} ms`)
const line = (r) =>
  `${r.mode.padEnd(10)} acknowledged ${r.acknowledged} (${r.acknowledgedPerSecond.toFixed(1)}/s, ${r.acknowledgedMBPerSecond.toFixed(2)} MB/s) in ${r.elapsedSeconds.toFixed(1)} s  ` +
  `accepted p50 ${ms(r.acceptedLatencyMs.p50)} p99 ${ms(r.acceptedLatencyMs.p99)} max ${ms(r.acceptedLatencyMs.max)} ` +
  `(after connect p99 ${ms(r.acceptedAfterConnectMs.p99)}; ${r.connectionsOpened} connections opened, ${r.listenOverflows} listen overflows)  ` +
  `delivery p50 ${ms(r.deliveryLatencyMs.p50)} p99 ${ms(r.deliveryLatencyMs.p99)}  ` +
  `429 ${(r.shedShare * 100).toFixed(1)}% of ${r.answers} answers  timeouts ${r.timeouts}  ` +
  `stored ${r.storedMB.toFixed(2)} MB (duplicates ${r.duplicates})  server CPU ${r.serverCpuSeconds.toFixed(0)} s, senders ${r.sendersCpuSeconds.toFixed(0)} s  ` +
  `peak RSS ${r.peakRssMiB.toFixed(0)} MiB  statuses ${JSON.stringify(r.status)}`
console.log(
  `\n## Ingest under overload: ${SENDERS} senders, ${SECONDS} s (latencies after ${WARMUP_SECONDS} s), ${args.size} ` +
    `(${files.length} profiles round robin), client timeout ${TIMEOUT_MS} ms, backoff cap ${MAX_BACKOFF_MS} ms`,
)
const results = []
const modes = args.modes.split(',')
for (let round = 1; round <= Number(args.rounds); round++) {
  for (const mode of modes) {
    const load = loadavg()[0]
    const r = {
      round,
      loadAverageAtStart: load,
      ...(await run(mode, MODES[mode] ?? parseEnv(mode))),
    }
    results.push(r)
    console.log(`${line(r)}  (round ${round}, load average ${load.toFixed(1)})`)
  }
}
if (Number(args.rounds) > 1) {
  console.log('\nMedian of the rounds (min - max):')
  /** Median and range over the rounds that have the figure (a round may acknowledge nothing). */
  const span = (xs, f) => {
    const known = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b)
    if (known.length === 0) return '-'
    const median = known[Math.floor((known.length - 1) / 2)]
    return `${f(median)} (${f(known[0])} - ${f(known.at(-1))})`
  }
  for (const mode of modes) {
    const rs = results.filter((r) => r.mode === mode)
    const of = (f) => rs.map(f)
    console.log(
      `${mode.padEnd(10)} acknowledged/s ${span(
        of((r) => r.acknowledgedPerSecond),
        (v) => v.toFixed(1),
      )}  ` +
        `accepted p50 ${span(
          of((r) => r.acceptedLatencyMs.p50),
          ms,
        )}  p99 ${span(
          of((r) => r.acceptedLatencyMs.p99),
          ms,
        )}  ` +
        `429 share ${span(
          of((r) => r.shedShare * 100),
          (v) => `${v.toFixed(1)}%`,
        )}  timeouts ${span(
          of((r) => r.timeouts),
          String,
        )}  ` +
        `peak RSS ${span(
          of((r) => r.peakRssMiB),
          (v) => `${v.toFixed(0)} MiB`,
        )}`,
    )
  }
}
const resultsDir = new URL('../results/', import.meta.url)
mkdirSync(resultsDir, { recursive: true })
const file = new URL(`overload-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, resultsDir)
const settings = {
  senders: SENDERS,
  seconds: SECONDS,
  warmupSeconds: WARMUP_SECONDS,
  size: args.size,
  timeoutMs: TIMEOUT_MS,
  maxBackoffMs: MAX_BACKOFF_MS,
}
writeFileSync(file, `${JSON.stringify({ ...settings, results }, null, 2)}\n`)
console.log(`\nresults: ${file.pathname}`)
