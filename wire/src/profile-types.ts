/**
 * Kiln's profile types. A pprof sample type (`type/unit`) maps to one of these names; the
 * aggregation says how values combine over a window:
 * - `cumulative`: each profile covers its own interval, so values sum over the window
 *   (CPU time, wall time, allocations).
 * - `gauge`: each profile is a snapshot of a level (heap in use), so values are averaged over
 *   the snapshots of each series, then summed across series. Summing snapshots would
 *   multiply the heap by the number of uploads in the window.
 */
export type Aggregation = 'cumulative' | 'gauge'

export interface ProfileTypeInfo {
  readonly name: string
  readonly unit: 'nanoseconds' | 'bytes' | 'count'
  readonly aggregation: Aggregation
  readonly description: string
}

export const PROFILE_TYPES = {
  cpu: {
    name: 'cpu',
    unit: 'nanoseconds',
    aggregation: 'cumulative',
    description: 'On-CPU time by stack, adding up to the measured CPU (idle never counts)',
  },
  wall: {
    name: 'wall',
    unit: 'nanoseconds',
    aggregation: 'cumulative',
    description: 'Time the main thread spent in each stack, on or off CPU (idle waits not counted)',
  },
  heap_inuse_space: {
    name: 'heap_inuse_space',
    unit: 'bytes',
    aggregation: 'gauge',
    description: 'Bytes live on the heap at snapshot time (sampled)',
  },
  heap_inuse_objects: {
    name: 'heap_inuse_objects',
    unit: 'count',
    aggregation: 'gauge',
    description: 'Objects live on the heap at snapshot time (sampled)',
  },
  alloc_space: {
    name: 'alloc_space',
    unit: 'bytes',
    aggregation: 'cumulative',
    description: 'Bytes allocated during the interval',
  },
  alloc_objects: {
    name: 'alloc_objects',
    unit: 'count',
    aggregation: 'cumulative',
    description: 'Objects allocated during the interval',
  },
} as const satisfies Record<string, ProfileTypeInfo>

export type ProfileTypeName = keyof typeof PROFILE_TYPES

export function isProfileTypeName(name: string): name is ProfileTypeName {
  return Object.hasOwn(PROFILE_TYPES, name)
}
