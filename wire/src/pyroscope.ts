import { PROFILE_TYPES, isProfileTypeName, type ProfileTypeName } from './profile-types.js'

/**
 * Kiln's profile types as Pyroscope names them (`<__name__>:<sample_type>:<sample_unit>:
 * <period_type>:<period_unit>`), for Grafana's Pyroscope data source and the legacy render API.
 * Kiln answers with the first id of each type (the ids Grafana knows: CPU shown in cores, heap in
 * use as a level) and accepts the others, which Pyroscope's Node.js SDK produces. See
 * docs/design/grafana-pyroscope-api-notes.md, section 5.
 */
export const PYROSCOPE_PROFILE_TYPES: Readonly<Record<ProfileTypeName, readonly string[]>> = {
  cpu: ['process_cpu:cpu:nanoseconds:cpu:nanoseconds', 'wall:cpu:nanoseconds:wall:nanoseconds'],
  wall: ['wall:wall:nanoseconds:wall:nanoseconds', 'wall:wall:microseconds:wall:microseconds'],
  heap_inuse_space: [
    'memory:inuse_space:bytes:space:bytes',
    'memory:inuse_space:bytes:inuse_space:bytes',
  ],
  heap_inuse_objects: [
    'memory:inuse_objects:count:space:bytes',
    'memory:inuse_objects:count:inuse_space:bytes',
  ],
  alloc_space: ['memory:alloc_space:bytes:space:bytes'],
  alloc_objects: ['memory:alloc_objects:count:space:bytes'],
}

/** The Pyroscope id Kiln gives a type. */
export function pyroscopeProfileTypeId(type: ProfileTypeName): string {
  return PYROSCOPE_PROFILE_TYPES[type][0]!
}

const BY_ID = new Map<string, ProfileTypeName>(
  Object.entries(PYROSCOPE_PROFILE_TYPES).flatMap(([type, ids]) =>
    ids.map((id) => [id, type as ProfileTypeName] as const),
  ),
)

/**
 * The Kiln type of a Pyroscope profile type id (a 6th `:delta` part is ignored), or of a Kiln
 * type name or a sample type Pyroscope's old `app.cpu` queries use; `undefined` for others.
 */
export function kilnTypeOf(id: string): ProfileTypeName | undefined {
  const parts = id.split(':')
  const five = parts.length === 6 ? parts.slice(0, 5).join(':') : id
  const found = BY_ID.get(five)
  if (found !== undefined) return found
  if (isProfileTypeName(id)) return id
  const legacy: Record<string, ProfileTypeName> = {
    inuse_space: 'heap_inuse_space',
    inuse_objects: 'heap_inuse_objects',
    alloc_space: 'alloc_space',
    alloc_objects: 'alloc_objects',
  }
  return legacy[id]
}

/**
 * How Pyroscope's render API names a type's unit (`metadata.units`): `samples` for time, whose
 * values are nanoseconds (a sample rate of 1e9 shows them as seconds), `objects` for counts.
 */
export function pyroscopeUnits(type: ProfileTypeName): 'samples' | 'objects' | 'bytes' {
  const { unit } = PROFILE_TYPES[type]
  return unit === 'nanoseconds' ? 'samples' : unit === 'count' ? 'objects' : 'bytes'
}
