import type { Profile, ProfilerBindings } from '../../src/profiler-bindings.js'

/**
 * A profiler that collects nothing and serializes 8 bytes: the native profiler is the boundary
 * these tests replace (they test the agent around it). Like the native one, its time profiler
 * refuses to start twice or stop when not started, and says whether it runs. `overrides`
 * replace single methods (the state is kept around them).
 */
export function standInProfiler(overrides: Partial<ProfilerBindings> = {}): ProfilerBindings {
  let timeRunning = false
  return {
    startTime: (options) => {
      if (timeRunning) throw new Error('Wall profiler is already started')
      overrides.startTime?.(options)
      timeRunning = true
    },
    setContext: (context) => {
      if (!timeRunning) throw new Error('Wall profiler is not started')
      overrides.setContext?.(context)
    },
    stopTime: (restart) => {
      if (!timeRunning) throw new Error('Wall profiler is not started')
      timeRunning = restart
      return overrides.stopTime?.(restart) ?? ({} as Profile)
    },
    timeRunning: () => timeRunning,
    startHeap: overrides.startHeap ?? (() => {}),
    heapProfile: overrides.heapProfile ?? (() => ({}) as Profile),
    loadSourceMaps: overrides.loadSourceMaps ?? (() => Promise.reject(new Error('none here'))),
    stopHeap: overrides.stopHeap ?? (() => {}),
    serialize: overrides.serialize ?? (() => new Uint8Array(8)),
  }
}
