import { gzipSync } from 'node:zlib'
import {
  Function as PprofFunction,
  Label,
  Line,
  Location,
  Mapping,
  Profile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format'

/*
 * Seeded pprof cases for fuzzing a reader (`ingest-fuzz.test.ts`): a valid profile, different for
 * every seed, then mutated: bytes flipped, cut or appended; protobuf fields swapped, duplicated,
 * dropped, retyped or added, at the top level and inside messages; sample values rewritten to
 * edge values; gzip or not, and the gzip stream itself damaged. A case is a function of its seed
 * alone, so a failing one replays on any machine.
 */

// --- seeded randomness -----------------------------------------------------------------------

export type Rand = () => number

/** mulberry32, as in `bench/prng.mjs`: the same seed gives the same cases on every machine. */
export function mulberry32(seed: number): Rand {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** An integer in [min, max]. */
const int = (rand: Rand, min: number, max: number) => min + Math.floor(rand() * (max - min + 1))
const pick = <T>(rand: Rand, items: readonly T[]): T => items[int(rand, 0, items.length - 1)]!
const chance = (rand: Rand, p: number) => rand() < p

// --- seed profiles ---------------------------------------------------------------------------

/**
 * Sample types as Go and Node profilers write them. `sample/count` + `wall/nanoseconds` +
 * `cpu/nanoseconds` is left out: Kiln stores an estimate for its CPU (`node-cpu.ts`), not the sum.
 */
const SAMPLE_TYPE_SETS: [type: string, unit: string][][] = [
  [
    ['samples', 'count'],
    ['cpu', 'nanoseconds'],
  ],
  [
    ['cpu', 'nanoseconds'],
    ['alloc_space', 'bytes'],
  ],
  [
    ['alloc_objects', 'count'],
    ['alloc_space', 'bytes'],
    ['inuse_objects', 'count'],
    ['inuse_space', 'bytes'],
  ],
  [
    ['objects', 'count'],
    ['space', 'bytes'],
  ],
  [
    ['wall', 'microseconds'],
    ['cpu', 'microseconds'],
  ],
  [
    ['goroutine', 'count'],
    ['cpu', 'nanoseconds'],
  ],
]

/** Label values by key: a sample has each key once at most. */
const LABELS: Record<string, string[]> = {
  route: ['/checkout', '/cart'],
  span_kind: ['server', 'client'],
  region: ['eu-west-1'],
}

function sampleValue(rand: Rand): number | bigint {
  const r = rand()
  if (r < 0.1) return 0
  if (r < 0.15) return BigInt(int(rand, 1, 1 << 20)) << 20n // large, still far below 2^53
  return int(rand, 1, 10_000_000)
}

/** A valid pprof, different for every seed, as Go's and Node's profilers write them. */
function seedProfile(rand: Rand): Profile {
  const strings = new StringTable()
  const types = pick(rand, SAMPLE_TYPE_SETS)
  const functions = Array.from(
    { length: int(rand, 3, 10) },
    (_, i) =>
      new PprofFunction({
        id: i + 1,
        name: strings.dedup(`pkg.fn${i}`),
        systemName: strings.dedup(`pkg.fn${i}`),
        filename: strings.dedup(`src/file${i % 3}.go`),
        startLine: 10 * i,
      }),
  )
  const locations = Array.from({ length: int(rand, 3, 12) }, (_, i) => {
    // No line: an address to symbolize; several: inlined calls, the caller last.
    const lines = Array.from(
      { length: pick(rand, [0, 1, 1, 1, 2, 3]) },
      () => new Line({ functionId: pick(rand, functions).id, line: int(rand, 0, 500) }),
    )
    return new Location({ id: i + 1, mappingId: 1, address: 0x401000 + 16 * i, line: lines })
  })
  const samples = Array.from({ length: int(rand, 2, 16) }, () => {
    const depth = chance(rand, 0.05) ? 0 : int(rand, 1, 6)
    const labels = Object.entries(LABELS)
      .filter(() => chance(rand, 0.3))
      .map(([k, v]) => new Label({ key: strings.dedup(k), str: strings.dedup(pick(rand, v)) }))
    if (chance(rand, 0.2)) {
      labels.push(
        new Label({
          key: strings.dedup('thread_id'),
          num: int(rand, 1, 64),
          numUnit: strings.dedup('id'),
        }),
      )
    }
    return new Sample({
      locationId: Array.from({ length: depth }, () => pick(rand, locations).id),
      value: types.map(() => sampleValue(rand)),
      label: labels,
    })
  })
  return new Profile({
    sampleType: types.map(
      ([type, unit]) => new ValueType({ type: strings.dedup(type), unit: strings.dedup(unit) }),
    ),
    sample: samples,
    mapping: [
      new Mapping({
        id: 1,
        memoryStart: 0x400000,
        memoryLimit: 0x800000,
        filename: strings.dedup('/srv/app'),
        buildId: strings.dedup('5f0c1d2e'),
        hasFunctions: true,
      }),
    ],
    location: locations,
    function: functions,
    stringTable: strings,
    // A fixed time, so that a seed gives the same bytes on any day (the upload's `from` wins).
    timeNanos: chance(rand, 0.8) ? 1_764_460_800_000_000_000n : 0,
    durationNanos: 10_000_000_000n,
    periodType: new ValueType({ type: strings.dedup(types[0]![0]), unit: strings.dedup('count') }),
    period: 1,
    comment: [strings.dedup('kiln fuzz seed')],
    defaultSampleType: strings.dedup(types[types.length - 1]![0]),
  })
}

// --- protobuf surgery ------------------------------------------------------------------------

/** Unsigned LEB128; negative values as their 64-bit two's complement, as protobuf's int64. */
function varint(value: bigint | number): Buffer {
  let v = BigInt.asUintN(64, BigInt(value))
  const out: number[] = []
  do {
    const low = Number(v & 0x7fn)
    v >>= 7n
    out.push(v > 0n ? low | 0x80 : low)
  } while (v > 0n)
  return Buffer.from(out)
}

const tag = (field: number, wireType: number) => varint((BigInt(field) << 3n) | BigInt(wireType))
const lengthDelimited = (field: number, data: Buffer) =>
  Buffer.concat([tag(field, 2), varint(data.length), data])

function readVarint(bytes: Buffer, at: number): { value: bigint; next: number } | undefined {
  let value = 0n
  for (let i = 0; i < 10 && at + i < bytes.length; i++) {
    value |= BigInt(bytes[at + i]! & 0x7f) << BigInt(7 * i)
    if (bytes[at + i]! < 0x80) return { value, next: at + i + 1 }
  }
  return undefined
}

interface Field {
  field: number
  wireType: number
  /** Where its tag starts. */
  start: number
  /** Where its payload starts (after the length, for length-delimited fields). */
  data: number
  end: number
}

/** The fields of a protobuf message, or `undefined` when the bytes are not one. */
function fieldsOf(bytes: Buffer): Field[] | undefined {
  const fields: Field[] = []
  let at = 0
  while (at < bytes.length) {
    const key = readVarint(bytes, at)
    if (!key) return undefined
    const wireType = Number(key.value & 7n)
    let data = key.next
    let end: number
    if (wireType === 0) {
      const v = readVarint(bytes, data)
      if (!v) return undefined
      end = v.next
    } else if (wireType === 2) {
      const length = readVarint(bytes, data)
      if (!length) return undefined
      data = length.next
      end = data + Number(length.value)
    } else if (wireType === 1 || wireType === 5) {
      end = data + (wireType === 1 ? 8 : 4)
    } else return undefined
    if (end > bytes.length) return undefined
    fields.push({ field: Number(key.value >> 3n), wireType, start: at, data, end })
    at = end
  }
  return fields
}

const span = (bytes: Buffer, f: Field) => bytes.subarray(f.start, f.end)

/** Fields of `Profile` that hold a message, by number (`profile.proto`). */
const MESSAGE_FIELDS = new Set([1, 2, 3, 4, 5, 11])
const SAMPLE_FIELD = 2

/** 64-bit values where readers' arithmetic breaks: signs, 2^31, 2^32, 2^53, 2^63. */
const EDGE_VALUES = [
  0n,
  1n,
  -1n,
  2n ** 31n,
  2n ** 32n + 1n,
  -(2n ** 31n),
  2n ** 53n,
  2n ** 63n - 1n,
]
const edgeValue = (rand: Rand) =>
  chance(rand, 0.6) ? BigInt(int(rand, 0, 1_000_000)) : pick(rand, EDGE_VALUES)

/** A field of a random number (mostly unknown to pprof) and wire type, with a fitting payload. */
function unknownField(rand: Rand): Buffer {
  const field = pick(rand, [15, 16, 17, 31, 100, 2047, 536_870_911])
  const wireType = pick(rand, [0, 1, 2, 5])
  const payload =
    wireType === 0
      ? varint(int(rand, 0, 1 << 20))
      : wireType === 2
        ? Buffer.concat([varint(3), Buffer.from('abc')])
        : Buffer.alloc(wireType === 1 ? 8 : 4, int(rand, 0, 255))
  return Buffer.concat([tag(field, wireType), payload])
}

/** Fields rearranged: one swapped with another, duplicated, dropped, retyped, or a new one. */
function rearrange(rand: Rand, bytes: Buffer, fields: Field[]): { bytes: Buffer; step: string } {
  const parts = fields.map((f) => span(bytes, f))
  const i = int(rand, 0, parts.length - 1)
  const f = fields[i]!
  switch (pick(rand, ['swap', 'dup', 'drop', 'retype', 'unknown'] as const)) {
    case 'swap': {
      const j = int(rand, 0, parts.length - 1)
      ;[parts[i], parts[j]] = [parts[j]!, parts[i]!]
      return { bytes: Buffer.concat(parts), step: `swap ${f.field}<>${fields[j]!.field}` }
    }
    case 'dup': {
      parts.splice(int(rand, 0, parts.length), 0, parts[i]!)
      return { bytes: Buffer.concat(parts), step: `dup ${f.field}` }
    }
    case 'drop':
      parts.splice(i, 1)
      return { bytes: Buffer.concat(parts), step: `drop ${f.field}` }
    case 'retype': {
      const wireType = (f.wireType + int(rand, 1, 7)) % 8
      const key = readVarint(bytes, f.start)!
      parts[i] = Buffer.concat([tag(f.field, wireType), bytes.subarray(key.next, f.end)])
      return { bytes: Buffer.concat(parts), step: `retype ${f.field}:${f.wireType}>${wireType}` }
    }
    case 'unknown': {
      const extra = unknownField(rand)
      parts.splice(int(rand, 0, parts.length), 0, extra)
      return { bytes: Buffer.concat(parts), step: `unknown 0x${extra.toString('hex')}` }
    }
  }
}

type Mutation = (rand: Rand, bytes: Buffer) => { bytes: Buffer; step: string }

const MUTATIONS: Record<string, Mutation> = {
  flip: (rand, bytes) => {
    const out = Buffer.from(bytes)
    const at: number[] = []
    for (let n = pick(rand, [1, 1, 1, 2, 3]); n > 0 && out.length > 0; n--) {
      const i = int(rand, 0, out.length - 1)
      out[i]! ^= chance(rand, 0.5) ? 1 << int(rand, 0, 7) : int(rand, 1, 255)
      at.push(i)
    }
    return { bytes: out, step: `flip @${at.join(',')}` }
  },
  cut: (rand, bytes) => {
    const length = int(rand, 0, Math.max(0, bytes.length - 1))
    return { bytes: bytes.subarray(0, length), step: `cut ${length}/${bytes.length}` }
  },
  append: (rand, bytes) => {
    const extra = Buffer.from(Array.from({ length: int(rand, 1, 16) }, () => int(rand, 0, 255)))
    return { bytes: Buffer.concat([bytes, extra]), step: `append 0x${extra.toString('hex')}` }
  },
  fields: (rand, bytes) => {
    const fields = fieldsOf(bytes)
    if (!fields?.length) return MUTATIONS.flip!(rand, bytes)
    return rearrange(rand, bytes, fields)
  },
  /** Fields rearranged inside one message (a sample, location, function...). */
  nested: (rand, bytes) => {
    const messages = fieldsOf(bytes)?.filter(
      (f) => f.wireType === 2 && MESSAGE_FIELDS.has(f.field) && f.end > f.data,
    )
    if (!messages?.length) return MUTATIONS.flip!(rand, bytes)
    const outer = pick(rand, messages)
    const inner = bytes.subarray(outer.data, outer.end)
    const innerFields = fieldsOf(inner)
    if (!innerFields?.length) return MUTATIONS.flip!(rand, bytes)
    const changed = rearrange(rand, inner, innerFields)
    return {
      bytes: Buffer.concat([
        bytes.subarray(0, outer.start),
        lengthDelimited(outer.field, changed.bytes),
        bytes.subarray(outer.end),
      ]),
      step: `in ${outer.field}@${outer.start}: ${changed.step}`,
    }
  },
  /** A sample's values replaced by edge values, as many as it had or one more or fewer. */
  values: (rand, bytes) => {
    const samples = fieldsOf(bytes)?.filter((f) => f.field === SAMPLE_FIELD && f.wireType === 2)
    if (!samples?.length) return MUTATIONS.flip!(rand, bytes)
    const sample = pick(rand, samples)
    const inner = bytes.subarray(sample.data, sample.end)
    const innerFields = fieldsOf(inner)
    if (!innerFields) return MUTATIONS.flip!(rand, bytes)
    const count = innerFields
      .filter((f) => f.field === 2)
      .reduce((n, f) => n + (f.wireType === 2 ? countVarints(inner, f) : 1), 0)
    const values = Array.from(
      { length: Math.max(0, count + pick(rand, [0, 0, 0, 0, 0, -1, 1])) },
      () => edgeValue(rand),
    )
    const kept = innerFields.filter((f) => f.field !== 2).map((f) => span(inner, f))
    const packed = lengthDelimited(2, Buffer.concat(values.map((v) => varint(v))))
    return {
      bytes: Buffer.concat([
        bytes.subarray(0, sample.start),
        lengthDelimited(SAMPLE_FIELD, Buffer.concat([...kept, packed])),
        bytes.subarray(sample.end),
      ]),
      step: `values @${sample.start}: [${values.join(',')}]`,
    }
  },
  /** Two profiles in one body: protobuf merges them, their string tables one after the other. */
  concat: (rand, bytes) => {
    const other = Buffer.from(seedProfile(rand).encode())
    return { bytes: Buffer.concat([bytes, other]), step: `concat ${other.length} bytes` }
  },
}

const MUTATION_WEIGHTS: [name: string, weight: number][] = [
  ['flip', 4],
  ['cut', 2],
  ['append', 1],
  ['fields', 3],
  ['nested', 4],
  ['values', 2],
  ['concat', 1],
]

function countVarints(bytes: Buffer, f: Field): number {
  let n = 0
  for (let i = f.data; i < f.end; i++) if (bytes[i]! < 0x80) n++
  return n
}

function weighted(rand: Rand): string {
  let r = rand() * MUTATION_WEIGHTS.reduce((a, [, w]) => a + w, 0)
  for (const [name, w] of MUTATION_WEIGHTS) if ((r -= w) < 0) return name
  return MUTATION_WEIGHTS[0]![0]
}

/** What the gzip layer may suffer: none, or damage to the stream itself. */
function gzipped(rand: Rand, bytes: Buffer): { bytes: Buffer; step: string } {
  const gz = gzipSync(bytes)
  switch (pick(rand, ['plain', 'plain', 'plain', 'flip', 'cut', 'trailing', 'members'] as const)) {
    case 'plain':
      return { bytes: gz, step: 'gzip' }
    case 'flip': {
      const flipped = MUTATIONS.flip!(rand, gz)
      return { bytes: flipped.bytes, step: `gzip, ${flipped.step}` }
    }
    case 'cut': {
      const length = int(rand, 2, gz.length - 1)
      return { bytes: gz.subarray(0, length), step: `gzip, cut ${length}/${gz.length}` }
    }
    case 'trailing': {
      const extra = Buffer.from(Array.from({ length: int(rand, 1, 8) }, () => int(rand, 0, 255)))
      return {
        bytes: Buffer.concat([gz, extra]),
        step: `gzip, trailing 0x${extra.toString('hex')}`,
      }
    }
    case 'members': {
      // A gzip file may hold several members, read one after the other (RFC 1952, 2.2).
      const at = int(rand, 0, bytes.length)
      const members = [gzipSync(bytes.subarray(0, at)), gzipSync(bytes.subarray(at))]
      return { bytes: Buffer.concat(members), step: `gzip, two members split at ${at}` }
    }
  }
}

export interface FuzzCase {
  seed: number
  /** What was done to the seed profile, in order: a failure's description. */
  steps: string[]
  body: Buffer
}

export function makeCase(seed: number): FuzzCase {
  const rand = mulberry32(seed)
  let bytes: Buffer = Buffer.from(seedProfile(rand).encode())
  const steps: string[] = []
  // Mostly one mutation, so that many cases stay readable and their totals are compared; a few
  // none, so that the seeds themselves are too.
  for (let n = pick(rand, [0, 1, 1, 1, 1, 1, 2, 2, 3]); n > 0; n--) {
    const mutated = MUTATIONS[weighted(rand)]!(rand, bytes)
    bytes = mutated.bytes
    steps.push(mutated.step)
  }
  if (chance(rand, 0.5)) {
    const gz = gzipped(rand, bytes)
    bytes = gz.bytes
    steps.push(gz.step)
  }
  return { seed, steps, body: bytes }
}
