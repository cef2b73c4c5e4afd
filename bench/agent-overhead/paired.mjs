// Agent overhead, paired in one process: the same long-lived service process measured with its
// agent off, on, and off again, over and over. Between two fresh processes CPU per request
// differs by several percent (JIT and memory-layout luck, see "Noise" in bench/README.md),
// which buries a 1 % effect; within one process that difference is gone, and what is left is
// the agent. See bench/README.md ("Paired in one process", "Scheduled collection").
//
//   node bench/agent-overhead/paired.mjs                 # 9 rounds, saturated, ~36 minutes
//   node bench/agent-overhead/paired.mjs --rounds 2 --agents kiln --initial-warmup 20   # smoke
//   node bench/agent-overhead/paired.mjs --help
//
// One service process per agent (`BENCH_TOGGLE=kiln|pyroscope`, see service.mjs), pinned to
// CPU 1 with all its threads; the load generator, this orchestrator and the Kiln server that
// receives the uploads run on CPU 0. Each round measures, in rotated order, the conditions
// `none` (agent off), the agent's (on, started for this slice) and `control` (off again: the
// A/A control). An agent is started at the beginning of its slice and stopped at its end, so
// every measured phase holds the agent's start-up transient minus the discarded warm-up
// (--warmup). Always-on agents collect every 10 s, so a phase of a multiple of 10 s holds the
// same share of collections as a long-running agent. Kiln at its defaults collects in one
// window out of `period` (windows.mjs): its phases last whole periods (--periods), so that
// each holds exactly its share of collecting time, profiler starts and collections.
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
  startRecordingProxy,
} from './harness.mjs'
import { pyroscopeDefaultOptions, pyroscopeOptions } from './pyroscope-settings.mjs'
import { fmt, median, printSummary, signed, summarize } from './stats.mjs'
import {
  edgeMsFor,
  latencySummary,
  lonePlan,
  planWindows,
  SCHEDULE_DEFAULTS,
  SEGMENTS,
  splitPhase,
  summarizeSplits,
  uploadedWindows,
} from './windows.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))

/**
 * Kiln agent settings to compare in one process (`--kiln`): name -> start() options. Those
 * without `schedule` run at the default, `server`: the Kiln server's plan (one window in 8).
 */
const KILN_CONFIGS = {
  kiln: {},
  // The behaviour before schedules: the time profiler never stops, a profile every 10 s.
  'kiln-always': { schedule: 'always' },
  // The duty cycle the agent falls back to without a plan from the server (a random slot).
  'kiln-local': { schedule: 'local' },
  // Pyroscope's defaults (and Datadog's), always on: the settings @pyroscope/nodejs runs at.
  'kiln-100hz': {
    schedule: 'always',
    samplingIntervalMicros: 10_000,
    heapSamplingIntervalBytes: 512 * 1024,
  },
  'kiln-50hz': { samplingIntervalMicros: 20_000 },
  'kiln-20hz': { samplingIntervalMicros: 50_000 },
  // Parts of the defaults: the time profiler in its windows only, heap sampling only (what
  // runs between windows), no overhead budget.
  'kiln-noheap': { heap: false },
  'kiln-nowall': { wall: false },
  'kiln-nobudget': { overheadBudgetPercent: 100 },
  // Magnified, always on, to measure what one sample costs above the noise (bench/README.md):
  // the time profiler at 20x the default rate, the heap profiler at 32x its default rate.
  'kiln-1000hz': {
    schedule: 'always',
    samplingIntervalMicros: 1000,
    heap: false,
    overheadBudgetPercent: 100,
  },
  'kiln-heap32k': { schedule: 'always', heapSamplingIntervalBytes: 32 * 1024, wall: false },
  // With --otel: always on without following spans, the baseline of what traces add.
  'kiln-always-notraces': { schedule: 'always', traces: false },
}

