// Agent overhead benchmark: the same Fastify service under the same load without an agent,
// with Kiln's agent and with @pyroscope/nodejs, alternated slice after slice, each compared
// with the no-agent service of the same round. See bench/README.md ("Agent overhead").
//
//   node bench/agent-overhead/run.mjs            # 5 rounds, about 9 minutes
//   node bench/agent-overhead/run.mjs --quick    # 2 short rounds, about 2 minutes
//   node bench/agent-overhead/run.mjs --help
//
// Each round starts a fresh process per variant (its profiler loaded from the command line),
// lets the agents run through their first collections, then loads one service at a time while
// it has CPU 1 to itself. The next round's processes start while this one is measured.
import { spawn } from 'node:child_process'
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
  exited,
  OTHER_CPU,
  pinner,
  runLoad,
  SERVICE_CPU,
  serviceUrl,
  sleep,
  startRecordingProxy,
} from './harness.mjs'
import { fmt, isQuiet, printSummary, summarize } from './stats.mjs'
import { lonePlan, SCHEDULE_DEFAULTS } from './windows.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'min-quiet': { type: 'string', default: '0' },
    'max-rounds': { type: 'string', default: '15' },
    warmup: { type: 'string', default: '2' },
    duration: { type: 'string', default: '10' },
    periods: { type: 'string', default: '1' },
    'window-ms': { type: 'string', default: String(SCHEDULE_DEFAULTS.windowMs) },
    settle: { type: 'string', default: '25' },
    connections: { type: 'string', default: '8' },
    rate: { type: 'string', default: '0' },
    'rate-fraction': { type: 'string', default: '0.3' },
    'noisy-percent': { type: 'string', default: '5' },
    mode: { type: 'string', default: 'both' },
    variants: { type: 'string', default: 'none,kiln,pyroscope,control' },
    reuse: { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})

const VARIANTS = {
  none: 'no agent (the baseline)',
  control: 'no agent again: the A/A control, whose ratio to none is the noise floor',
  kiln: "Kiln agent at its defaults (`--import @kiln/agent/register`): the server's schedule",
  'kiln-always': 'Kiln agent, time profiler always on (KILN_SCHEDULE=always)',
  'kiln-100hz': "Kiln agent at Pyroscope's settings: always on, 100 Hz, heap every 512 KiB",
  'kiln-labels': 'Kiln agent, every handler wrapped in withLabels({ route })',
  'kiln-nosourcemaps':
    'Kiln agent with KILN_SOURCE_MAPS=false (no profiler restart once maps load)',
  'kiln-timeonly': 'Kiln agent, CPU + wall only (KILN_HEAP=false)',
  'kiln-heaponly': 'Kiln agent, heap only (KILN_WALL=false)',
  pyroscope: '@pyroscope/nodejs 0.6.4 at its default rates (pyroscope-settings.mjs)',
}

if (flags.help) {
  console.log(`usage: node bench/agent-overhead/run.mjs [flags]
  --rounds N          rounds; each starts fresh processes and loads every variant once,
                      in rotated order (5)
  --min-quiet K       after --rounds, keep going until every variant has K quiet phases of
                      each kind (see --noisy-percent), up to --max-rounds (0: off)
  --max-rounds R      (15)
  --warmup S          discarded warm-up at the start of each slice, seconds; +3 s the first
                      time a process is loaded (2)
  --duration S        each measured phase, seconds; keep it a multiple of the 10 s upload
                      interval so every phase holds the same share of collections (10)
  --periods K         phases of scheduled Kiln variants (all but kiln-always, kiln-100hz)
                      last K whole periods of the schedule, at least --duration (1: 80 s)
  --window-ms MS      collection window of the Kiln server's schedule and of the agent's local
                      duty cycle (KILN_WINDOW_MS), scaled together (10000)
  --settle S          a process is measured only once its agent ran S seconds (25)
  --connections C     autocannon connections in the saturated phase (8)
  --mode M            saturated | paced | both (both)
  --rate R            paced phase, requests/s; 0 = rate-fraction x no-agent capacity (0)
  --rate-fraction F   paced rate as a fraction of the no-agent capacity, estimated as
                      1 / (CPU time per request) so a busy machine does not skew it (0.3)
  --variants LIST     from ${Object.keys(VARIANTS).join(',')}
                      (none,kiln,pyroscope,control); none is required
  --noisy-percent P   a phase is noisy when other processes used more than P % of CPU 1 (5)
  --reuse             keep the same processes for every round (steady state, long-lived)
                      instead of fresh ones per round
  --no-pin            do not move the loaded service to CPU 1 and the rest to CPU 0
  --quick             2 rounds, 1 s warm-up, 5 s phases, 12 s settle
  --out FILE          JSON results (bench/results/agent-overhead-<time>.json)`)
  process.exit(0)
}

