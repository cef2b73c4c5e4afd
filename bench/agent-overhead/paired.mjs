// Agent overhead, paired in one process: the same long-lived service process measured with its
// agent off, on, and off again, over and over. Between two fresh processes CPU per request
// differs by several percent (JIT and memory-layout luck, see "Noise" in bench/README.md),
// which buries a 1 % effect; within one process that difference is gone, and what is left is
// the agent. See bench/README.md ("Paired in one process").
//
//   node bench/agent-overhead/paired.mjs                 # 12 rounds, both agents, ~30 minutes
//   node bench/agent-overhead/paired.mjs --rounds 3 --agents kiln   # a smoke test
//   node bench/agent-overhead/paired.mjs --help
//
// One service process per agent (`BENCH_TOGGLE=kiln|pyroscope`, see service.mjs), pinned to
// CPU 1 with all its threads; the load generator, this orchestrator and the Kiln server that
// receives the uploads run on CPU 0. Each round measures, in rotated order, the conditions
// `none` (agent off), the agent's (on, started for this slice) and `control` (off again: the
// A/A control). An agent is started at the beginning of its slice and stopped at its end, so
// every measured phase holds the agent's start-up transient minus the discarded warm-up
// (--warmup) and the same share of its 10 s collections as a long-running agent does.
import { fork } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startServer } from '@kiln/server'
import {
  agentFreeEnv,
  benchDir,
  canPin,
  collectOutput,
  OTHER_CPU,
  pinner,
  runLoad,
  SERVICE_CPU,
  serviceUrl,
  sleep,
} from './harness.mjs'
import { pyroscopeOptions } from './pyroscope-settings.mjs'
import { fmt, median, printSummary, signed, summarize } from './stats.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))

/** Kiln agent settings to compare in one process (`--kiln`): name -> start() options. */
const KILN_CONFIGS = {
  kiln: {},
  // Pyroscope's defaults (and Datadog's): the settings @pyroscope/nodejs runs at here.
  'kiln-100hz': { samplingIntervalMicros: 10_000, heapSamplingIntervalBytes: 512 * 1024 },
  'kiln-50hz': { samplingIntervalMicros: 20_000 },
  'kiln-20hz': { samplingIntervalMicros: 50_000 },
  'kiln-noheap': { heap: false },
  'kiln-nowall': { wall: false },
  'kiln-nobudget': { overheadBudgetPercent: 100 },
  // Magnified, to measure what one sample costs above the noise (see bench/README.md):
  // the time profiler at 10x the default rate, the heap profiler at 16x its default rate.
  'kiln-1000hz': { samplingIntervalMicros: 1000, heap: false, overheadBudgetPercent: 100 },
  'kiln-heap32k': { heapSamplingIntervalBytes: 32 * 1024, wall: false },
}

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '12' },
    agents: { type: 'string', default: 'kiln,pyroscope' },
    kiln: { type: 'string', default: 'kiln' },
    warmup: { type: 'string', default: '3' },
    'initial-warmup': { type: 'string', default: '60' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '8' },
    mode: { type: 'string', default: 'both' },
    'rate-fraction': { type: 'string', default: '0.3' },
    'noisy-percent': { type: 'string', default: '5' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})

if (flags.help) {
  console.log(`usage: node bench/agent-overhead/paired.mjs [flags]
  --rounds N          rounds; each measures every condition of every agent once (12)
  --agents LIST       kiln,pyroscope (both)
  --kiln LIST         Kiln settings measured in the Kiln process, from
                      ${Object.keys(KILN_CONFIGS).join(', ')} (kiln: the defaults)
  --warmup S          discarded load after each switch, seconds (3)
  --initial-warmup S  load before the first round, to warm the JIT without an agent (60)
  --duration S        each measured phase, seconds; a multiple of the 10 s upload interval
                      keeps one collection per phase (10)
  --connections C     saturated phase, closed loop (8)
  --mode M            saturated | paced | both (both)
  --rate-fraction F   paced phase rate, a fraction of the no-agent capacity (0.3)
  --noisy-percent P   quiet rounds: other processes used at most P % of CPU 1 (5)
  --out FILE          JSON results (bench/results/agent-overhead-paired-<time>.json)`)
  process.exit(0)
}

