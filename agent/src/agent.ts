import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import { AGENT_STATS_HEADER, formatAppName } from '@kiln/wire'
import { staticLabels, type AgentConfig } from './config.js'
import { bindLabelSink } from './labels.js'
import { stderrLogger, type AgentLogger } from './logger.js'
import {
  datadogBindings,
  LateSourceMapper,
  type Profile,
  type ProfilerBindings,
} from './profiler-bindings.js'
import { emptyStats, type AgentStats } from './stats.js'
import { PROFILER_THREAD, ThreadCpuMeter } from './thread-cpu.js'
import { UploadQueue } from './upload-queue.js'

const SPY_NAME = 'kiln-nodejs'
const gzipAsync = promisify(gzip)
/** Slowest sampling the overhead budget may back off to (10 Hz). */
const MAX_SAMPLING_INTERVAL_MICROS = 100_000
/** Intervals in a row well under budget before the sampling rate doubles again. */
const INTERVALS_BEFORE_SPEEDUP = 3

/**
 * One profiling session: starts the time (CPU + wall) and heap profilers, and every
 * `uploadIntervalMs` collects both, encodes them and queues them for upload. Nothing here
 * throws into the host: a profiler that fails to start disables the agent with one log line.
 */
export class Agent {
  readonly config: AgentConfig
  readonly stats: AgentStats
  readonly #logger: AgentLogger
  readonly #bindings: ProfilerBindings
  readonly #queue: UploadQueue
  readonly #appName: string
  #timer: NodeJS.Timeout | undefined
  #windowStart = 0
  #timeRunning = false
  #heapRunning = false
  #collecting: Promise<void> | undefined
  readonly #sourceMapper = new LateSourceMapper()
  /** Set when the time profiler must restart with a new sampling interval at the next collection. */
  #restartTime = false
  readonly #profilerThread = new ThreadCpuMeter(PROFILER_THREAD)
  /** The next interval holds a (re)start's one-time cost: the budget does not judge it. */
  #settling = true
  #underBudgetStreak = 0