/** @pyroscope/nodejs settings to compare in its process (`--pyroscope`). */
const PYROSCOPE_CONFIGS = {
  // Its default rates, CPU time on and 10 s profiles like Kiln (pyroscope-settings.mjs).
  pyroscope: pyroscopeOptions,
  // Nothing but the server address and name: 60 s profiles, wall time without CPU time.
  'pyroscope-defaults': pyroscopeDefaultOptions,
}

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '9' },
    agents: { type: 'string', default: 'kiln,pyroscope' },
    kiln: { type: 'string', default: 'kiln,kiln-always' },
    pyroscope: { type: 'string', default: 'pyroscope' },
    warmup: { type: 'string', default: '3' },
    'initial-warmup': { type: 'string', default: '60' },
    duration: { type: 'string', default: '20' },
    periods: { type: 'string', default: '1' },
    'long-control': { type: 'boolean', default: false },
    'window-ms': { type: 'string', default: String(SCHEDULE_DEFAULTS.windowMs) },
    connections: { type: 'string', default: '8' },
    mode: { type: 'string', default: 'saturated' },
    'rate-fraction': { type: 'string', default: '0.3' },
    'noisy-percent': { type: 'string', default: '5' },
    otel: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})

if (flags.help) {
  console.log(`usage: node bench/agent-overhead/paired.mjs [flags]
  --rounds N          rounds; each measures every condition of every agent once (9)
  --agents LIST       kiln,pyroscope (both)
  --kiln LIST         Kiln settings measured in the Kiln process, from
                      ${Object.keys(KILN_CONFIGS).join(', ')}
                      (kiln,kiln-always; kiln: the defaults)
  --pyroscope LIST    @pyroscope/nodejs settings measured in its process, from
                      ${Object.keys(PYROSCOPE_CONFIGS).join(', ')} (pyroscope)
  --warmup S          discarded load after each switch, seconds (3)
  --initial-warmup S  load before the first round, to warm the JIT without an agent (60)
  --duration S        each measured phase, seconds; a multiple of the 10 s upload interval
                      keeps whole collections of always-on agents in each phase (20)
  --periods K         phases of scheduled Kiln settings last K whole periods of the schedule,
                      at least --duration (1: 80 s at the defaults)
  --long-control      also measure \`control-long\`: agent off, as long as the scheduled phases,
                      to show what the phase length alone does to the ratios
  --window-ms MS      collection window of the Kiln server's schedule and of the agent's local
                      duty cycle, both scaled together; the period stays 8 windows (10000)
  --connections C     saturated phase, closed loop (8)
  --mode M            saturated | paced | both (saturated)
  --rate-fraction F   paced phase rate, a fraction of the no-agent capacity (0.3)
  --noisy-percent P   quiet rounds: other processes used at most P % of CPU 1 (5)
  --otel              trace the service with the OpenTelemetry SDK and HTTP instrumentation
                      in every condition (BENCH_OTEL=1 in service.mjs)
  --out FILE          JSON results (bench/results/agent-overhead-paired-<time>.json)`)
  process.exit(0)
}