const config = {
  rounds: Number(flags.rounds),
  agents: flags.agents.split(',').filter(Boolean),
  kiln: flags.kiln.split(',').filter(Boolean),
  warmupSec: Number(flags.warmup),
  initialWarmupSec: Number(flags['initial-warmup']),
  durationSec: Number(flags.duration),
  connections: Number(flags.connections),
  mode: flags.mode,
  rateFraction: Number(flags['rate-fraction']),
  noisyPercent: Number(flags['noisy-percent']),
  pin: canPin(),
}
const phaseNames = config.mode === 'both' ? ['saturated', 'paced'] : [config.mode]
for (const name of config.kiln) {
  if (!(name in KILN_CONFIGS)) throw new Error(`--kiln: unknown setting ${name}`)
}

const pin = pinner(config.pin)
pin(process.pid, OTHER_CPU)

const dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-paired-'))
const kiln = await startServer({ port: 0, dataDir, logLevel: 'warn' })

/** What each agent is started with in its process. */
function agentOptions(agent, condition) {
  if (agent === 'kiln') {
    return {
      serverUrl: kiln.url,
      service: `bench-paired-${condition}`,
      version: '1.0.0',
      ...KILN_CONFIGS[condition],
    }
  }
  return pyroscopeOptions(kiln.url, 'bench-paired-pyroscope')
}

async function startService(agent) {
  const child = fork(join(here, 'service.mjs'), [], {
    cwd: benchDir,
    env: { ...agentFreeEnv(), BENCH_TOGGLE: agent },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  const output = collectOutput(child)
  const url = await serviceUrl(child, output, agent)
  pin(child.pid, SERVICE_CPU)
  return { agent, child, url, stderr: () => output.stderr }
}

/** Switch the service's agent on (with options) or off, and wait until it has. */
function switchAgent(service, on, options) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      service.child.off('message', onMessage)
      if (message.error) reject(new Error(message.error))
      else resolve(message.stats)
    }
    service.child.on('message', onMessage)
    service.child.send(on ? { agent: 'on', options } : { agent: 'off' })
  })
}

function load(service, phases, warmupSec) {
  const options = {
    url: service.url,
    pid: service.child.pid,
    connections: config.connections,
    ...(config.pin ? { serviceCpu: Number(SERVICE_CPU) } : {}),
    warmupSec,
    phases,
  }
  return runLoad(options, pin)
}

const started = new Date()
const machine = {
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  node: process.version,
  loadavgAtStart: loadavg(),
  pinned: config.pin,
}
const conditionsOf = (agent) => ['none', ...(agent === 'kiln' ? config.kiln : [agent]), 'control']
console.log(
  `agent overhead, paired: ${config.rounds} rounds x ${config.agents.map((a) => `${a} [${conditionsOf(a).join(', ')}]`).join(' + ')}; per slice ${config.warmupSec} s warm-up + ${phaseNames.join(' + ')} x ${config.durationSec} s; pinned: ${config.pin}; load avg ${machine.loadavgAtStart.map((l) => l.toFixed(2)).join(' ')}`,
)

