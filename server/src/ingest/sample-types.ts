import type { ProfileTypeName } from '@kiln/wire'

export interface SampleTypeMapping {
  type: ProfileTypeName
  /** Multiply raw values by this to reach the Kiln type's unit. */
  scale: number
}

/**
 * pprof sample types (`type/unit`) as Node and Go profilers write them, mapped to Kiln's types.
 * `@datadog/pprof` writes `sample/count`, `wall/nanoseconds`, `cpu/nanoseconds` for time
 * profiles and `objects/count`, `space/bytes` for heap; Go writes `inuse_space/bytes` etc.
 * Sample counts are dropped: the time they stand for is already in the time types.
 */
const MAPPINGS: Record<string, SampleTypeMapping> = {
  'cpu/nanoseconds': { type: 'cpu', scale: 1 },
  'cpu/microseconds': { type: 'cpu', scale: 1e3 },
  'wall/nanoseconds': { type: 'wall', scale: 1 },
  'wall/microseconds': { type: 'wall', scale: 1e3 },
  'space/bytes': { type: 'heap_inuse_space', scale: 1 },
  'inuse_space/bytes': { type: 'heap_inuse_space', scale: 1 },
  'objects/count': { type: 'heap_inuse_objects', scale: 1 },
  'inuse_objects/count': { type: 'heap_inuse_objects', scale: 1 },
  'alloc_space/bytes': { type: 'alloc_space', scale: 1 },
  'alloc_objects/count': { type: 'alloc_objects', scale: 1 },
}

export function mapSampleType(type: string, unit: string): SampleTypeMapping | undefined {
  return MAPPINGS[`${type}/${unit}`]
}
