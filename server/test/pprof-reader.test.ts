import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { Profile } from 'pprof-format'
import { afterAll, describe, expect, it } from 'vitest'
import { isGzip } from '../src/ingest/pprof-decode.js'
import { readPprof, type DecodedPprof } from '../src/ingest/pprof-reader.js'
import { pprofCommand, pprofReadAll } from './helpers/go-pprof.js'
import { makeCase } from './helpers/pprof-fuzz.js'

/*
 * Kiln's pprof reader (`pprof-reader.ts`) against the two readers it must agree with, on the same
 * bytes: `pprof-format` (the decoder Kiln used before, and the encoder of Node's profilers) for
 * every field Kiln reads, and `go tool pprof` for what it accepts and each sample type's sum.
 * The bytes are the real profiles of the ingest benchmark's corpus and seeded random profiles,
 * valid and mutated (`helpers/pprof-fuzz.ts`).
 */

const CORPUS = new URL('../../bench/ingest/corpus/', import.meta.url)
const SEEDS = Array.from({ length: 200 }, (_, i) => 20_261_201 + i)

/** Refusals of bytes Go's pprof reads: Kiln's stricter rules (see ingest-fuzz.test.ts). */
const STRICTER_THAN_PPROF = [
  /reads one-byte tags only/,
  /has wire type [15] \(fixed/,
  /varint beyond 64 bits/,
  /has a negative value/,
  /beyond 2\^53/,
]

interface Case {
  name: string
  bytes: Buffer
}

function cases(): Case[] {
  const out: Case[] = []
  for (const file of readdirSync(CORPUS)
    .filter((f) => f.endsWith('.pb.gz'))
    .sort()) {
    out.push({ name: file, bytes: gunzipSync(readFileSync(new URL(file, CORPUS))) })
  }
  for (const seed of SEEDS) {
    const { body } = makeCase(seed)
    let bytes: Buffer
    try {
      bytes = isGzip(body) ? gunzipSync(body) : body
    } catch {
      continue // a damaged gzip stream: not the reader's input
    }
    if (bytes.length > 0) out.push({ name: `seed ${seed}`, bytes })
  }
  return out
}

/** What Kiln keeps of a profile, in pprof-format's terms, for comparing the two readers. */
function viewOfReader(d: DecodedPprof) {
  const { samples, locations, functions, strings } = d
  const types = d.sampleTypes.length
  const range = (start: Uint32Array, i: number) => [start[i]!, start[i + 1]!] as const
  return {
    strings: Array.from({ length: strings.count }, (_, i) => strings.get(i)),
    sampleTypes: d.sampleTypes.map((t) => [t.type, t.unit]),
    timeNanos: d.timeNanos,
    durationNanos: d.durationNanos,
    samples: Array.from({ length: samples.count }, (_, s) => {
      const [from, to] = range(samples.locationStart, s)
      const [lf, lt] = range(samples.labelStart, s)
      return {
        locations: Array.from(samples.location.subarray(from, to), (l) => String(locations.id[l])),
        values: Array.from(samples.value.subarray(s * types, (s + 1) * types)),
        labels: Array.from({ length: lt - lf }, (_, i) => [
          samples.labelKey[lf + i],
          samples.labelStr[lf + i],
        ]),
      }
    }),
    locations: Array.from({ length: locations.count }, (_, l) => {
      const [from, to] = range(locations.lineStart, l)
      return {
        id: String(locations.id[l]),
        lines: Array.from({ length: to - from }, (_, i) => {
          const fn = locations.lineFunction[from + i]!
          return [
            strings.get(functions.name[fn]!),
            strings.get(functions.file[fn]!),
            locations.lineNumber[from + i],
          ]
        }),
      }
    }),
  }
}

function viewOfPprofFormat(p: Profile) {
  const n = (v: number | bigint) => Number(BigInt.asIntN(64, BigInt(v)))
  const functions = new Map(p.function.map((f) => [String(f.id), f]))
  const strings = p.stringTable.strings
  return {
    strings: [...strings],
    sampleTypes: p.sampleType.map((t) => [n(t.type), n(t.unit)]),
    timeNanos: n(p.timeNanos),
    durationNanos: n(p.durationNanos),
    samples: p.sample.map((s) => ({
      locations: s.locationId.map((id) => String(id)),
      values: s.value.map(n),
      // Numeric labels keep their key; their value reads as 0, as Kiln keeps no numbers.
      labels: s.label.map((l) => [n(l.key), n(l.str)]),
    })),
    locations: p.location.map((loc) => ({
      id: String(loc.id),
      lines: loc.line.map((line) => {
        const fn = functions.get(String(line.functionId))!
        return [strings[n(fn.name)], strings[n(fn.filename)], n(line.line)]
      }),
    })),
  }
}

describe("Kiln's pprof reader", () => {
  const all = cases()
  const dir = mkdtempSync(join(tmpdir(), 'kiln-reader-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('reads every field Kiln keeps as pprof-format does', () => {
    let compared = 0
    for (const c of all) {
      let decoded: DecodedPprof
      try {
        decoded = readPprof(c.bytes)
      } catch {
        continue // refused: compared with Go's pprof below
      }
      expect(viewOfReader(decoded), c.name).toEqual(viewOfPprofFormat(Profile.decode(c.bytes)))
      compared++
    }
    expect(compared).toBeGreaterThan(all.length / 3)
  })

  it("accepts what Go's pprof accepts (but for its stricter rules), with the same sums", async () => {
    const files = all.map((c, i) => {
      const file = join(dir, `${i}.pb`)
      writeFileSync(file, c.bytes)
      return file
    })
    const readings = await pprofReadAll(pprofCommand(), files, 2)
    const tally = { agreed: 0, refusedByBoth: 0, stricter: 0 }
    readings.forEach((reading, i) => {
      const c = all[i]!
      let decoded: DecodedPprof | undefined
      let error = ''
      try {
        decoded = readPprof(c.bytes)
      } catch (e) {
        error = (e as Error).message
      }
      if (!reading.ok) {
        expect(decoded, `${c.name}: Kiln read what pprof refuses (${reading.error})`).toBe(
          undefined,
        )
        tally.refusedByBoth++
        return
      }
      if (decoded === undefined) {
        expect(
          STRICTER_THAN_PPROF.some((re) => re.test(error)),
          `${c.name}: ${error}`,
        ).toBe(true)
        tally.stricter++
        return
      }
      const types = decoded.sampleTypes.length
      const sums = Array.from({ length: types }, (_, t) => {
        let sum = 0n
        for (let s = 0; s < decoded.samples.count; s++) {
          sum += BigInt(decoded.samples.value[s * types + t]!)
        }
        return sum
      })
      if (decoded.samples.count > 0) expect(sums, c.name).toEqual(reading.totals)
      tally.agreed++
    })
    expect(tally.agreed, JSON.stringify(tally)).toBeGreaterThan(all.length / 3)
    expect(tally.refusedByBoth, JSON.stringify(tally)).toBeGreaterThan(all.length / 10)
  }, 120_000)
})
