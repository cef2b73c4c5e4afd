import { gzipSync } from 'node:zlib'
import {
  Function as PprofFunction,
  Label,
  Line,
  Location,
  Profile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format'

export interface SyntheticSample {
  /** Root first, as in a flame graph; `name` or `name@file`. */
  stack: string[]
  values: number[]
  labels?: Record<string, string>
}

export interface SyntheticProfile {
  sampleTypes: [type: string, unit: string][]
  samples: SyntheticSample[]
  timeNanos?: bigint
  durationNanos?: bigint
}

/** Build a real pprof (the same encoder the agent's profiler uses) from readable stacks. */
export function buildProfile(spec: SyntheticProfile): Profile {
  const strings = new StringTable()
  const functions = new Map<string, PprofFunction>()
  const locations = new Map<string, Location>()
  const locationOf = (frame: string): Location => {
    let location = locations.get(frame)
    if (location) return location
    // The name ends at the first `@`: files can hold more (`node_modules/@scope/lib/index.js`).
    const at = frame.indexOf('@')
    const name = at < 0 ? frame : frame.slice(0, at)
    const file = at < 0 ? `${frame}.js` : frame.slice(at + 1)
    const fn = new PprofFunction({
      id: functions.size + 1,
      name: strings.dedup(name),
      systemName: strings.dedup(name),
      filename: strings.dedup(file),
    })
    functions.set(frame, fn)
    location = new Location({
      id: locations.size + 1,
      line: [new Line({ functionId: fn.id, line: 1 })],
    })
    locations.set(frame, location)
    return location
  }
  const samples = spec.samples.map(
    (s) =>
      new Sample({
        // pprof lists the leaf first.
        locationId: [...s.stack].reverse().map((f) => locationOf(f).id),
        value: s.values,
        label: Object.entries(s.labels ?? {}).map(
          ([k, v]) => new Label({ key: strings.dedup(k), str: strings.dedup(v) }),
        ),
      }),
  )
  return new Profile({
    sampleType: spec.sampleTypes.map(
      ([type, unit]) => new ValueType({ type: strings.dedup(type), unit: strings.dedup(unit) }),
    ),
    sample: samples,
    location: [...locations.values()],
    function: [...functions.values()],
    stringTable: strings,
    timeNanos: spec.timeNanos ?? 0n,
    durationNanos: spec.durationNanos ?? 0n,
  })
}

export function encodeProfile(spec: SyntheticProfile, gzip = true): Buffer {
  const bytes = Buffer.from(buildProfile(spec).encode())
  return gzip ? gzipSync(bytes) : bytes
}