const quick = flags.quick
const config = {
  rounds: quick ? 2 : Number(flags.rounds),
  minQuiet: Number(flags['min-quiet']),
  maxRounds: Number(flags['max-rounds']),
  warmupSec: quick ? 1 : Number(flags.warmup),
  durationSec: quick ? 5 : Number(flags.duration),
  periods: Number(flags.periods),
  windowMs: Number(flags['window-ms']),
  settleSec: quick ? 12 : Number(flags.settle),
  connections: Number(flags.connections),
  rate: Number(flags.rate),
  rateFraction: Number(flags['rate-fraction']),
  noisyPercent: Number(flags['noisy-percent']),
  mode: flags.mode,
  variants: flags.variants.split(',').filter(Boolean),
  pin: !flags['no-pin'] && canPin(),
  reuse: flags.reuse,
}
const phaseNames = config.mode === 'both' ? ['saturated', 'paced'] : [config.mode]
// Each service is alone in its own: the Kiln server plans one window in `period` for it.
const plan = lonePlan({ windowMs: config.windowMs, maxShare: SCHEDULE_DEFAULTS.maxShare })
const isScheduled = (variant) =>
  variant.startsWith('kiln') && variant !== 'kiln-always' && variant !== 'kiln-100hz'
if (!config.variants.includes('none') || config.variants.some((v) => !(v in VARIANTS))) {
  console.error(`--variants must include none and only name ${Object.keys(VARIANTS).join(', ')}`)
  process.exit(2)
}
if (!['saturated', 'paced', 'both'].includes(config.mode)) {
  console.error('--mode must be saturated, paced or both')
  process.exit(2)
}

// Where things run: see harness.mjs (the loaded service on CPU 1, everything else on CPU 0).
const pin = pinner(config.pin)
pin(process.pid, OTHER_CPU)

// ---------------------------------------------------------------------------------------------
// A real Kiln server behind a recording proxy (harness.mjs): both agents upload to the proxy,
// which forwards to Kiln and notes who sent what and what Kiln answered (and Kiln's agent
// counters, from its x-kiln-agent-stats header); Kiln's schedule check-ins are noted apart.
// Service names are bench-<variant>-g<round>.
// ---------------------------------------------------------------------------------------------
const dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-overhead-'))
const kiln = await startServer({
  port: 0,
  dataDir,
  logLevel: 'warn',
  scheduleWindowMs: config.windowMs,
})
const proxy = await startRecordingProxy(kiln.url)
const proxyUrl = proxy.url
/** The proxy's uploads with the variant and round (generation) their service name says. */
const uploadsOf = () =>
  proxy.uploads.map((u) => {
    const [, variant = '?', generation = '-1'] = /^bench-(.+)-g(\d+)$/.exec(u.service) ?? []
    return { ...u, variant, generation: Number(generation) }
  })

// ---------------------------------------------------------------------------------------------
// The services: one process per variant and round, the profiler loaded from the command line.
// ---------------------------------------------------------------------------------------------
const serviceScript = join(here, 'service.mjs')

function variantLaunch(variant, generation) {
  const name = `bench-${variant}-g${generation}`
  const env = agentFreeEnv()
  if (variant === 'none' || variant === 'control') return { args: [serviceScript], env }
  if (variant.startsWith('kiln')) {
    return {
      args: ['--import', '@kiln/agent/register', serviceScript],
      env: {
        ...env,
        KILN_SERVER_URL: proxyUrl,
        KILN_SERVICE: name,
        KILN_VERSION: '1.0.0',
        KILN_WINDOW_MS: String(config.windowMs),
        ...(isScheduled(variant) ? {} : { KILN_SCHEDULE: 'always' }),
        ...(variant === 'kiln-labels' ? { BENCH_WITH_LABELS: '1' } : {}),
        ...(variant === 'kiln-100hz'
          ? { KILN_SAMPLING_INTERVAL_MICROS: '10000', KILN_HEAP_SAMPLING_INTERVAL_BYTES: '524288' }
          : {}),
        ...(variant === 'kiln-nosourcemaps' ? { KILN_SOURCE_MAPS: 'false' } : {}),
        ...(variant === 'kiln-timeonly' ? { KILN_HEAP: 'false' } : {}),
        ...(variant === 'kiln-heaponly' ? { KILN_WALL: 'false' } : {}),
      },
    }
  }
  return {
    args: ['--import', join(here, 'pyroscope-preload.mjs'), serviceScript],
    env: { ...env, PYROSCOPE_SERVER_ADDRESS: proxyUrl, PYROSCOPE_APPLICATION_NAME: name },
  }
}

