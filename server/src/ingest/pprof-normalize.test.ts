import {
  Function as PprofFunction,
  Line,
  Location,
  Profile,
  Sample,
  StringTable,
  ValueType,
} from 'pprof-format'
import { describe, expect, it } from 'vitest'
import { decodePprof } from './pprof-decode.js'
import { normalizeProfile, TRUNCATED_FRAME } from './pprof-normalize.js'

const LIMITS = {
  maxSamplesPerProfile: 1000,
  maxStackDepth: 4,
  maxLabels: 8,
  maxLabelNameLength: 64,
  maxLabelValueLength: 64,
}

/**
 * A profile of two samples: a stack of six functions (`f0`, the root, to `f5`, the leaf), whose
 * second location holds `f3` inlined into `f2`; and a stack of `f0` under an address-only
 * location.
 */
function profile(): Buffer {
  const strings = new StringTable()
  const fn = (i: number) =>
    new PprofFunction({ id: i + 1, name: strings.dedup(`f${i}`), filename: strings.dedup('a.js') })
  const functions = Array.from({ length: 6 }, (_, i) => fn(i))
  const line = (i: number) => new Line({ functionId: i + 1, line: 10 + i })
  // Leaf first, inlined lines first, as pprof lists them.
  const locations = [
    new Location({ id: 1, line: [line(5)] }),
    new Location({ id: 2, line: [line(4)] }),
    new Location({ id: 3, line: [line(3), line(2)] }),
    new Location({ id: 4, line: [line(1)] }),
    new Location({ id: 5, line: [line(0)] }),
    new Location({ id: 6, address: 0xbeef }),
  ]
  return Buffer.from(
    new Profile({
      sampleType: [
        new ValueType({ type: strings.dedup('cpu'), unit: strings.dedup('nanoseconds') }),
      ],
      sample: [
        new Sample({ locationId: [1, 2, 3, 4, 5], value: [7] }),
        new Sample({ locationId: [6, 5], value: [3] }),
      ],
      location: locations,
      function: functions,
      stringTable: strings,
    }).encode(),
  )
}

describe('normalizeProfile', () => {
  const normalize = (knownStack?: (hash: string) => boolean) =>
    normalizeProfile(decodePprof(profile()), {
      tenant: 't',
      service: 's',
      labels: {},
      fromMs: 1_000_000,
      limits: LIMITS,
      ...(knownStack ? { knownStack } : {}),
    })

  it('keeps frames root first, cuts a deep stack under a marker, names address-only frames', () => {
    const { batch } = normalize()
    const [deep, shallow] = batch.stacks
    // Six frames, four kept: the marker, then the three leaf-most.
    expect(deep).toMatchObject({
      functions: [TRUNCATED_FRAME, 'f3', 'f4', 'f5'],
      files: ['', 'a.js', 'a.js', 'a.js'],
      lines: [0, 13, 14, 15],
    })
    expect(shallow).toMatchObject({ functions: ['f0', '0xbeef'], lines: [10, 0] })
    const values = new Map(batch.samples.map((s) => [s.stack_hash, s.value]))
    expect(values.get(deep!.stack_hash)).toBe(7)
    expect(values.get(shallow!.stack_hash)).toBe(3)
  })

  it('hashes a stack by its frames alone, and gives a known one no row', () => {
    const first = normalize().batch
    const again = normalize().batch
    expect(again.stacks.map((s) => s.stack_hash)).toEqual(first.stacks.map((s) => s.stack_hash))
    const known = new Set([first.stacks[0]!.stack_hash])
    const skipped = normalize((hash) => known.has(hash)).batch
    expect(skipped.stacks.map((s) => s.stack_hash)).toEqual([first.stacks[1]!.stack_hash])
    expect(skipped.samples).toHaveLength(2)
  })
})
