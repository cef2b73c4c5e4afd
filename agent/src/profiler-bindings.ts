import { heap, SourceMapper, time } from '@datadog/pprof'
import { contextLabeler, type SampleContext } from './labels.js'

/**
 * The profile type as `@datadog/pprof` returns it. Taken from there rather than imported from
 * `pprof-format`: `@datadog/pprof` is CommonJS and gets pprof-format's CommonJS build, whose
 * classes TypeScript treats as distinct from the ESM build's.
 */
export type Profile = ReturnType<typeof time.stop>

type Location = Parameters<SourceMapper['mappingInfo']>[0]

/**
 * A source mapper that can be handed to the profilers at once and filled in later: source maps
 * are indexed in the background after start, and `@datadog/pprof` only consults the mapper
 * when it serializes a profile. So the time profiler starts with this one and never needs a
 * restart (a restart re-registers every compiled function with V8's profiler) when the maps
 * arrive. Until then locations pass through unchanged.
 */
export class LateSourceMapper {
  current: SourceMapper | undefined

  mappingInfo(location: Location): ReturnType<SourceMapper['mappingInfo']> {
    return this.current ? this.current.mappingInfo(location) : location
  }
}

/**
 * The native profiler, behind the only interface the agent uses, so tests can swap it and a
 * future profiler can replace `@datadog/pprof` here alone.
 */
export interface ProfilerBindings {
  startTime(options: {
    intervalMicros: number
    durationMillis: number
    sourceMapper: LateSourceMapper
  }): void
  /** The context of samples taken from now on (`withLabels`, OpenTelemetry spans). */
  setContext(context: SampleContext): void
  /** Stop the time profiler, returning what it collected; restart it when `restart`. */
  stopTime(restart: boolean): Profile
  /** Whether a time profiler runs in this thread (V8's CpuProfiler is alive). */
  timeRunning(): boolean
  startHeap(intervalBytes: number, stackDepth: number): void
  heapProfile(sourceMapper: LateSourceMapper): Profile
  /** Index the source maps under `dirs` (node_modules excluded). */
  loadSourceMaps(dirs: string[]): Promise<SourceMapper>
  stopHeap(): void
  /** The protobuf bytes, on this thread (gzip then runs on the thread pool). */
  serialize(profile: Profile): Uint8Array
}

export const datadogBindings: ProfilerBindings = {
  // CPU time collection requires contexts; contexts also carry `withLabels` labels.
  startTime: ({ intervalMicros, durationMillis, sourceMapper }) =>
    time.start({
      intervalMicros,
      durationMillis,
      collectCpuTime: true,
      withContexts: true,
      lineNumbers: false,
      // On by default, the workaround waits for a profiler signal before and after each restart
      // to make a rare V8 bug (the profiler thread stuck, profiles empty) less likely: a 20 to
      // 40 ms event-loop pause every collection (bench/README.md). @datadog/pprof detects the
      // bug whatever this says and then restarts the profiler fully, so without the wait the
      // cost of that bug is one empty profile, not a pause on every collection.
      workaroundV8Bug: false,
      sourceMapper: sourceMapper as unknown as SourceMapper,
    }),
  setContext: (context) => time.setContext(context),
  stopTime: (restart) => {
    const labelsOf = contextLabeler()
    return time.stop(restart, ({ context }) => labelsOf(context?.context))
  },
  timeRunning: () => time.isStarted(),
  startHeap: (intervalBytes, stackDepth) => heap.start(intervalBytes, stackDepth),
  // profileV2 serializes while V8's profile is still alive instead of copying it into a
  // JavaScript tree first: the same profile with a smaller transient heap.
  heapProfile: (sourceMapper) =>
    heap.profileV2(undefined, sourceMapper as unknown as SourceMapper) as Profile,
  loadSourceMaps: (dirs) => SourceMapper.create(dirs),
  stopHeap: () => heap.stop(),
  serialize: (profile) => profile.encode(),
}