async function startService(variant, generation) {
  const launch = variantLaunch(variant, generation)
  const child = spawn(process.execPath, launch.args, { cwd: benchDir, env: launch.env })
  pin(child.pid, OTHER_CPU)
  const output = collectOutput(child)
  const url = await serviceUrl(child, output, variant)
  return { variant, generation, child, output, url, startedAt: Date.now(), loaded: false }
}

async function startGeneration(generation) {
  const services = new Map()
  for (const variant of config.variants) {
    services.set(variant, await startService(variant, generation))
  }
  return services
}

const stderrs = []
async function stopGeneration(services) {
  for (const { child } of services.values()) child.kill('SIGTERM')
  await Promise.all([...services.values()].map(({ child }) => exited(child)))
  for (const s of services.values()) {
    const text = s.output.stderr.trim()
    if (text) stderrs.push({ variant: s.variant, generation: s.generation, stderr: text })
  }
}

/** Load one service: move it to CPU 1, warm up, measure each phase, move it back. */
async function loadSlice(service, phases, warmupSec) {
  pin(service.child.pid, SERVICE_CPU)
  try {
    const options = {
      url: service.url,
      pid: service.child.pid,
      connections: config.connections,
      ...(config.pin ? { serviceCpu: Number(SERVICE_CPU) } : {}),
      // A process loaded for the first time warms its JIT for 3 s more.
      warmupSec: warmupSec + (service.loaded ? 0 : 3),
      phases,
    }
    service.loaded = true
    return await runLoad(options, pin)
  } finally {
    pin(service.child.pid, OTHER_CPU)
  }
}

function kilnStatsOf(variant, generation) {
  return uploadsOf()
    .filter((u) => u.variant === variant && u.generation === generation && u.agentStats)
    .at(-1)?.agentStats
}

/**
 * What each agent sent, and for Kiln what it says about itself. Each upload carries the
 * agent's counters as they were when it was sent: the distinct cumulative collection-CPU
 * values give the cost of each collection (the last may be missing), and the sampling rate
 * shows when the overhead budget slowed sampling down.
 */
