import { randomUUID } from 'node:crypto'
import { AGENT_STATS_HEADER, formatAppName } from '@kiln/wire'
import { staticLabels, type AgentConfig } from './config.js'
import { stderrLogger, type AgentLogger } from './logger.js'
import { Profiler } from './profiler.js'
import type { Profile, ProfilerBindings } from './profiler-bindings.js'
import { instanceId, scheduleClient } from './schedule-client.js'
import { Scheduler, type CollectionScheduler, type CollectionWindow } from './scheduler.js'
import { emptyStats, type AgentStats } from './stats.js'
import { PROFILER_THREAD, ThreadCpuMeter } from './thread-cpu.js'
import { UploadQueue, type ProfileExporter } from './upload-queue.js'

const SPY_NAME = 'kiln-nodejs'
/** Slowest sampling the overhead budget may back off to (10 Hz). */
const MAX_SAMPLING_INTERVAL_MICROS = 100_000
/** Intervals in a row well under budget before the sampling rate doubles again. */
const INTERVALS_BEFORE_SPEEDUP = 3

/**
 * The agent's three components, each replaceable (tests do): the profiler (what is collected),
 * the scheduler (when), the exporter (how it reaches the server). Missing ones are built from
 * the configuration.
 */
export interface AgentParts {
  /** The native profiler under the default `profiler`. */
  bindings?: ProfilerBindings
  profiler?: Profiler
  scheduler?: CollectionScheduler
  exporter?: ProfileExporter
}

/**
 * One profiling session. The scheduler opens and closes collection windows; at a window's
 * start the time profiler (CPU + wall) starts, at its end the agent takes the window's time
 * profile and a heap snapshot, encodes them and hands them to the exporter. Between windows
 * (`local` and `server` schedules) the time profiler is off. Nothing here throws into the host:
 * a profiler that fails to start disables the agent with one log line.
 */
export class Agent {
  readonly config: AgentConfig
  readonly #stats: AgentStats
  readonly #logger: AgentLogger
  readonly #profiler: Profiler
  readonly #scheduler: CollectionScheduler
  readonly #exporter: ProfileExporter
  readonly #appName: string
  readonly #scheduled: boolean
  #running = false
  #disabled = false
  #collecting: Promise<void> | undefined
  /** Start of what the next profile covers (a window whose close was skipped extends it). */
  #fromMs: number | undefined
  /** Planned length of the open window: what the time profiler is told to expect. */
  #windowLengthMs: number
  /** Set when the time profiler must restart with a new sampling interval at the next collection. */
  #restartTime = false
  readonly #profilerThread = new ThreadCpuMeter(PROFILER_THREAD)
  /** `always`: the next interval holds a (re)start's one-time cost; the budget does not judge it. */
  #settling = true
  #underBudgetStreak = 0
  /** Main-thread CPU of the time profiler's start in the open window, in µs. */
  #startCpuMicros = 0
  /** How long that start held the event loop, in ms. */
  #startPauseMs = 0

