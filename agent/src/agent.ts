import { formatAppName } from '@kiln/wire'
import { staticLabels, type AgentConfig } from './config.js'
import { stderrLogger, type AgentLogger } from './logger.js'
import { datadogBindings, type Profile, type ProfilerBindings } from './profiler-bindings.js'
import { emptyStats, type AgentStats } from './stats.js'
import { UploadQueue } from './upload-queue.js'

const SPY_NAME = 'kiln-nodejs'

/**
 * One profiling session: starts the time (CPU + wall) and heap profilers, and every
 * `uploadIntervalMs` collects both, encodes them and queues them for upload. Nothing here
 * throws into the host: a profiler that fails to start disables the agent with one log line.
 */
export class Agent {
  readonly config: AgentConfig
  readonly stats: AgentStats = emptyStats()
  readonly #logger: AgentLogger
  readonly #bindings: ProfilerBindings
  readonly #queue: UploadQueue
  readonly #appName: string
  #timer: NodeJS.Timeout | undefined
  #windowStart = 0
  #timeRunning = false
  #heapRunning = false
  #collecting: Promise<void> | undefined

  constructor(config: AgentConfig, bindings: ProfilerBindings = datadogBindings) {
    this.config = config
    this.#logger = config.logger ?? stderrLogger(config.debug)
    this.#bindings = bindings
    this.#appName = formatAppName(config.service, staticLabels(config))
    this.#queue = new UploadQueue({ ...config, logger: this.#logger, stats: this.stats })
  }

  get running(): boolean {
    return this.#timer !== undefined
  }

  start(): boolean {
    if (this.#timer) return true
    const { samplingIntervalMicros, uploadIntervalMs, heapSamplingIntervalBytes, heapStackDepth } =
      this.config
    try {
      if (this.config.wall) {
        this.#bindings.startTime({
          intervalMicros: samplingIntervalMicros,
          durationMillis: uploadIntervalMs,
        })
        this.#timeRunning = true
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
    this.#windowStart = Date.now()
    this.#timer = setInterval(() => void this.#tick(), uploadIntervalMs)
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

  #tick(): void {
    if (this.#collecting) return
    this.#collecting = this.#collect(true).finally(() => {
      this.#collecting = undefined
    })
  }

  async #collect(restart: boolean): Promise<void> {
    const cpuBefore = process.cpuUsage()
    const until = Date.now()
    const from = this.#windowStart
    this.#windowStart = until
    try {
      const profiles: Profile[] = []
      if (this.#timeRunning) {
        profiles.push(this.#bindings.stopTime(restart))
        if (!restart) this.#timeRunning = false
      }
      if (this.#heapRunning) profiles.push(this.#bindings.heapProfile())
      for (const profile of profiles) {
        const body = await this.#bindings.encode(profile)
        this.stats.profilesCollected++
        this.#queue.enqueue({ query: this.#query(from, until), body, attempts: 0 })
      }
    } catch (error) {
      this.stats.lastError = String(error)
      this.#logger.warn('profile collection failed', { error: String(error) })
    } finally {
      const used = process.cpuUsage(cpuBefore)
      this.stats.collectCpuMicros += used.user + used.system
    }
  }

  #query(fromMs: number, untilMs: number): URLSearchParams {
    return new URLSearchParams({
      name: this.#appName,
      from: String(fromMs),
      until: String(untilMs),
      format: 'pprof',
      spyName: SPY_NAME,
      sampleRate: String(Math.round(1e6 / this.config.samplingIntervalMicros)),
    })
  }

  #stopProfilers(): void {
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
