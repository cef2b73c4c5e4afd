// The load generator, run as its own process (never inside the service). After a discarded
// warm-up it runs each phase and prints one JSON line with throughput, latency percentiles and
// the service's CPU and memory per phase.
//
//   node load.mjs '{"url":"http://127.0.0.1:PORT","pid":PID,"connections":8,"warmupSec":2,
//     "serviceCpu":1,"phases":[{"name":"saturated","rate":0,"durationSec":10},
//                              {"name":"paced","rate":450,"durationSec":10}]}'
//
// - rate 0, "saturated": autocannon, closed loop. Each connection sends its next request when
//   the last is answered, so throughput is the service's capacity and CPU overhead shows as lost
//   throughput.
// - rate > 0, "paced": open loop at a steady rate, evenly spaced, on keep-alive connections
//   (as many as needed). Latency counts from when a request was due, so a request that waits
//   behind an event-loop pause is charged for it (no coordinated omission). autocannon's own
//   `overallRate` is not used: it sends each second's quota as fast as it can and then idles,
//   a burst every second, which measures queueing rather than the service.
//
// Latencies are kept at sub-millisecond resolution (autocannon's histogram rounds to whole
// milliseconds, too coarse for a 3 % budget on a few milliseconds).
import { readdirSync, readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { QUERIES, makeOrder } from './workload.mjs'

const opts = JSON.parse(process.argv[2])
const CLK_TCK = 100 // Linux USER_HZ: /proc counts CPU time in these ticks

/** The 16 requests every connection cycles through: 8 checkout quotes, 8 catalog searches. */
const requests = []
for (let i = 0; i < 8; i++) {
  requests.push({
    method: 'POST',
    path: '/api/checkout/quote',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(makeOrder(i + 1)),
  })
  requests.push({
    method: 'GET',
    path: `/api/catalog/search?q=${encodeURIComponent(QUERIES[i])}&page=${i % 3}`,
  })
}

/** CPU time (user + system, every thread) of a process, in ms. */
function processCpuMs(pid) {
  // The fields after the command name (which may hold spaces); utime, stime are fields 14, 15.
  const raw = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ')
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK_TCK
}

/**
 * A process's main thread (its event loop), from schedstat: `runMs`, the CPU it used, and
 * `waitMs`, how long it sat runnable but waiting for a CPU, the direct measure of how much
 * other processes got in its way.
 */
function mainThreadSchedMs(pid) {
  const [runNs, waitNs] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')
  return { runMs: Number(runNs) / 1e6, waitMs: Number(waitNs) / 1e6 }
}

/**
 * CPU time of each of the service's threads, summed by thread name, in ms: `node` (the main
 * thread and unnamed ones), `v8:ProfEvntProc` (V8's CPU profiler, where an agent's sampling
 * work happens), V8's GC helpers, libuv's pool. Threads that end between two readings are
 * missing from the second: compare names that live through a phase.
 */
function threadCpuMsByName(pid) {
  const out = {}
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
      const [runNs] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')
      out[name] = (out[name] ?? 0) + Number(runNs) / 1e6
    } catch {
      // the thread ended while we read it
    }
  }
  return out
}

function processMemory(pid) {
  const raw = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(raw)?.[1] ?? 0) * 1024
  return { rssBytes: kib('VmRSS'), hwmBytes: kib('VmHWM') }
}

/**
 * Busy and steal ms of `/proc/stat` line `cpu` (the machine) or `cpuN`. Steal is time the
 * hypervisor gave another guest: on a shared VM, that is noise too.
 */