  constructor(config: AgentConfig, bindings: ProfilerBindings = datadogBindings) {
    this.config = config
    this.stats = emptyStats(config.samplingIntervalMicros, config.overheadBudgetPercent)
    this.#logger = config.logger ?? stderrLogger(config.debug)
    this.#bindings = bindings
    this.#appName = formatAppName(config.service, staticLabels(config))
    this.#queue = new UploadQueue({
      ...config,
      logger: this.#logger,
      stats: this.stats,
      headers: () => ({ [AGENT_STATS_HEADER]: JSON.stringify(this.stats) }),
    })
  }

  get running(): boolean {
    return this.#timer !== undefined
  }

  start(): boolean {
    if (this.#timer) return true
    const { uploadIntervalMs, heapSamplingIntervalBytes, heapStackDepth } = this.config
    try {
      if (this.config.wall) {
        this.#startTime()
        bindLabelSink((labels) => this.#bindings.setLabels(labels))
      }
      if (this.config.heap) {
        this.#bindings.startHeap(heapSamplingIntervalBytes, heapStackDepth)
        this.#heapRunning = true
      }
    } catch (error) {
      this.#logger.error('profiler failed to start; Kiln agent disabled', { error: String(error) })
      this.#stopProfilers()
      return false
    }
    if (this.config.sourceMaps) this.#loadSourceMaps()
    this.#windowStart = Date.now()
    this.#timer = setInterval(() => this.#tick(), uploadIntervalMs)
    this.#timer.unref()
    return true
  }

  /** Collect a last profile, stop the profilers and try to upload within `deadlineMs`. */
  async stop(deadlineMs = 2000): Promise<void> {
    if (!this.#timer) return
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#collecting
    await this.#collect(false)
    this.#stopProfilers()
    await this.#queue.drain(deadlineMs, true)
    if (this.#queue.size > 0) this.#queue.discard()
  }

  #startTime(): void {
    this.#bindings.startTime({
      intervalMicros: this.stats.samplingIntervalMicros,
      durationMillis: this.config.uploadIntervalMs,
      sourceMapper: this.#sourceMapper,
    })
    this.#timeRunning = true
  }

  /**
   * Index source maps in the background. The profilers already hold the late-bound mapper, so
   * the next profile serialized uses the maps, with no profiler restart.
   */
  #loadSourceMaps(): void {
    const dirs = this.config.sourceMapDirs ?? [process.cwd()]
    this.#bindings.loadSourceMaps(dirs).then(
      (mapper) => {
        this.#sourceMapper.current = mapper
      },
      (error: unknown) => this.#logger.debug('source maps not loaded', { error: String(error) }),
    )
  }

  #tick(): void {
    if (this.#collecting) return
    this.#collecting = this.#collect(true).finally(() => {
      this.#collecting = undefined
    })
  }

  /**
   * Collect and queue one interval's profiles, one profile type at a time: each is taken and
   * serialized synchronously, then gzipped on libuv's thread pool, and that await lets the
   * host's pending work run before the next type, so the event loop is held for one profile at
   * a time. The main-thread cost is measured around the synchronous parts only: during an
   * await the host's own work runs and would be counted too.
   */
  async #collect(restart: boolean): Promise<void> {
    const until = Date.now()
    const from = this.#windowStart
    this.#windowStart = until
    let cpuMicros = 0
    let pauseMs = 0
    try {
      for (const take of this.#profileTakers(restart)) {
        const cpuBefore = process.cpuUsage()
        const pauseStart = performance.now()
        const bytes = this.#bindings.serialize(take())
        pauseMs = Math.max(pauseMs, performance.now() - pauseStart)
        const used = process.cpuUsage(cpuBefore)
        cpuMicros += used.user + used.system
        const body = await gzipAsync(bytes)
        this.stats.profilesCollected++
        this.#queue.enqueue({
          id: randomUUID(),
          query: this.#query(from, until),
          body,
          attempts: 0,
        })
      }
    } catch (error) {
      this.stats.lastError = String(error)
      this.#logger.warn('profile collection failed', { error: String(error) })
    } finally {
      // How long the event loop was held at once: a request arriving then waits up to this.
      this.stats.lastPauseMs = Math.round(pauseMs * 100) / 100
      this.stats.maxPauseMs = Math.max(this.stats.maxPauseMs, this.stats.lastPauseMs)
      this.stats.collectCpuMicros += cpuMicros
      this.#keepWithinBudget(cpuMicros, until - from)
    }
  }

  /** One function per running profiler, each taking its profile of the interval. */
  #profileTakers(restart: boolean): (() => Profile)[] {
    const takers: (() => Profile)[] = []
    if (this.#timeRunning) takers.push(() => this.#takeTime(restart))
    if (this.#heapRunning) takers.push(() => this.#bindings.heapProfile(this.#sourceMapper))
    return takers
  }

  #takeTime(restart: boolean): Profile {
    if (restart && this.#restartTime) {
      // A new sampling interval takes a fresh profiler.
      this.#restartTime = false
      this.#settling = true
      const profile = this.#bindings.stopTime(false)
      this.#startTime()
      return profile
    }
    if (!restart) this.#timeRunning = false
    return this.#bindings.stopTime(restart)
  }

  /**
   * The overhead budget. The agent's cost over an interval is the CPU it spent collecting and
   * encoding (measured around those calls) plus the CPU of V8's profiler thread, which takes
   * the samples and builds the profile (read from /proc on Linux). Above
   * `overheadBudgetPercent` of one core the sampling rate halves (down to 10 Hz); after
   * several intervals in a row at under 40 % of the budget, so that twice the rate would
   * still fit, it doubles again, up to the configured rate. An interval that began with a
   * profiler (re)start is not judged: V8 then registers every compiled function with the
   * profiler once, a cost the following intervals do not have.
   */
  #keepWithinBudget(cpuMicros: number, intervalMs: number): void {
    // The meter's running total is the stat; what it grew by is this interval's share.
    const before = this.stats.profilerCpuMicros
    this.stats.profilerCpuMicros = this.#profilerThread.read()
    const profilerMicros = this.stats.profilerCpuMicros - before
    if (intervalMs <= 0) return
    const percent = ((cpuMicros + profilerMicros) / (intervalMs * 1000)) * 100
    this.stats.lastOverheadPercent = Math.round(percent * 1000) / 1000
    if (this.#settling) {
      this.#settling = false
      return
    }
    const budget = this.config.overheadBudgetPercent
    const current = this.stats.samplingIntervalMicros
    let next = current
    if (percent > budget) {
      this.#underBudgetStreak = 0
      next = Math.min(MAX_SAMPLING_INTERVAL_MICROS, current * 2)
    } else if (percent < budget * 0.4 && current > this.config.samplingIntervalMicros) {
      if (++this.#underBudgetStreak >= INTERVALS_BEFORE_SPEEDUP) {
        this.#underBudgetStreak = 0
        next = Math.max(this.config.samplingIntervalMicros, Math.round(current / 2))
      }
    } else {
      this.#underBudgetStreak = 0
    }
    if (next === current || !this.#timeRunning) return
    this.stats.samplingIntervalMicros = next
    this.#restartTime = true
    this.#logger.debug(
      next > current ? 'over the overhead budget: sampling less often' : 'back under budget',
      { percent, samplingIntervalMicros: next },
    )
  }

  #query(fromMs: number, untilMs: number): URLSearchParams {
    return new URLSearchParams({
      name: this.#appName,
      from: String(fromMs),
      until: String(untilMs),
      format: 'pprof',
      spyName: SPY_NAME,
      sampleRate: String(Math.round(1e6 / this.stats.samplingIntervalMicros)),
    })
  }

  #stopProfilers(): void {
    bindLabelSink(undefined)
    try {
      if (this.#timeRunning) this.#bindings.stopTime(false)
    } catch {
      // already stopped: nothing to release
    }
    try {
      if (this.#heapRunning) this.#bindings.stopHeap()
    } catch {
      // already stopped: nothing to release
    }
    this.#timeRunning = false
    this.#heapRunning = false
  }
}
