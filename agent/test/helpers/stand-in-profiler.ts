import type { Profile, ProfilerBindings } from '../../src/profiler-bindings.js'

/**
 * A profiler that collects nothing and serializes 8 bytes: the native profiler is the boundary
 * these tests replace (they test the agent around it). `overrides` replace single methods.
 */
export function standInProfiler(overrides: Partial<ProfilerBindings> = {}): ProfilerBindings {
  return {
    startTime: () => {},
    setLabels: () => {},
    stopTime: () => ({}) as Profile,
    startHeap: () => {},
    heapProfile: () => ({}) as Profile,
    loadSourceMaps: () => Promise.reject(new Error('none here')),
    stopHeap: () => {},
    serialize: () => new Uint8Array(8),
    ...overrides,
  }
}
