import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import { formatAppName } from '@kiln/wire'
import { staticLabels, type AgentConfig } from './config.js'
import { bindLabelSink } from './labels.js'
import { stderrLogger, type AgentLogger } from './logger.js'
import { datadogBindings, type Profile, type ProfilerBindings } from './profiler-bindings.js'
import { emptyStats, type AgentStats } from './stats.js'
import { UploadQueue } from './upload-queue.js'

const SPY_NAME = 'kiln-nodejs'
const gzipAsync = promisify(gzip)
/** Slowest sampling the overhead budget may back off to (10 Hz). */
const MAX_SAMPLING_INTERVAL_MICROS = 100_000

type SourceMapper = Awaited<ReturnType<ProfilerBindings['loadSourceMaps']>>

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
  #sourceMapper: SourceMapper | undefined
  /** Set when the time profiler must restart with new settings at the next collection. */
  #restartTime = false

  constructor(config: AgentConfig, bindings: ProfilerBindings = datadogBindings) {
    this.config = config
    this.stats = emptyStats(config.samplingIntervalMicros)
    this.#logger = config.logger ?? stderrLogger(config.debug)
    this.#bindings = bindings
    this.#appName = formatAppName(config.service, staticLabels(config))
    this.#queue = new UploadQueue({
      ...config,
      logger: this.#logger,
      stats: this.stats,
      headers: () => ({ 'x-kiln-agent-stats': JSON.stringify(this.stats) }),
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

  /** Index source maps in the background; the time profiler picks them up at its next restart. */
  #loadSourceMaps(): void {
    const dirs = this.config.sourceMapDirs ?? [process.cwd()]
    this.#bindings.loadSourceMaps(dirs).then(
      (mapper) => {
        this.#sourceMapper = mapper
        this.#restartTime = true
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
   * Collect and queue one interval's profiles. The main-thread cost is measured around the
   * synchronous parts only (stop, serialize): during an await the host's own work runs and
   * would be counted too. gzip runs on libuv's thread pool, off the event loop.
   */
  async #collect(restart: boolean): Promise<void> {
    const until = Date.now()
    const from = this.#windowStart
    this.#windowStart = until
    let cpuMicros = 0
    try {
      const cpuBefore = process.cpuUsage()
      const encoded = this.#takeProfiles(restart).map((p) => this.#bindings.serialize(p))
      const used = process.cpuUsage(cpuBefore)
      cpuMicros = used.user + used.system
      for (const bytes of encoded) {
        const body = await gzipAsync(bytes)
        this.stats.profilesCollected++
        this.#queue.enqueue({ query: this.#query(from, until), body, attempts: 0 })
      }
    } catch (error) {
      this.stats.lastError = String(error)
      this.#logger.warn('profile collection failed', { error: String(error) })
    } finally {
      this.stats.collectCpuMicros += cpuMicros
      this.#keepWithinBudget(cpuMicros, until - from)
    }
  }

  #takeProfiles(restart: boolean): Profile[] {
    const profiles: Profile[] = []
    if (this.#timeRunning) {
      if (restart && this.#restartTime) {
        // New settings (source maps, sampling interval) take a fresh profiler.
        this.#restartTime = false
        profiles.push(this.#bindings.stopTime(false))
        this.#startTime()
      } else {
        profiles.push(this.#bindings.stopTime(restart))
        if (!restart) this.#timeRunning = false
      }
    }
    if (this.#heapRunning) profiles.push(this.#bindings.heapProfile(this.#sourceMapper))
    return profiles
  }

  /**
   * The overhead budget: when collecting and encoding took more than `overheadBudgetPercent`
   * of one core over the interval, halve the sampling rate (down to 10 Hz).
   */
  #keepWithinBudget(cpuMicros: number, intervalMs: number): void {
    if (intervalMs <= 0) return
    const percent = (cpuMicros / (intervalMs * 1000)) * 100
    this.stats.lastOverheadPercent = Math.round(percent * 1000) / 1000
    const current = this.stats.samplingIntervalMicros
    if (percent <= this.config.overheadBudgetPercent || current >= MAX_SAMPLING_INTERVAL_MICROS)
      return
    this.stats.samplingIntervalMicros = Math.min(MAX_SAMPLING_INTERVAL_MICROS, current * 2)
    this.#restartTime = true
    this.#logger.debug('over the overhead budget: sampling less often', {
      percent,
      samplingIntervalMicros: this.stats.samplingIntervalMicros,
    })
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