const config = {
  otel: flags.otel,
  rounds: Number(flags.rounds),
  agents: flags.agents.split(',').filter(Boolean),
  kiln: flags.kiln.split(',').filter(Boolean),
  pyroscope: flags.pyroscope.split(',').filter(Boolean),
  warmupSec: Number(flags.warmup),
  initialWarmupSec: Number(flags['initial-warmup']),
  durationSec: Number(flags.duration),
  periods: Number(flags.periods),
  longControl: flags['long-control'],
  windowMs: Number(flags['window-ms']),
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
for (const name of config.pyroscope) {
  if (!(name in PYROSCOPE_CONFIGS)) throw new Error(`--pyroscope: unknown setting ${name}`)
}
// The plan the Kiln server gives each of the bench's services, alone in it: where its windows
// fall (slot 0 of 8 at the defaults) and how long a period is.
const plan = lonePlan({ windowMs: config.windowMs, maxShare: SCHEDULE_DEFAULTS.maxShare })
const edgeMs = edgeMsFor(config.windowMs)
config.plan = plan
config.edgeMs = edgeMs

const pin = pinner(config.pin)
pin(process.pid, OTHER_CPU)

const dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-paired-'))
const kiln = await startServer({
  port: 0,
  dataDir,
  logLevel: 'warn',
  scheduleWindowMs: config.windowMs,
})
// Both agents send to a recording proxy in front of it: the windows Kiln's agent collected,
// its check-ins and every upload's status are read from there.
const proxy = await startRecordingProxy(kiln.url)

const serviceName = (condition) => `bench-paired-${condition}`

/** What each agent is started with in its process. */
function agentOptions(agent, condition) {
  if (agent === 'kiln') {
    return {
      serverUrl: proxy.url,
      service: serviceName(condition),
      version: '1.0.0',
      windowMs: config.windowMs,
      ...KILN_CONFIGS[condition],
    }
  }
  return PYROSCOPE_CONFIGS[condition](proxy.url, serviceName(condition))
}

/** Whether a condition collects in scheduled windows (Kiln, `schedule` other than `always`). */
function isScheduled(agent, condition) {
  if (agent !== 'kiln' || !(condition in KILN_CONFIGS)) return false
  return (KILN_CONFIGS[condition].schedule ?? 'server') !== 'always'
}

/**
 * A condition's phases: whole periods of the schedule for scheduled ones and `control-long`
 * (--periods of them at least), whole 60 s profiles for Pyroscope at its defaults, --duration for the rest.
 */
function phasesFor(agent, condition, rate) {
  let cycleSec = 0
  let cycles = 1
  if (isScheduled(agent, condition) || condition === 'control-long') {
    cycleSec = plan.periodMs / 1000
    cycles = config.periods
  } else if (condition === 'pyroscope-defaults') {
    cycleSec = 60
  }
  const durationSec = cycleSec
    ? Math.max(cycles, Math.ceil(config.durationSec / cycleSec - 1e-9)) * cycleSec
    : config.durationSec
  return phaseNames.map((name) => ({ name, rate: name === 'paced' ? rate : 0, durationSec }))
}

/**
 * Before starting the agent of a scheduled condition on the server's plan: not in the second
 * half of one of its windows. The agent joins a window only with half of it left, so it would
 * skip that one, and the phase, which begins seconds later, could miss up to the rest of it.
 */
async function alignStart(agent, condition) {
  if (!isScheduled(agent, condition) || KILN_CONFIGS[condition].schedule === 'local') return
  const intoWindowMs = mod(Date.now() - plan.slot * plan.windowMs, plan.periodMs)
  if (intoWindowMs >= plan.windowMs / 2 && intoWindowMs < plan.windowMs) {
    await sleep(plan.windowMs - intoWindowMs + 50)
  }
}

const mod = (a, n) => ((a % n) + n) % n

async function startService(agent) {
  const child = fork(join(here, 'service.mjs'), [], {
    cwd: benchDir,
    env: { ...agentFreeEnv(), BENCH_TOGGLE: agent, ...(flags.otel ? { BENCH_OTEL: '1' } : {}) },
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

function load(service, phases, warmupSec, samples = false) {
  const options = {
    url: service.url,
    pid: service.child.pid,
    connections: config.connections,
    ...(config.pin ? { serviceCpu: Number(SERVICE_CPU) } : {}),
    warmupSec,
    phases,
    samples,
  }
  return runLoad(options, pin)
}

/** Latencies of every round, pooled by agent, condition, phase and window segment. */
const pooled = new Map()
function pool(key, latencies) {
  if (!pooled.has(key)) pooled.set(key, [])
  const into = pooled.get(key)
  for (const ms of latencies) into.push(ms)
}

/**
 * Replace each phase's per-request samples by its split over Kiln's collection windows: those
 * the agent uploaded, for a scheduled condition; for every other condition the windows the plan
 * would have had there, so `none`, `control` and always-on agents give the same split of the
 * same stretches of time to compare with.
 */
function splitByWindows(agent, condition, measured, onAtMs, offAtMs) {
  const scheduled = isScheduled(agent, condition)
  const uploaded = scheduled
    ? uploadedWindows(proxy.uploads, serviceName(condition), onAtMs, offAtMs + 5000)
    : []
  for (const phase of Object.values(measured)) {
    const { samples } = phase
    delete phase.samples
    if (!samples) continue
    const endMs = samples.t0 + samples.spanMs
    const windows = scheduled ? uploaded : planWindows(plan, samples.t0, endMs, edgeMs)
    const { latencies, ...split } = splitPhase(samples, windows, edgeMs, plan)
    split.source = scheduled ? 'uploads' : 'plan'
    // The uploaded windows that are the plan's: all of them, unless the agent joined one part
    // way (at start) or followed another plan.
    if (scheduled) {
      const planned = planWindows(plan, samples.t0, endMs, edgeMs)
      split.windowsAsPlanned = windows.filter((w) =>
        planned.some(
          (p) => Math.abs(p.fromMs - w.fromMs) < 100 && Math.abs(p.untilMs - w.untilMs) < 100,
        ),
      ).length
    }
    phase.split = split
    for (const segment of SEGMENTS) {
      pool(`${agent}|${condition}|${phase.phase}|${segment}`, latencies[segment])
    }
  }
}

const started = new Date()
const machine = {
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  node: process.version,
  loadavgAtStart: loadavg(),
  pinned: config.pin,
}
const OFF = ['none', 'control', 'control-long']
const conditionsOf = (agent) => [
  'none',
  ...config[agent],
  'control',
  ...(config.longControl ? ['control-long'] : []),
]
console.log(
  `agent overhead, paired: ${config.rounds} rounds x ${config.agents.map((a) => `${a} [${conditionsOf(a).join(', ')}]`).join(' + ')}; per slice ${config.warmupSec} s warm-up + ${phaseNames.join(' + ')} x ${config.durationSec} s (scheduled Kiln: ${phasesFor('kiln', 'kiln', 0)[0].durationSec} s, whole periods of ${plan.period} x ${plan.windowMs / 1000} s windows); pinned: ${config.pin}; load avg ${machine.loadavgAtStart.map((l) => l.toFixed(2)).join(' ')}`,
)

const services = new Map()
const slices = []
let exitCode = 0
// Interrupted: the services and the Kiln server's data must not outlive the run.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const { child } of services.values()) child.kill('SIGTERM')
    rmSync(dataDir, { recursive: true, force: true })
    process.exit(130)
  })
}
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
  config.rate = rate

  for (let round = 0; round < config.rounds; round++) {
    for (const [agent, service] of services) {
      const conditions = conditionsOf(agent)
      const order = conditions.map((_, i) => conditions[(i + round) % conditions.length])
      for (const condition of order) {
        const on = !OFF.includes(condition)
        const phases = phasesFor(agent, condition, rate)
        if (on) await alignStart(agent, condition)
        const onAtMs = Date.now()
        if (on) await switchAgent(service, true, agentOptions(agent, condition))
        const measured = await load(service, phases, config.warmupSec, true)
        const agentStats = on ? await switchAgent(service, false) : undefined
        const offAtMs = Date.now()
        splitByWindows(agent, condition, measured, onAtMs, offAtMs)
        const checkins = proxy.checkins
          .filter((c) => c.service === serviceName(condition) && c.at >= onAtMs && c.at <= offAtMs)
          .map(({ at, status, plan }) => ({ at, status, plan }))
        slices.push({
          agent,
          round,
          variant: condition,
          onAtMs,
          offAtMs,
          phases: measured,
          agentStats,
          ...(checkins.length > 0 ? { checkins } : {}),
        })
        const line = phaseNames
          .map((p) => {
            const ph = measured[p]
            const w = ph.split?.source === 'uploads' ? ph.split : undefined
            const inWindows = w
              ? ` in windows ${fmt(w.segments.open.seconds + w.segments.inside.seconds, 1)} s (${w.windows.length})`
              : ''
            return `${p} ${fmt(ph.elapsedSec, 0)} s ${fmt(ph.rps)} req/s p99 ${fmt(ph.latencyMs.p99, 2)} ms CPU/req ${fmt(ph.cpuMsPerRequest, 3)} ms others ${fmt(ph.foreignCpuPercent, 0)}%${inWindows}`
          })
          .join(' | ')
        const own = agentStats
          ? ` | agent: ${agentStats.schedule ?? ''} ${agentStats.dutyCycle ?? ''} windows ${agentStats.windowsCollected ?? '-'}, ${agentStats.lastOverheadPercent} % of a core, ${1e6 / agentStats.samplingIntervalMicros} Hz, pauses up to ${agentStats.maxPauseMs} ms`
          : ''
        console.log(
          `${String(round + 1).padStart(2)} ${agent.padEnd(9)} ${condition.padEnd(18)} ${line}${own}`,
        )
      }
    }
  }

  const summaries = {}
  const splits = {}
  for (const agent of services.keys()) {
    const own = slices.filter((s) => s.agent === agent)
    const variants = conditionsOf(agent)
    summaries[agent] = summarize(own, { variants, noisyPercent: config.noisyPercent }, phaseNames)
    splits[agent] = Object.fromEntries(
      phaseNames.map((phase) => [phase, summarizeSplits(own, variants, phase)]),
    )
    console.log(`\n################ the ${agent} process`)
    printSummary(summaries[agent], config, phaseNames)
    printMeans(summaries[agent])
    printThreads(own, conditionsOf(agent))
    printSplits(agent, own, splits[agent])
    printAgentStats(own)
  }
  const uploads = printUploads()
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
    `${JSON.stringify({ kind: 'paired', started, machine, config, summaries, splits, uploads, slices }, null, 2)}\n`,
  )
  console.log(`\nresults: ${out}`)
} catch (error) {
  console.error(error)
  exitCode = 1
} finally {
  for (const { child } of services.values()) child.kill('SIGTERM')
  await sleep(500)
  await proxy.close()
  await kiln.close()
  rmSync(dataDir, { recursive: true, force: true })
}
process.exit(exitCode)