const services = new Map()
const slices = []
let exitCode = 0
try {
  for (const agent of config.agents) services.set(agent, await startService(agent))
  // Warm every process's JIT without an agent, then size the paced phase from the first one.
  let rate = 0
  for (const service of services.values()) {
    // A minute: CPU per request still falls by several percent after the first 20 s.
    const warm = [{ name: 'saturated', rate: 0, durationSec: 5 }]
    const { saturated } = await load(service, warm, config.initialWarmupSec)
    rate ||= Math.round((1000 / saturated.cpuMsPerRequest) * config.rateFraction)
  }
  console.log(`paced phase at ${rate} req/s`)
  const phases = phaseNames.map((name) => ({
    name,
    rate: name === 'paced' ? rate : 0,
    durationSec: config.durationSec,
  }))
  config.rate = rate

  for (let round = 0; round < config.rounds; round++) {
    for (const [agent, service] of services) {
      const conditions = conditionsOf(agent)
      const order = conditions.map((_, i) => conditions[(i + round) % conditions.length])
      for (const condition of order) {
        const on = condition !== 'none' && condition !== 'control'
        if (on) await switchAgent(service, true, agentOptions(agent, condition))
        const measured = await load(service, phases, config.warmupSec)
        const agentStats = on ? await switchAgent(service, false) : undefined
        slices.push({ agent, round, variant: condition, phases: measured, agentStats })
        const line = phaseNames
          .map((p) => {
            const ph = measured[p]
            return `${p} ${fmt(ph.rps)} req/s p99 ${fmt(ph.latencyMs.p99, 2)} ms CPU/req ${fmt(ph.cpuMsPerRequest, 3)} ms others ${fmt(ph.foreignCpuPercent, 0)}%`
          })
          .join(' | ')
        const own = agentStats
          ? ` | agent: ${agentStats.lastOverheadPercent} % of a core, ${1e6 / agentStats.samplingIntervalMicros} Hz, pauses up to ${agentStats.maxPauseMs} ms`
          : ''
        console.log(
          `${String(round + 1).padStart(2)} ${agent.padEnd(9)} ${condition.padEnd(13)} ${line}${own}`,
        )
      }
    }
  }

  const summaries = {}
  for (const agent of services.keys()) {
    const own = slices.filter((s) => s.agent === agent)
    const variants = conditionsOf(agent)
    summaries[agent] = summarize(own, { variants, noisyPercent: config.noisyPercent }, phaseNames)
    console.log(`\n################ the ${agent} process`)
    printSummary(summaries[agent], config, phaseNames)
    printMeans(summaries[agent])
    printThreads(own, conditionsOf(agent))
  }
  for (const [agent, service] of services) {
    const text = service.stderr().trim()
    if (text) console.log(`stderr of the ${agent} process: ${text.slice(0, 500)}`)
  }
  machine.loadavgAtEnd = loadavg()
  const stamp = started.toISOString().replace(/[:.]/g, '-')
  const out = flags.out ?? join(benchDir, 'results', `agent-overhead-paired-${stamp}.json`)
  mkdirSync(join(out, '..'), { recursive: true })
  writeFileSync(
    out,
    `${JSON.stringify({ kind: 'paired', started, machine, config, summaries, slices }, null, 2)}\n`,
  )
  console.log(`\nresults: ${out}`)
} catch (error) {
  console.error(error)
  exitCode = 1
} finally {
  for (const { child } of services.values()) child.kill('SIGTERM')
  await sleep(500)
  await kiln.close()
  rmSync(dataDir, { recursive: true, force: true })
}
process.exit(exitCode)

/** Means of the within-round ratios with their 95 % confidence intervals. */
function printMeans(summary) {
  console.log('\nmeans of the within-round ratios, 95 % confidence interval:')
  for (const phase of phaseNames) {
    for (const [variant, r] of Object.entries(summary[phase].ratio)) {
      const show = (s) => (s.n ? `${signed((s.mean - 1) * 100, 2)}% ±${fmt(s.ci95 * 100, 2)}` : '-')
      console.log(
        `  ${phase.padEnd(9)} ${variant.padEnd(13)} throughput ${show(r.rps)} | CPU/req ${show(r.cpuPerReq)} (main thread ${show(r.mainCpuPerReq)}) | p99 ${show(r.p99)}`,
      )
    }
  }
}

/**
 * CPU of the service's threads by name over each phase, in % of one core (medians over
 * rounds): V8's profiler thread is where most of a sampling agent's cost goes, and unlike
 * throughput it is measured exactly.
 */
function printThreads(own, variants) {
  console.log('\nthreads, CPU in % of one core (median over rounds):')
  for (const phase of phaseNames) {
    for (const variant of variants) {
      const slices = own.filter((s) => s.variant === variant && s.phases[phase].threadCpuMs)
      if (slices.length === 0) continue
      const names = [...new Set(slices.flatMap((s) => Object.keys(s.phases[phase].threadCpuMs)))]
      const cells = names.sort().map((name) => {
        const pct = slices.map((s) => {
          const p = s.phases[phase]
          return (p.threadCpuMs[name] ?? 0) / p.elapsedSec / 10
        })
        return `${name} ${fmt(median(pct), 2)}`
      })
      console.log(`  ${phase.padEnd(9)} ${variant.padEnd(13)} ${cells.join(' | ')}`)
    }
  }
}
