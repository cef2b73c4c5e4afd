import { encode, heap, time } from '@datadog/pprof'

/**
 * The profile type as `@datadog/pprof` returns it. Taken from there rather than imported from
 * `pprof-format`: `@datadog/pprof` is CommonJS and gets pprof-format's CommonJS build, whose
 * classes TypeScript treats as distinct from the ESM build's.
 */
export type Profile = ReturnType<typeof time.stop>

/**
 * The native profiler, behind the only interface the agent uses, so tests can swap it and a
 * future profiler can replace `@datadog/pprof` here alone.
 */
export interface ProfilerBindings {
  startTime(options: { intervalMicros: number; durationMillis: number }): void
  /** Stop the time profiler, returning what it collected; restart it when `restart`. */
  stopTime(restart: boolean): Profile
  startHeap(intervalBytes: number, stackDepth: number): void
  heapProfile(): Profile
  stopHeap(): void
  /** gzip-encoded protobuf. */
  encode(profile: Profile): Promise<Buffer>
}

export const datadogBindings: ProfilerBindings = {
  startTime: ({ intervalMicros, durationMillis }) =>
    time.start({
      intervalMicros,
      durationMillis,
      collectCpuTime: true,
      withContexts: true,
      lineNumbers: false,
    }),
  stopTime: (restart) => time.stop(restart),
  startHeap: (intervalBytes, stackDepth) => heap.start(intervalBytes, stackDepth),
  heapProfile: () => heap.profile(),
  stopHeap: () => heap.stop(),
  encode: (profile) => encode(profile),
}