function cpuTicks(cpu) {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${cpu} `))
  const [user, nice, system, , , irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  return {
    busyMs: ((user + nice + system + irq + softirq) * 1000) / CLK_TCK,
    stealMs: (steal * 1000) / CLK_TCK,
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

class Recorder {
  latencies = new Float64Array(1 << 16)
  count = 0
  failed = 0

  record(ok, ms) {
    if (!ok) {
      this.failed++
      return
    }
    if (this.count === this.latencies.length) {
      const bigger = new Float64Array(this.latencies.length * 2)
      bigger.set(this.latencies)
      this.latencies = bigger
    }
    this.latencies[this.count++] = ms
  }
}

function closedLoop(durationSec, recorder) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: opts.url, connections: opts.connections, duration: durationSec, requests },
      (error, result) => (error ? reject(error) : resolve({ errors: result.errors })),
    )
    if (recorder) {
      instance.on('response', (_client, status, _bytes, ms) =>
        recorder.record(status >= 200 && status < 300, ms),
      )
    }
  })
}

async function openLoop(durationSec, rate, recorder) {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 })
  const url = new URL(opts.url)
  const intervalMs = 1000 / rate
  const start = performance.now()
  const end = start + durationSec * 1000
  const pending = new Set()
  let errors = 0
  let maxLagMs = 0
  let next = start
  let i = 0
  const fire = (due, spec) => {
    const done = new Promise((resolve) => {
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: spec.path,
          method: spec.method,
          headers: spec.headers,
        },
        (res) => {
          res.resume()
          res.on('end', () => {
            recorder.record(res.statusCode >= 200 && res.statusCode < 300, performance.now() - due)
            resolve()
          })
        },
      )
      req.on('error', () => {
        errors++
        resolve()
      })
      req.end(spec.body)
    })
    pending.add(done)
    done.then(() => pending.delete(done))
  }
  while (next < end) {
    const now = performance.now()
    maxLagMs = Math.max(maxLagMs, now - next)
    while (next <= now && next < end) {
      fire(next, requests[i++ % requests.length])
      next += intervalMs
    }
    await sleep(Math.max(0, next - performance.now()))
  }
  await Promise.all(pending)
  agent.destroy()
  return { errors, generatorMaxLagMs: maxLagMs }
}

/** One measured phase, with the service's CPU, memory and the noise on its core around it. */
async function measure(phase) {
  const recorder = new Recorder()
  // Noise: CPU used on the service's core (the machine, unpinned) by anything but the service
  // and this load generator while the phase ran.
  const cpuLine = opts.serviceCpu === undefined ? 'cpu' : `cpu${opts.serviceCpu}`
  const ticksBefore = cpuTicks(cpuLine)
  const selfBefore = process.cpuUsage()
  const cpuBeforeMs = processCpuMs(opts.pid)
  const mainBefore = mainThreadSchedMs(opts.pid)
  const threadsBefore = threadCpuMsByName(opts.pid)
  const selfWaitBeforeMs = mainThreadSchedMs(process.pid).waitMs
  const started = performance.now()
  const extra =
    phase.rate > 0
      ? await openLoop(phase.durationSec, phase.rate, recorder)
      : await closedLoop(phase.durationSec, recorder)
  const elapsedSec = (performance.now() - started) / 1000
  const cpuMs = processCpuMs(opts.pid) - cpuBeforeMs
  const mainAfter = mainThreadSchedMs(opts.pid)
  const mainCpuMs = mainAfter.runMs - mainBefore.runMs
  const threadsAfter = threadCpuMsByName(opts.pid)
  const threadCpuMs = Object.fromEntries(
    Object.entries(threadsAfter).map(([name, ms]) => [name, ms - (threadsBefore[name] ?? 0)]),
  )
  const waitMs = mainAfter.waitMs - mainBefore.waitMs
  const selfWaitMs = mainThreadSchedMs(process.pid).waitMs - selfWaitBeforeMs
  const ticksAfter = cpuTicks(cpuLine)
  const self = process.cpuUsage(selfBefore)
  const selfMs = opts.serviceCpu === undefined ? (self.user + self.system) / 1000 : 0
  const stealMs = ticksAfter.stealMs - ticksBefore.stealMs
  const foreignMs = Math.max(0, ticksAfter.busyMs - ticksBefore.busyMs + stealMs - cpuMs - selfMs)

  const { count } = recorder
  const sorted = recorder.latencies.subarray(0, count).sort()
  let sum = 0
  for (const v of sorted) sum += v
  return {
    phase: phase.name,
    rate: phase.rate,
    requests: count,
    failed: recorder.failed,
    elapsedSec,
    rps: count / elapsedSec,
    latencyMs: {
      mean: sum / Math.max(1, count),
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9),
      max: sorted[count - 1] ?? 0,
    },
    ...extra,
    cpuMs,
    cpuMsPerRequest: cpuMs / Math.max(1, count),
    /** The main thread's share: the event loop, where a profiler's signal handler runs too. */
    mainCpuMsPerRequest: mainCpuMs / Math.max(1, count),
    /** CPU ms of the service's threads over the phase, by thread name. */
    threadCpuMs,
    /** Other processes' CPU and steal on the service's core, in % of that core. */
    foreignCpuPercent: foreignMs / 10 / elapsedSec,
    stealPercent: stealMs / 10 / elapsedSec,
    /** Time the service's event loop was ready to run but waited for the CPU, in %. */
    runQueueWaitPercent: waitMs / 10 / elapsedSec,
    /** The same for this load generator: its delays show up as latency too. */
    generatorRunQueueWaitPercent: selfWaitMs / 10 / elapsedSec,
    ...processMemory(opts.pid),
  }
}

if (opts.warmupSec > 0) await closedLoop(opts.warmupSec)
const phases = []
for (const phase of opts.phases) phases.push(await measure(phase))
process.stdout.write(`${JSON.stringify({ phases })}\n`)