  constructor(config: AgentConfig, parts: AgentParts = {}) {
    this.config = config
    this.#stats = emptyStats(
      config.samplingIntervalMicros,
      config.overheadBudgetPercent,
      config.schedule,
    )
    this.#logger = config.logger ?? stderrLogger(config.debug)
    this.#appName = formatAppName(config.service, staticLabels(config))
    this.#scheduled = config.schedule !== 'always'
    this.#windowLengthMs = config.schedule === 'always' ? config.uploadIntervalMs : config.windowMs
    this.#profiler =
      parts.profiler ?? new Profiler({ ...config, logger: this.#logger }, parts.bindings)
    this.#scheduler =
      parts.scheduler ??
      new Scheduler({
        ...config,
        mode: config.schedule,
        logger: this.#logger,
        checkIn: scheduleClient({
          ...config,
          timeoutMs: config.uploadTimeoutMs,
          instance: instanceId(),
        }),
      })
    this.#exporter =
      parts.exporter ??
      new UploadQueue({
        ...config,
        logger: this.#logger,
        stats: this.#stats,
        headers: () => ({ [AGENT_STATS_HEADER]: asciiJson(this.stats) }),
      })
  }

  /** The counters, with what the scheduler follows now. */
  get stats(): AgentStats {
    const { schedule, dutyCycle } = this.#scheduler.state
    this.#stats.schedule = schedule
    this.#stats.dutyCycle = dutyCycle
    return this.#stats
  }

  get running(): boolean {
    return this.#running
  }

  start(): boolean {
    if (this.#running) return true
    if (this.#disabled) return false
    try {
      this.#profiler.start()
    } catch (error) {
      this.#logger.error('profiler failed to start; Kiln agent disabled', { error: String(error) })
      this.#profiler.stop()
      this.#disabled = true
      return false
    }
    this.#running = true
    this.#scheduler.start({
      open: (window) => this.#open(window),
      close: (window, continuing) => this.#close(window, continuing),
    })
    // `always` opens its first window at once: a time profiler that fails to start shows here.
    return this.#running
  }

  /** Collect the open window, stop the profilers and try to upload within `deadlineMs`. */
  async stop(deadlineMs = 2000): Promise<void> {
    if (!this.#running) return
    this.#running = false
    this.#scheduler.stop() // closes the open window, if any: collected like any other
    await this.#collecting
    this.#profiler.stop()
    await this.#exporter.drain(deadlineMs, true)
    if (this.#exporter.size > 0) this.#exporter.discard()
  }

  #open(window: CollectionWindow): void {
    if (this.#disabled) return
    this.#fromMs ??= window.fromMs
    this.#windowLengthMs = window.untilMs - window.fromMs
    if (!this.config.wall || this.#profiler.timeRunning) return
    try {
      const cpuBefore = process.cpuUsage()
      const pauseStart = performance.now()
      this.#profiler.startTime(this.#stats.samplingIntervalMicros, this.#windowLengthMs)
      // V8 registers every compiled function with a new profiler, on this thread: with a large
      // code base this is the longest hold of a window, and the stats must say so.
      this.#startPauseMs = performance.now() - pauseStart
      const used = process.cpuUsage(cpuBefore)
      this.#startCpuMicros = used.user + used.system
    } catch (error) {
      this.#disable('time profiler failed to start; Kiln agent disabled', error)
    }
  }

  #close(window: CollectionWindow, continuing: boolean): void {
    if (this.#disabled) return
    // Still encoding the last profile while the profiler runs on: this window's data goes with
    // the next profile (as it always has at `uploadIntervalMs`). A window that ends the time
    // profiler is always taken now.
    if (this.#collecting && continuing) return
    const fromMs = this.#fromMs ?? window.fromMs
    this.#fromMs = undefined
    this.#stats.windowsCollected++
    const previous = this.#collecting
    const current = this.#collect(fromMs, window.untilMs, continuing)
    const all = previous ? Promise.all([previous, current]).then(() => undefined) : current
    const tracked: Promise<void> = all.finally(() => {
      if (this.#collecting === tracked) this.#collecting = undefined
    })
    this.#collecting = tracked
  }

  #disable(message: string, error: unknown): void {
    this.#logger.error(message, { error: String(error) })
    this.#disabled = true
    this.#running = false
    this.#scheduler.stop()
    this.#profiler.stop()
  }

  /**
   * Collect and queue one window's profiles, one profile type at a time: each is taken and
   * serialized synchronously, then gzipped on libuv's thread pool, and that await lets the
   * host's pending work run before the next type, so the event loop is held for one profile at
   * a time. The time profile comes first, so the time profiler stops (or restarts) at the close,
   * before any await. The main-thread cost is measured around the synchronous parts only:
   * during an await the host's own work runs and would be counted too.
   */
  async #collect(fromMs: number, untilMs: number, continuing: boolean): Promise<void> {
    const startCpuMicros = this.#startCpuMicros
    this.#startCpuMicros = 0
    let cpuMicros = startCpuMicros
    let pauseMs = this.#startPauseMs
    this.#startPauseMs = 0
    try {
      for (const take of this.#profileTakers(continuing)) {
        const cpuBefore = process.cpuUsage()
        const pauseStart = performance.now()
        const bytes = this.#profiler.serialize(take())
        pauseMs = Math.max(pauseMs, performance.now() - pauseStart)
        const used = process.cpuUsage(cpuBefore)
        cpuMicros += used.user + used.system
        const body = await this.#profiler.gzip(bytes)
        this.#stats.profilesCollected++
        this.#exporter.enqueue({
          id: randomUUID(),
          query: this.#query(fromMs, untilMs),
          body,
          attempts: 0,
        })
      }
    } catch (error) {
      this.#stats.lastError = String(error)
      this.#logger.warn('profile collection failed', { error: String(error) })
    } finally {
      // How long the event loop was held at once: a request arriving then waits up to this.
      this.#stats.lastPauseMs = Math.round(pauseMs * 100) / 100
      this.#stats.maxPauseMs = Math.max(this.#stats.maxPauseMs, this.#stats.lastPauseMs)
      this.#stats.collectCpuMicros += cpuMicros
      this.#keepWithinBudget(cpuMicros, startCpuMicros, untilMs - fromMs)
    }
  }

  /** One function per running profiler, each taking its profile of the window. */
  #profileTakers(continuing: boolean): (() => Profile)[] {
    const takers: (() => Profile)[] = []
    if (this.#profiler.timeRunning) takers.push(() => this.#takeTime(continuing))
    if (this.#profiler.heapRunning) takers.push(() => this.#profiler.takeHeap())
    return takers
  }

  #takeTime(continuing: boolean): Profile {
    // Stopping or replacing the time profiler ends V8's profiler thread, and an ended thread's
    // CPU can no longer be read: the meter reads it now (the stop's own profile building on it,
    // a few ms, goes uncounted).
    if (!continuing || this.#restartTime) this.#profilerThread.read()
    if (!continuing) {
      // Stopped until the next window, whose start takes the current sampling interval.
      this.#restartTime = false
      return this.#profiler.takeTime('stop')
    }
    if (this.#restartTime) {
      // A new sampling interval takes a fresh profiler.
      this.#restartTime = false
      this.#settling = true
      return this.#profiler.takeTime({
        intervalMicros: this.#stats.samplingIntervalMicros,
        durationMillis: this.#windowLengthMs,
      })
    }
    return this.#profiler.takeTime('continue')
  }

  /**
   * The overhead budget. The agent's cost over a window is the CPU it spent collecting and
   * encoding and starting the time profiler (measured around those calls) plus the CPU of V8's
   * profiler thread, which takes the samples and builds the profile (read from /proc on Linux).
   * Above `overheadBudgetPercent` of one core the sampling rate halves (down to 10 Hz); after
   * several windows in a row at under 40 % of the budget, so that twice the rate would still
   * fit, it doubles again, up to the configured rate.
   *
   * A profiler start has a one-time cost that no sampling rate lowers: V8 registers every
   * compiled function with the new profiler. `always` does not judge the interval after a
   * (re)start at all, as later intervals do not have that cost. Under a schedule every window
   * starts a profiler, so every window is judged, with the start's main-thread CPU (measured
   * around it) left out of the judged share but counted in the stats; its profiler-thread share
   * cannot be told apart and is judged, which errs on the side of sampling less.
   */
  #keepWithinBudget(cpuMicros: number, startCpuMicros: number, intervalMs: number): void {
    // The meter's running total is the stat; what it grew by is this window's share.
    const before = this.#stats.profilerCpuMicros
    this.#stats.profilerCpuMicros = this.#profilerThread.read()
    const profilerMicros = this.#stats.profilerCpuMicros - before
    if (intervalMs <= 0) return
    const percentOf = (micros: number) => (micros / (intervalMs * 1000)) * 100
    const percent = percentOf(cpuMicros + profilerMicros)
    this.#stats.lastOverheadPercent = Math.round(percent * 1000) / 1000
    let judged = percent
    if (this.#scheduled) {
      judged = percentOf(cpuMicros - startCpuMicros + profilerMicros)
    } else if (this.#settling) {
      this.#settling = false
      return
    }
    const budget = this.config.overheadBudgetPercent
    const current = this.#stats.samplingIntervalMicros
    let next = current
    if (judged > budget) {
      this.#underBudgetStreak = 0
      next = Math.min(MAX_SAMPLING_INTERVAL_MICROS, current * 2)
    } else if (judged < budget * 0.4 && current > this.config.samplingIntervalMicros) {
      if (++this.#underBudgetStreak >= INTERVALS_BEFORE_SPEEDUP) {
        this.#underBudgetStreak = 0
        next = Math.max(this.config.samplingIntervalMicros, Math.round(current / 2))
      }
    } else {
      this.#underBudgetStreak = 0
    }
    if (next === current || !this.config.wall || !this.#running) return
    this.#stats.samplingIntervalMicros = next
    // A running profiler restarts at the next close; a stopped one starts at the new interval.
    this.#restartTime = this.#profiler.timeRunning
    this.#logger.debug(
      next > current ? 'over the overhead budget: sampling less often' : 'back under budget',
      { percent: judged, samplingIntervalMicros: next },
    )
  }

  #query(fromMs: number, untilMs: number): URLSearchParams {
    return new URLSearchParams({
      name: this.#appName,
      from: String(fromMs),
      until: String(untilMs),
      format: 'pprof',
      spyName: SPY_NAME,
      sampleRate: String(Math.round(1e6 / this.#stats.samplingIntervalMicros)),
    })
  }
}

/**
 * JSON with every character outside ASCII escaped. Header values must be Latin-1 (Node throws
 * on anything else), and `lastError` quotes the server's answer: a server answering
 * `500 💥` must not make every later upload fail on its header.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}
