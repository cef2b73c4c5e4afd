// The load generator, run as its own process (never inside the service). After a discarded
// warm-up it runs each phase and prints one JSON line with throughput, latency percentiles and
// the service's CPU and memory per phase.
//
// With `"samples": true` each phase also lists every request's time and latency (windows.mjs
// splits them by Kiln's collection windows).
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
import { clearInterval, setInterval } from 'node:timers'
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

/** CPU time (ns) and name of each of a process's threads now, by thread id. */
function threadCpu(pid) {
  const out = new Map()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
      const [runNs] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')
      out.set(tid, { name, ns: Number(runNs) })
    } catch {
      // the thread ended while we read it
    }
  }
  return out
}

/**
 * CPU time of each of the service's threads over a phase, summed by thread name, in ms: `node`
 * (the main thread and unnamed ones), `v8:ProfEvntProc` (V8's CPU profiler, where an agent's
 * sampling work happens), V8's GC helpers, libuv's pool. Threads are read every 100 ms, so one
 * that starts and ends within the phase counts too (under a schedule Kiln's agent stops the
 * profiler after each window and its thread ends with it), up to its last 100 ms.
 */
class ThreadWatch {
  #pid
  #first
  #last = new Map()
  #timer

  constructor(pid) {
    this.#pid = pid
    this.#first = threadCpu(pid)
    this.#poll()
    this.#timer = setInterval(() => this.#poll(), 100)
  }

  #poll() {
    for (const [tid, t] of threadCpu(this.#pid)) this.#last.set(tid, t)
  }

  /** ms by thread name since the watch began. */
  stop() {
    clearInterval(this.#timer)
    this.#poll()
    const out = {}
    for (const [tid, { name, ns }] of this.#last) {
      const ms = (ns - (this.#first.get(tid)?.ns ?? 0)) / 1e6
      out[name] = (out[name] ?? 0) + ms
    }
    return out
  }
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

/** Now as Unix ms, at sub-millisecond resolution. */
const epochMs = () => performance.timeOrigin + performance.now()

/** Each successful request's latency, and (for `samples`) when it happened, in Unix ms. */
class Recorder {
  latencies = new Float64Array(1 << 16)
  times = new Float64Array(1 << 16)
  count = 0
  failed = 0

  record(ok, ms, atEpochMs) {
    if (!ok) {
      this.failed++
      return
    }
    if (this.count === this.latencies.length) {
      for (const key of ['latencies', 'times']) {
        const bigger = new Float64Array(this[key].length * 2)
        bigger.set(this[key])
        this[key] = bigger
      }
    }
    this.times[this.count] = atEpochMs
    this.latencies[this.count++] = ms
  }

  /**
   * Per request, when (ms after `t0`, 0.1 ms) and how long (µs resolution), for splitting a
   * phase by Kiln's collection windows (windows.mjs).
   */
  samples(t0, spanMs) {
    const t = new Array(this.count)
    const ms = new Array(this.count)
    for (let i = 0; i < this.count; i++) {
      t[i] = Math.round((this.times[i] - t0) * 10) / 10
      ms[i] = Math.round(this.latencies[i] * 1000) / 1000
    }
    return { t0, spanMs, t, ms }
  }
}

function closedLoop(durationSec, recorder) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: opts.url, connections: opts.connections, duration: durationSec, requests },
      (error, result) => (error ? reject(error) : resolve({ errors: result.errors })),
    )
    if (recorder) {
      // Under saturation a request is placed in time by when it completed: the rate of
      // completions in a stretch of time is the throughput there.
      instance.on('response', (_client, status, _bytes, ms) =>
        recorder.record(status >= 200 && status < 300, ms, epochMs()),
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
            const ok = res.statusCode >= 200 && res.statusCode < 300
            // Paced, by when it was due: what a request met is what was going on then.
            recorder.record(ok, performance.now() - due, performance.timeOrigin + due)
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
  const threads = new ThreadWatch(opts.pid)
  const selfWaitBeforeMs = mainThreadSchedMs(process.pid).waitMs
  const startedEpochMs = epochMs()
  const started = performance.now()
  const extra =
    phase.rate > 0
      ? await openLoop(phase.durationSec, phase.rate, recorder)
      : await closedLoop(phase.durationSec, recorder)
  const elapsedSec = (performance.now() - started) / 1000
  const cpuMs = processCpuMs(opts.pid) - cpuBeforeMs
  const mainAfter = mainThreadSchedMs(opts.pid)
  const mainCpuMs = mainAfter.runMs - mainBefore.runMs
  const threadCpuMs = threads.stop()
  const waitMs = mainAfter.waitMs - mainBefore.waitMs
  const selfWaitMs = mainThreadSchedMs(process.pid).waitMs - selfWaitBeforeMs
  const ticksAfter = cpuTicks(cpuLine)
  const self = process.cpuUsage(selfBefore)
  const selfMs = opts.serviceCpu === undefined ? (self.user + self.system) / 1000 : 0
  const stealMs = ticksAfter.stealMs - ticksBefore.stealMs
  const foreignMs = Math.max(0, ticksAfter.busyMs - ticksBefore.busyMs + stealMs - cpuMs - selfMs)

  const { count } = recorder
  // Before the sort below, which sorts the latencies in place.
  const samples = opts.samples ? recorder.samples(startedEpochMs, elapsedSec * 1000) : undefined
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
    ...(samples ? { samples } : {}),
  }
}

if (opts.warmupSec > 0) await closedLoop(opts.warmupSec)
const phases = []
for (const phase of opts.phases) phases.push(await measure(phase))
process.stdout.write(`${JSON.stringify({ phases })}\n`)
