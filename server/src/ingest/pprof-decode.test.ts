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
import { describe, expect, it } from 'vitest'
import { decodePprof, decompress } from './pprof-decode.js'

/** A small valid profile; `change` edits it before it is encoded. */
function encoded(change: (p: Profile, strings: StringTable) => void = () => {}): Buffer {
  const strings = new StringTable()
  const profile = new Profile({
    sampleType: [new ValueType({ type: strings.dedup('cpu'), unit: strings.dedup('nanoseconds') })],
    sample: [
      new Sample({
        locationId: [1],
        value: [100],
        label: [new Label({ key: strings.dedup('route'), str: strings.dedup('/a') })],
      }),
    ],
    mapping: [new Mapping({ id: 1, filename: strings.dedup('/srv/app') })],
    location: [new Location({ id: 1, mappingId: 1, line: [new Line({ functionId: 1 })] })],
    function: [new PprofFunction({ id: 1, name: strings.dedup('main') })],
    stringTable: strings,
  })
  change(profile, strings)
  return Buffer.from(profile.encode())
}

const bytes = (...values: number[]) => Buffer.from(values)
const refused = (body: Buffer, message: RegExp) =>
  expect(() => decodePprof(body)).toThrow(
    expect.objectContaining({
      code: 'KILN_ERR_PPROF_INVALID',
      message: expect.stringMatching(message),
    }),
  )

describe('decodePprof', () => {
  it('decodes a valid profile', () => {
    const profile = decodePprof(encoded())
    expect(Array.from(profile.samples.value)).toEqual([100])
    expect(profile.strings.get(profile.sampleTypes[0]!.type)).toBe('cpu')
  })

  // pprof-format decodes each of these into some profile; Go's pprof refuses them.
  it.each([
    ['a length past the end', encoded().subarray(0, -1), /holds \d+ bytes, \d+ are left/],
    ['a varint cut short', Buffer.concat([encoded(), bytes(0x48, 0x80)]), /varint cut short/],
    ['a sample type as a varint', Buffer.concat([encoded(), bytes(0x08, 0x01)]), /not a ValueType/],
    ['time_nanos as bytes', Buffer.concat([encoded(), bytes(0x4a, 0x00)]), /not a varint/],
    [
      'two time_nanos (profiles concatenated)',
      Buffer.concat([encoded(), bytes(0x48, 0x01, 0x48, 0x02)]),
      /second time_nanos/,
    ],
    ['no string table', bytes(0x48, 0x01), /no string table/],
    ['a first string that is not ""', bytes(0x32, 0x01, 0x61), /string_table\[0\] must be ""/],
  ])('refuses %s', (_what, body, message) => refused(body, message))

  // Go's pprof reads these (skipping unknown fields, dropping bits beyond 64); pprof-format,
  // Kiln's decoder before its own, read them as something else, or failed, and Kiln still refuses
  // them (the fuzz test lists these among Kiln's stricter rules).
  it.each([
    [
      // pprof-format reads tag 0x80 as field 16 and 0x01 as its value, then 0x08 as a second,
      // empty, sample type.
      'a two-byte tag',
      Buffer.concat([encoded(), bytes(0x80, 0x01, 0x08)]),
      /field 16 .* one-byte tags only/,
    ],
    ['a fixed64 field', Buffer.concat([encoded(), bytes(0x79, 1, 2, 3, 4, 5, 6, 7, 8)]), /fixed64/],
    ['a fixed32 field', Buffer.concat([encoded(), bytes(0x7d, 1, 2, 3, 4)]), /fixed32/],
    [
      'a varint beyond 64 bits',
      Buffer.concat([encoded(), bytes(0x48, ...Array<number>(9).fill(0xff), 0x02)]),
      /beyond 64 bits/,
    ],
  ])('refuses %s, which Kiln cannot read as pprof does', (_what, body, message) =>
    refused(body, message),
  )

  // What Go's pprof checks after decoding (`postDecode`, `CheckValid`).
  it.each([
    ['two locations with one id', (p: Profile) => p.location.push(p.location[0]!), /two locations/],
    ['a function with id 0', (p: Profile) => (p.function[0]!.id = 0), /function has id 0/],
    [
      'a line of a missing function',
      (p: Profile) => (p.location[0]!.line[0]!.functionId = 7),
      /missing function 7/,
    ],
    [
      'a sample of a missing location',
      (p: Profile) => (p.sample[0]!.locationId = [9]),
      /location 9/,
    ],
    ['a value too many', (p: Profile) => p.sample[0]!.value.push(1), /2 values for 1 sample types/],
    [
      'a label key outside the string table',
      (p: Profile) => p.sample[0]!.label.push(new Label({ key: 99, num: 1 })),
      /label of sample 0/,
    ],
    [
      'a mapping file outside the string table',
      (p: Profile) => (p.mapping[0]!.filename = 99),
      /file/,
    ],
    [
      'a comment outside the string table',
      (p: Profile) => p.comment.push(-1),
      /comment is string -1/,
    ],
  ])('refuses %s', (_what, change, message) => refused(encoded(change), message))
})

describe('decompress', () => {
  const raw = encoded()
  const half = raw.length >> 1

  it('reads gzip members one after the other, as gzip(1) does', async () => {
    const members = Buffer.concat([gzipSync(raw.subarray(0, half)), gzipSync(raw.subarray(half))])
    expect(await decompress(members, 1 << 20)).toEqual(raw)
  })

  it('inflates a small body that grows a thousandfold, and still holds it to the limit', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 7)
    const gz = gzipSync(big)
    expect(gz.length).toBeLessThan(64 * 1024)
    expect((await decompress(gz, 8 * 1024 * 1024)).equals(big)).toBe(true)
    await expect(decompress(gz, 2 * 1024 * 1024)).rejects.toThrow(
      expect.objectContaining({ code: 'KILN_ERR_DECOMPRESSED_TOO_LARGE' }),
    )
    await expect(decompress(gz, 512 * 1024)).rejects.toThrow(
      expect.objectContaining({ code: 'KILN_ERR_DECOMPRESSED_TOO_LARGE' }),
    )
  })

  it('refuses bytes after the last member, which zlib would skip and Go would not', async () => {
    await expect(
      decompress(Buffer.concat([gzipSync(raw), Buffer.alloc(4)]), 1 << 20),
    ).rejects.toThrow(expect.objectContaining({ code: 'KILN_ERR_GZIP_INVALID' }))
  })
})