/**
 * Medians of the within-round ratios with their distribution-free confidence intervals, and
 * means with their 95 % confidence intervals.
 */
function printMeans(summary) {
  console.log(
    '\nmedian of the within-round ratios [its confidence interval, coverage]; mean ± 95 % interval:',
  )
  for (const phase of phaseNames) {
    for (const [variant, r] of Object.entries(summary[phase].ratio)) {
      const show = (s) => {
        if (!s.n) return '-'
        const { lo, hi, coverage } = s.medianCi
        const ci = Number.isFinite(lo)
          ? ` [${signed((lo - 1) * 100, 1)}, ${signed((hi - 1) * 100, 1)}; ${fmt(coverage * 100, 0)} %]`
          : ''
        return `${signed((s.median - 1) * 100, 2)}%${ci}; ${signed((s.mean - 1) * 100, 2)}% ±${fmt(s.ci95 * 100, 2)}`
      }
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

/**
 * What happened around Kiln's collection windows, per condition: each part's rate against
 * `none`'s rate over its whole phase (median over rounds), and its latencies pooled over rounds.
 * For scheduled conditions the parts are around the windows the agent uploaded; for the others
 * around the same stretches of time (the plan's windows), as a reference.
 */
function printSplits(agent, own, split) {
  for (const phase of phaseNames) {
    const variants = Object.keys(split[phase])
    if (variants.length === 0) continue
    console.log(
      `\n${phase}: by collection window (open: first ${edgeMs / 1000} s of a window; inside: the rest; close: ${edgeMs / 1000} s after it; outside: the rest of the period)`,
    )
    console.log(
      '  condition          part      seconds  rate / none (median [quartiles])  p50 ms  p99 ms  p99.9 ms   max ms   (pooled)',
    )
    for (const variant of ['none', ...variants]) {
      for (const segment of SEGMENTS) {
        const lat = latencySummary(pooled.get(`${agent}|${variant}|${phase}|${segment}`) ?? [])
        const r = split[phase][variant]?.[segment]
        const seconds =
          r?.seconds ??
          own
            .filter((s) => s.variant === variant)
            .reduce((a, s) => a + (s.phases[phase].split?.segments[segment].seconds ?? 0), 0)
        const ratio = r?.rpsRatio.n
          ? `${signed((r.rpsRatio.median - 1) * 100, 1)} % [${signed((r.rpsRatio.q1 - 1) * 100, 1)}, ${signed((r.rpsRatio.q3 - 1) * 100, 1)}]`
          : '-'
        console.log(
          `  ${variant.padEnd(18)} ${segment.padEnd(8)} ${fmt(seconds, 0).padStart(8)}  ${ratio.padEnd(33)} ${fmt(lat.p50, 2).padStart(6)} ${fmt(lat.p99, 2).padStart(7)} ${fmt(lat.p999, 2).padStart(9)} ${fmt(lat.max, 1).padStart(8)}`,
        )
      }
    }
    console.log(
      `  rate / none by window of the period, counted from the collecting one (0), median over rounds:`,
    )
    for (const variant of variants) {
      const cells = (split[phase][variant].byOffset ?? []).map(
        (r, i) => `${i}: ${r.n ? `${signed((r.median - 1) * 100, 1)} %` : '-'}`,
      )
      console.log(`    ${variant.padEnd(16)} ${cells.join('  ')}`)
    }
    // A scheduled condition's loss, apart: the window with the second after it, and the rest
    // of the period, each weighted by its share of the time.
    for (const variant of variants) {
      const r = split[phase][variant]
      if (!own.some((s) => s.variant === variant && s.phases[phase].split?.source === 'uploads')) {
        continue
      }
      const total = r.window.seconds + r.outside.seconds
      const wShare = r.window.seconds / total
      const lossWindow = wShare * (1 - r.window.rpsRatio.median)
      const lossOutside = (1 - wShare) * (1 - r.outside.rpsRatio.median)
      console.log(
        `  ${variant}: window + ${edgeMs / 1000} s after it ${fmt(wShare * 100, 1)} % of the time at ${signed((r.window.rpsRatio.median - 1) * 100, 1)} %, outside ${fmt((1 - wShare) * 100, 1)} % at ${signed((r.outside.rpsRatio.median - 1) * 100, 1)} %: throughput loss from the windows ${fmt(lossWindow * 100, 2)} points, from outside ${fmt(lossOutside * 100, 2)} points`,
      )
    }
  }
}

/** Kiln's own figures per condition (its getStats() at the end of each slice), medians. */
function printAgentStats(own) {
  const byVariant = new Map()
  for (const s of own) {
    if (s.agentStats?.collectCpuMicros === undefined) continue
    if (!byVariant.has(s.variant)) byVariant.set(s.variant, [])
    byVariant.get(s.variant).push(s)
  }
  if (byVariant.size === 0) return
  console.log("\nKiln's own figures per slice (median over rounds):")
  for (const [variant, list] of byVariant) {
    const m = (f) => median(list.map(f))
    const seconds = (s) => (s.offAtMs - s.onAtMs) / 1000
    const plans = [
      ...new Set(list.flatMap((s) => (s.checkins ?? []).map((c) => JSON.stringify(c.plan)))),
    ]
    console.log(
      `  ${variant.padEnd(18)} ${list[0].agentStats.schedule} (duty cycle ${list[0].agentStats.dutyCycle}), windows ${fmt(
        m((s) => s.agentStats.windowsCollected),
        0,
      )} per slice, collection + profiler starts ${fmt(
        m((s) => s.agentStats.collectCpuMicros / 1000),
        0,
      )} ms CPU, profiler thread ${fmt(
        m((s) => s.agentStats.profilerCpuMicros / 1000),
        0,
      )} ms: ${fmt(
        m(
          (s) =>
            (s.agentStats.collectCpuMicros + s.agentStats.profilerCpuMicros) /
            10 /
            seconds(s) /
            1000,
        ),
        3,
      )} % of a core over the slice; longest pause ${fmt(
        m((s) => s.agentStats.maxPauseMs),
        1,
      )} ms${plans.length ? `; plans ${plans.join(' ')}` : ''}`,
    )
  }
}

/** Uploads and check-ins that went through the proxy, by service; failures in full. */
function printUploads() {
  const out = {}
  for (const u of proxy.uploads) {
    out[u.service] ??= { uploads: 0, ok: 0, bytes: 0, checkins: 0, checkinsOk: 0, failures: [] }
    const o = out[u.service]
    o.uploads++
    o.bytes += u.bytes
    if (u.status >= 200 && u.status < 300) o.ok++
    else if (o.failures.length < 5) o.failures.push(u)
  }
  for (const c of proxy.checkins) {
    out[c.service] ??= { uploads: 0, ok: 0, bytes: 0, checkins: 0, checkinsOk: 0, failures: [] }
    out[c.service].checkins++
    if (c.status >= 200 && c.status < 300) out[c.service].checkinsOk++
    else if (out[c.service].failures.length < 5) out[c.service].failures.push(c)
  }
  console.log('\nuploads accepted by Kiln, by service:')
  for (const [service, o] of Object.entries(out)) {
    const checkins = o.checkins ? `; check-ins ${o.checkinsOk}/${o.checkins} answered` : ''
    console.log(
      `  ${service}: ${o.ok}/${o.uploads} (${fmt(o.bytes / 1024, 0)} KiB)${checkins}${o.failures.map((f) => `\n    failed: ${JSON.stringify(f).slice(0, 300)}`).join('')}`,
    )
  }
  return out
}
