import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import { bindLabelSink, republishContext } from './labels.js'
import type { AgentLogger } from './logger.js'
import {
  datadogBindings,
  LateSourceMapper,
  type Profile,
  type ProfilerBindings,
} from './profiler-bindings.js'

const gzipAsync = promisify(gzip)

export interface ProfilerOptions {
  /** CPU + wall time profiles (the time profiler). */
  wall: boolean
  /** Samples carry OpenTelemetry's local root span and endpoint (see otel.ts). */
  traces: boolean
  /** Heap in-use profiles (V8's sampling heap profiler, on from start to stop). */
  heap: boolean
  heapSamplingIntervalBytes: number
  heapStackDepth: number
  sourceMaps: boolean
  sourceMapDirs?: readonly string[] | undefined
  logger: AgentLogger
}

/**
 * What becomes of the time profiler once its profile is taken: stopped; restarted in place
 * (the same V8 profiler, so compiled functions are not registered again); or replaced by a
 * fresh one sampling at another interval.
 */
export type AfterTake = 'stop' | 'continue' | { intervalMicros: number; durationMillis: number }

/**
 * The profiler component: the time profiler (CPU + wall) that the scheduler turns on and off
 * window by window, the heap profiler that stays on, labels and source maps, and encoding.
 * Everything synchronous here runs on the host's event loop; only gzip leaves it. Methods throw
 * when the native profiler does: the agent decides what a failure means.
 */
export class Profiler {
  readonly #options: ProfilerOptions
  readonly #bindings: ProfilerBindings
  readonly #sourceMapper = new LateSourceMapper()
  #timeRunning = false
  #heapRunning = false

  constructor(options: ProfilerOptions, bindings: ProfilerBindings = datadogBindings) {
    this.#options = options
    this.#bindings = bindings
  }

  /** Whether this profiler's time profiler runs (started by it and not stopped since). */
  get timeRunning(): boolean {
    return this.#timeRunning
  }

  get heapRunning(): boolean {
    return this.#heapRunning
  }

  /**
   * Start what runs for the whole session: heap sampling (in-use needs every allocation tracked
   * from the start, whatever the windows), the label sink, source maps. The time profiler
   * starts with the first collection window.
   */
  start(): void {
    const { heap, wall, heapSamplingIntervalBytes, heapStackDepth, sourceMaps } = this.#options
    if (heap) {
      this.#bindings.startHeap(heapSamplingIntervalBytes, heapStackDepth)
      this.#heapRunning = true
    }
    if (wall) {
      // Bound for the whole session, not per window: `withLabels` only tracks its labels through
      // awaits while a sink is bound, and a request that began between windows and resumes in
      // one must still carry them. Between windows there is no profiler to publish to.
      bindLabelSink(
        (context) => {
          if (this.#timeRunning) this.#bindings.setContext(context)
        },
        { traces: this.#options.traces },
      )
    }
    if (sourceMaps) this.#loadSourceMaps()
  }

  startTime(intervalMicros: number, durationMillis: number): void {
    this.#bindings.startTime({ intervalMicros, durationMillis, sourceMapper: this.#sourceMapper })
    this.#timeRunning = true
    if (this.#options.wall) republishContext()
  }

  /** The time profile since the time profiler's last start, then `after`. */
  takeTime(after: AfterTake): Profile {
    if (after === 'continue') return this.#bindings.stopTime(true)
    this.#timeRunning = false
    const profile = this.#bindings.stopTime(false)
    if (after !== 'stop') this.startTime(after.intervalMicros, after.durationMillis)
    return profile
  }

  takeHeap(): Profile {
    return this.#bindings.heapProfile(this.#sourceMapper)
  }

  /** The protobuf bytes, on this thread. */
  serialize(profile: Profile): Uint8Array {
    return this.#bindings.serialize(profile)
  }

  /** Gzip on libuv's thread pool: the host's event loop runs meanwhile. */
  gzip(bytes: Uint8Array): Promise<Buffer> {
    return gzipAsync(bytes)
  }

  /** Stop everything; never throws (a profiler already stopped has nothing to release). */
  stop(): void {
    bindLabelSink(undefined)
    try {
      if (this.#timeRunning) this.#bindings.stopTime(false)
    } catch {
      // already stopped
    }
    try {
      if (this.#heapRunning) this.#bindings.stopHeap()
    } catch {
      // already stopped
    }
    this.#timeRunning = false
    this.#heapRunning = false
  }

  /**
   * Index source maps in the background. The profilers already hold the late-bound mapper, so
   * the next profile serialized uses the maps, with no profiler restart.
   */
  #loadSourceMaps(): void {
    const dirs = [...(this.#options.sourceMapDirs ?? [process.cwd()])]
    this.#bindings.loadSourceMaps(dirs).then(
      (mapper) => {
        this.#sourceMapper.current = mapper
      },
      (error: unknown) =>
        this.#options.logger.debug('source maps not loaded', { error: String(error) }),
    )
  }
}
