/*
 * CPU time of Node's time profiles, estimated where it went.
 *
 * `@datadog/pprof` (Kiln's agent, and `@pyroscope/nodejs` with CPU time on) writes each sample
 * as `[sample/count, wall/nanoseconds, cpu/nanoseconds]`. The CPU value is the main thread's
 * CPU time since the previous sample, read when the sample is taken. When JavaScript runs in
 * bursts shorter than the sampling interval (an I/O-bound service: a few ms of work per
 * request, then waiting), a burst's CPU is read by the next sample, which usually finds the
 * thread waiting: the CPU of the work lands on `(idle)`. Measured on such a service (bench/
 * cpu-model): `(idle)` held ~80 % of the CPU and the function that burned most of it showed 6 %.
 *
 * The estimate (bench/README.md, "CPU estimate", has its error):
 * - a sample that finds JavaScript running (any stack but `(idle)`; GC included) stands for
 *   one sampling interval of on-CPU time of its stack: its wall value. JavaScript that runs is
 *   on the CPU, and sampling at a fixed rate finds each stack in proportion to its running time,
 *   however short its bursts;
 * - the main thread's CPU measured over the profile (the sum of the CPU values of the samples)
 *   is the total: if the samples explain less, the rest is main-thread CPU outside sampled
 *   JavaScript (libuv, native callbacks, V8's own work) and gets a frame of its own; if they
 *   explain more (the thread was sampled running while the OS had it descheduled), every
 *   stack is scaled down by the same factor;
 * - `(idle)` holds no CPU; `Non JS threads activity` (other threads' CPU, measured) keeps its
 *   value.
 */

export const IDLE_FRAME = '(idle)'
export const NON_JS_THREADS_FRAME = 'Non JS threads activity'
/** The root `@datadog/pprof` puts its runtime frames under (GC, other threads). */
export const RUNTIME_FRAME = 'Node.js'
/** Main-thread CPU that no JavaScript sample explains: event loop, native code, V8 itself. */
export const OUTSIDE_JS_FRAME = '(main thread outside JavaScript)'

/** What the estimate needs of one sample. */
export interface TimeSample {
  /** The leaf frame's function name. */
  readonly leaf: string
  readonly count: number
  readonly wallNanos: number
  readonly cpuNanos: number
}

export interface CpuEstimate {
  /** The estimated CPU of each sample, in nanoseconds, in the order given. */
  readonly cpuNanos: number[]
  /** Main-thread CPU the samples leave unexplained: the value of {@link OUTSIDE_JS_FRAME}. */
  readonly outsideJsNanos: number
  /** The main thread's CPU over the profile, as measured: what the estimate adds up to. */
  readonly measuredMainNanos: number
}

/** The sample-count type: `sample/count` (`@datadog/pprof`) or `samples/count` (Pyroscope's). */
export function countTypeOf(sampleTypes: readonly string[]): string | undefined {
  return ['sample/count', 'samples/count'].find((t) => sampleTypes.includes(t))
}

/** Whether a profile's sample types are a Node time profile with CPU time. */
export function isNodeTimeProfile(sampleTypes: readonly string[]): boolean {
  return (
    countTypeOf(sampleTypes) !== undefined &&
    sampleTypes.includes('wall/nanoseconds') &&
    sampleTypes.includes('cpu/nanoseconds')
  )
}

/**
 * The runtime frame a leaf names, if any. `@pyroscope/nodejs` writes every function as
 * `file:name:line`, so its idle frame arrives as `:(idle):0`.
 */
function runtimeLeaf(leaf: string): string {
  for (const frame of [IDLE_FRAME, NON_JS_THREADS_FRAME]) {
    if (leaf === frame || leaf === `:${frame}:0`) return frame
  }
  return leaf
}

/** Estimate where the main thread's CPU went (see the top of this file). */
export function estimateNodeCpu(input: readonly TimeSample[]): CpuEstimate {
  const samples = input.map((s) => ({ ...s, leaf: runtimeLeaf(s.leaf) }))
  let measuredMainNanos = 0
  let explainedNanos = 0
  for (const s of samples) {
    if (s.leaf === NON_JS_THREADS_FRAME) continue
    measuredMainNanos += s.cpuNanos
    if (s.leaf !== IDLE_FRAME && s.count > 0) explainedNanos += s.wallNanos
  }
  const scale = explainedNanos > measuredMainNanos ? measuredMainNanos / explainedNanos : 1
  let assigned = 0
  const cpuNanos = samples.map((s) => {
    if (s.leaf === NON_JS_THREADS_FRAME) return s.cpuNanos
    if (s.leaf === IDLE_FRAME || s.count === 0) return 0
    const value = Math.round(s.wallNanos * scale)
    assigned += value
    return value
  })
  const unexplained = measuredMainNanos - assigned
  if (scale < 1 && unexplained !== 0) {
    // Scaled down: what is left is rounding (a few ns); the largest stack takes it, so the
    // estimate still adds up to the measured CPU exactly, without a frame of a few ns.
    let largest = -1
    cpuNanos.forEach((value, i) => {
      if (samples[i]!.leaf !== NON_JS_THREADS_FRAME && value > (cpuNanos[largest] ?? -1))
        largest = i
    })
    if (largest !== -1) cpuNanos[largest]! += unexplained
    return { cpuNanos, outsideJsNanos: 0, measuredMainNanos }
  }
  return { cpuNanos, outsideJsNanos: Math.max(0, unexplained), measuredMainNanos }
}