function uploadSummary(variant) {
  const own = uploadsOf().filter((u) => u.variant === variant)
  const failed = own.filter((u) => u.error || u.status < 200 || u.status >= 300)
  const processes = []
  for (const generation of [...new Set(own.map((u) => u.generation))].sort((a, b) => a - b)) {
    const withStats = own.filter((u) => u.generation === generation && u.agentStats)
    if (withStats.length === 0) continue
    const cumulative = [...new Set(withStats.map((u) => u.agentStats.collectCpuMicros))]
    const last = withStats.at(-1).agentStats
    processes.push({
      generation,
      collectCpuMs: cumulative
        .filter(Boolean)
        .map((v, i, all) => Math.round((v - (all[i - 1] ?? 0)) / 100) / 10),
      samplingHz: [...new Set(withStats.map((u) => 1e6 / u.agentStats.samplingIntervalMicros))],
      profilesDropped: last.profilesDropped,
      uploadsFailed: last.uploadsFailed,
    })
  }
  const checkins = proxy.checkins.filter((c) => c.service?.startsWith(`bench-${variant}-g`))
  return {
    count: own.length,
    ok: own.length - failed.length,
    checkins: checkins.length,
    checkinsOk: checkins.filter((c) => c.status >= 200 && c.status < 300).length,
    bytes: own.reduce((s, u) => s + u.bytes, 0),
    failures: failed.slice(0, 5),
    ...(processes.length > 0 ? { kilnProcesses: processes } : {}),
  }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------
const started = new Date()
const machine = {
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  node: process.version,
  loadavgAtStart: loadavg(),
  pinned: config.pin,
}
console.log(
  `agent overhead: ${config.rounds} rounds x [${config.variants.join(', ')}]; per slice ${config.warmupSec} s warm-up + ${phaseNames.join(' + ')} x ${config.durationSec} s; pinned: ${config.pin}; load avg ${machine.loadavgAtStart.map((l) => l.toFixed(2)).join(' ')}`,
)

const slices = []
let current
let next
let exitCode = 0
try {
  current = await startGeneration(0)
  // Scheduled variants are measured over whole periods of their schedule (see windows.mjs).
  const periodSec = plan.periodMs / 1000
  const scheduledSec =
    Math.max(config.periods, Math.ceil(config.durationSec / periodSec - 1e-9)) * periodSec
  const phases = phaseNames.map((name) => ({
    name,
    rate: name === 'paced' ? config.rate : 0,
    durationSec: config.durationSec,
  }))
  const phasesOf = (variant) =>
    isScheduled(variant) ? phases.map((p) => ({ ...p, durationSec: scheduledSec })) : phases
  const quietEnough = () =>
    config.variants.every((variant) =>
      phaseNames.every(
        (phase) =>
          slices.filter(
            (x) => x.variant === variant && isQuiet(x.phases[phase], config.noisyPercent),
          ).length >= config.minQuiet,
      ),
    )
  for (
    let round = 0;
    round < config.rounds || (round < config.maxRounds && !quietEnough());
    round++
  ) {
    // The next round's processes start now, on CPU 0, and settle while this round runs.
    const mayContinue =
      round + 1 < config.rounds || (config.minQuiet > 0 && round + 1 < config.maxRounds)
    if (mayContinue && !config.reuse) next = startGeneration(round + 1)
    const oldest = Math.min(...[...current.values()].map((s) => s.startedAt))
    await sleep(config.settleSec * 1000 - (Date.now() - oldest))
    if (round === 0 && phases.some((p) => p.name === 'paced' && !(p.rate > 0))) {
      const calibration = [{ name: 'saturated', rate: 0, durationSec: 4 }]
      const { saturated } = await loadSlice(current.get('none'), calibration, config.warmupSec)
      // One core's worth of requests at the measured CPU cost: throughput itself would drop
      // whenever another process takes a share of the core.
      const capacity = 1000 / saturated.cpuMsPerRequest
      config.rate = Math.round(capacity * config.rateFraction)
      for (const p of phases) if (p.name === 'paced') p.rate = config.rate
      console.log(
        `no agent: ${fmt(saturated.cpuMsPerRequest, 3)} ms CPU per request, ~${fmt(capacity, 0)} req/s per core -> paced phase at ${config.rate} req/s`,
      )
    }
    // Rotate the order so no variant always comes first or right after the same one.
    const n = config.variants.length
    const order = config.variants.map((_, i) => config.variants[(i + round) % n])
    for (const variant of order) {
      const slicePhases = await loadSlice(current.get(variant), phasesOf(variant), config.warmupSec)
      const stats = kilnStatsOf(variant, current.get(variant).generation)
      const slice = {
        round,
        variant,
        processAgeSec: Math.round((Date.now() - current.get(variant).startedAt) / 1000),
        at: new Date().toISOString(),
        phases: slicePhases,
        ...(stats ? { kilnSamplingHz: 1e6 / stats.samplingIntervalMicros } : {}),
      }
      slices.push(slice)
      const line = phaseNames
        .map((p) => {
          const ph = slice.phases[p]
          return `${p} ${fmt(ph.rps)} req/s p99 ${fmt(ph.latencyMs.p99, 2)} ms CPU/req ${fmt(ph.cpuMsPerRequest, 3)} ms others ${fmt(ph.foreignCpuPercent, 0)}%`
        })
        .join(' | ')
      const hz = stats ? ` | ${slice.kilnSamplingHz} Hz` : ''
      const age = `${slice.processAgeSec} s`.padStart(5)
      console.log(`${String(round + 1).padStart(2)} ${variant.padEnd(11)} ${age} ${line}${hz}`)
    }
    if (!config.reuse) {
      await stopGeneration(current)
      current = next ? await next : undefined
      next = undefined
    }
  }

  const agents = {}
  for (const variant of config.variants) {
    const summary = uploadSummary(variant)
    agents[variant] = { description: VARIANTS[variant], uploads: summary }
    if (variant === 'none' || variant === 'control') continue
    const checkins = summary.checkins
      ? `; ${summary.checkinsOk}/${summary.checkins} check-ins answered`
      : ''
    console.log(`${variant}: ${summary.ok}/${summary.count} uploads accepted by Kiln${checkins}`)
    for (const p of summary.kilnProcesses ?? []) {
      console.log(
        `  round ${p.generation + 1}: sampling ${p.samplingHz.join(' -> ')} Hz; collections ${p.collectCpuMs.join('/')} ms CPU; dropped ${p.profilesDropped}`,
      )
    }
    for (const f of summary.failures) console.log(`  upload failed: ${JSON.stringify(f)}`)
  }
  for (const { variant, generation, stderr } of stderrs) {
    console.log(`stderr of ${variant} (round ${generation + 1}): ${stderr.slice(0, 300)}`)
  }

  const summary = summarize(slices, config, phaseNames)
  printSummary(summary, config, phaseNames)
  machine.loadavgAtEnd = loadavg()
  const stamp = started.toISOString().replace(/[:.]/g, '-')
  const out = flags.out ?? join(benchDir, 'results', `agent-overhead-${stamp}.json`)
  mkdirSync(join(out, '..'), { recursive: true })
  const report = { started, machine, config, summary, agents, stderrs, slices }
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`)
  console.log(`\nresults: ${out}`)
} catch (error) {
  console.error(error)
  exitCode = 1
} finally {
  for (const services of [current, await next?.catch(() => undefined)]) {
    if (services) await stopGeneration(services)
  }
  await proxy.close()
  await kiln.close()
  rmSync(dataDir, { recursive: true, force: true })
}
process.exit(exitCode)
