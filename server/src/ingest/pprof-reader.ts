import { KilnError } from '../errors.js'

/*
 * pprof's protobuf (github.com/google/pprof/proto/profile.proto), read in one pass into flat
 * arrays: what Kiln stores of a profile, with no object per sample, location or line, and no
 * string decoded until it is asked for (a profile's frames are mostly stacks Kiln already has,
 * which need hashing, not decoding).
 *
 * It refuses what Go's pprof refuses, in the same words as before it existed (when Kiln checked
 * the wire format, then decoded with `pprof-format`, then checked references): a tag, varint or
 * length cut short or out of bounds, a known field of the wrong wire type, no string table or
 * one that does not start with `""`, a second non-zero `time_nanos` (profiles concatenated),
 * and, after decoding, what Go's `postDecode` and `CheckValid` check: string indices in the
 * table, ids non-zero and unique, every function a line names and every location a sample names
 * present, as many values in each sample as sample types. Where Go's pprof reads bytes that
 * `pprof-format` could not read as Go does (tags of two bytes, fixed-width fields, varints whose
 * 10th byte carries more than the 64th bit), Kiln still refuses them, as it did: the fuzz test
 * (`server/test/ingest-fuzz.test.ts`) lists these as Kiln's stricter rules.
 */

/** A pprof `uint64` id: a number up to 2^53, a bigint beyond (kept exact: ids are map keys). */
export type PprofId = number | bigint

/** A decoded profile. Positions (not ids) link samples to locations and lines to functions. */
export interface DecodedPprof {
  readonly strings: PprofStrings
  /** String indices of each sample type's type and unit. */
  readonly sampleTypes: readonly { readonly type: number; readonly unit: number }[]
  /** Signed, as Go reads the int64 (exact up to 2^53). */
  readonly timeNanos: number
  readonly durationNanos: number
  readonly functions: {
    readonly count: number
    /** String index of each function's name and file. */
    readonly name: Uint32Array
    readonly file: Uint32Array
  }
  readonly locations: {
    readonly count: number
    /** Each location's id, for messages. */
    readonly id: readonly PprofId[]
    /** Lines of location `i`: `lineStart[i]` to `lineStart[i + 1]`, leaf (inlined) first. */
    readonly lineStart: Uint32Array
    /** Position (in `functions`) of each line's function. */
    readonly lineFunction: Uint32Array
    /** Each line's number, signed. */
    readonly lineNumber: Float64Array
    /** Each location's address, for locations without lines. */
    readonly address: readonly PprofId[]
  }
  readonly samples: {
    readonly count: number
    /** Locations of sample `i`: `locationStart[i]` to `locationStart[i + 1]`, leaf first. */
    readonly locationStart: Uint32Array
    /** Position (in `locations`) of each of a sample's locations. */
    readonly location: Uint32Array
    /** Values, `sampleTypes.length` per sample, signed (exact up to 2^53). */
    readonly value: Float64Array
    /** Labels of sample `i`: `labelStart[i]` to `labelStart[i + 1]`. */
    readonly labelStart: Uint32Array
    /** String index of each label's key, and of its value (0 for a numeric label). */
    readonly labelKey: Uint32Array
    readonly labelStr: Uint32Array
  }
}

/** The string table: UTF-8 byte ranges of one buffer, each decoded once, when first read. */
export class PprofStrings {
  readonly #bytes: Buffer
  readonly #start: Uint32Array
  readonly #end: Uint32Array
  readonly #decoded: (string | undefined)[]
  readonly count: number

  constructor(bytes: Buffer, start: Uint32Array, end: Uint32Array, count: number) {
    this.#bytes = bytes
    this.#start = start
    this.#end = end
    this.count = count
    this.#decoded = new Array<string | undefined>(count)
  }

  /** The string at `index` (checked in range at decode), invalid UTF-8 replaced by U+FFFD. */
  get(index: number): string {
    let s = this.#decoded[index]
    if (s === undefined) {
      s = this.#bytes.toString('utf8', this.#start[index], this.#end[index])
      this.#decoded[index] = s
    }
    return s
  }

  /** The string's bytes, as received (a view, not a copy). */
  bytes(index: number): Buffer {
    return this.#bytes.subarray(this.#start[index], this.#end[index])
  }

  byteStart(index: number): number {
    return this.#start[index]!
  }

  byteEnd(index: number): number {
    return this.#end[index]!
  }

  /** The buffer every string is a range of. */
  get buffer(): Buffer {
    return this.#bytes
  }
}

// Field numbers of profile.proto.
const enum ProfileField {
  SampleType = 1,
  Sample = 2,
  Mapping = 3,
  Location = 4,
  Function = 5,
  StringTable = 6,
  DropFrames = 7,
  KeepFrames = 8,
  TimeNanos = 9,
  DurationNanos = 10,
  PeriodType = 11,
  Period = 12,
  Comment = 13,
  DefaultSampleType = 14,
}

/** How a field is encoded. */
const enum Kind {
  Unknown = 0,
  Varint = 1,
  Packed = 2,
  Bytes = 3,
  Message = 4,
}

/** The kind of each field (index: field number) of each message, and the message's name. */
interface Schema {
  readonly name: string
  readonly kinds: readonly Kind[]
  readonly messages?: readonly (string | undefined)[]
}

const V = Kind.Varint
const P = Kind.Packed
const M = Kind.Message
const B = Kind.Bytes
const PROFILE: Schema = {
  name: 'Profile',
  kinds: [0, M, M, M, M, M, B, V, V, V, V, M, V, P, V],
  messages: [
    undefined,
    'ValueType',
    'Sample',
    'Mapping',
    'Location',
    'Function',
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    'ValueType',
  ],
}
const VALUE_TYPE: Schema = { name: 'ValueType', kinds: [0, V, V] }
const SAMPLE: Schema = {
  name: 'Sample',
  kinds: [0, P, P, M],
  messages: [undefined, undefined, undefined, 'Label'],
}
const LABEL: Schema = { name: 'Label', kinds: [0, V, V, V, V] }
const MAPPING: Schema = { name: 'Mapping', kinds: [0, V, V, V, V, V, V, V, V, V, V] }
const LOCATION: Schema = {
  name: 'Location',
  kinds: [0, V, V, V, M, V],
  messages: [undefined, undefined, undefined, undefined, 'Line'],
}
const LINE: Schema = { name: 'Line', kinds: [0, V, V] }
const FUNCTION: Schema = { name: 'Function', kinds: [0, V, V, V, V, V] }

const WIRE_TYPE_NAMES = [
  'varint',
  'fixed64',
  'length-delimited',
  'group start',
  'group end',
  'fixed32',
]

/** Growable arrays of numbers (plain arrays of small integers are compact in V8). */
type Numbers = number[]

/**
 * Decode a pprof (uncompressed protobuf bytes). Throws `KILN_ERR_PPROF_INVALID` for anything
 * Go's pprof refuses (see the file comment).
 */
export function readPprof(input: Uint8Array, options: ReadOptions = {}): DecodedPprof {
  if (input.length === 0) throw new KilnError('KILN_ERR_PPROF_INVALID', 'empty body')
  const bytes = Buffer.isBuffer(input)
    ? input
    : Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  return new Reader(bytes, options.maxSamples ?? Infinity).read()
}

export interface ReadOptions {
  /**
   * Refuse a profile of more samples as soon as the count passes it (an empty sample is two
   * bytes: a body of a few MB could otherwise hold millions).
   */
  maxSamples?: number
}

class Reader {
  readonly #bytes: Buffer
  #at = 0
  /** The last varint read, exact up to 2^53; beyond, `#big` holds it exactly. */
  #value = 0
  #big: bigint | undefined
  // Where the current field is, for error messages.
  #message = 'Profile'
  #field = -1
  #fieldAt = 0

  // Profile
  #strings = 0
  #stringStart: Numbers = []
  #stringEnd: Numbers = []
  #timeNanos = 0
  #timeNanosSeen = false
  #durationNanos = 0
  #sampleTypes: { type: number; unit: number }[] = []
  /** Every string index the profile names outside samples and functions, with what names it. */
  #otherStrings: { index: number; what: string }[] = []
  /** drop_frames, keep_frames, default_sample_type: string indices, by field. */
  #scalarStrings = new Map<number, number>()
  #mappingIds: PprofId[] = []
  // Functions
  #functionIds: PprofId[] = []
  #functionName: Numbers = []
  #functionSystemName: Numbers = []
  #functionFile: Numbers = []
  // Locations and their lines
  #locationIds: PprofId[] = []
  #locationAddress: PprofId[] = []
  #lineStart: Numbers = [0]
  #lineFunctionId: PprofId[] = []
  #lineNumber: Numbers = []
  // Samples
  #sampleLocationStart: Numbers = [0]
  #sampleLocationId: PprofId[] = []
  #valueStart: Numbers = [0]
  #values: Numbers = []
  /** A value beyond 2^53 or negative beyond -2^53, by its position in `#values`. */
  #bigValues: Map<number, bigint> | undefined
  #labelStart: Numbers = [0]
  #labelKey: Numbers = []
  #labelStr: Numbers = []
  #labelNumUnit: Numbers = []

  readonly #maxSamples: number

  constructor(bytes: Buffer, maxSamples: number) {
    this.#bytes = bytes
    this.#maxSamples = maxSamples
  }

  read(): DecodedPprof {
    this.#profile(this.#bytes.length)
    if (this.#strings === 0) throw invalid('no string table')
    return this.#resolve()
  }

  // ---- Wire format -------------------------------------------------------------------------

  /** The next tag: sets `#field`, returns the wire type. */
  #tag(end: number, schema: Schema): number {
    this.#message = schema.name
    this.#fieldAt = this.#at
    this.#field = -1
    this.#varint(end)
    const tag = this.#value
    this.#field = Math.floor(tag / 8)
    if (this.#at - this.#fieldAt > 1) {
      // pprof-format read the first byte as the whole tag, and the next as its value.
      throw this.#malformed("Kiln's decoder reads one-byte tags only (fields 1 to 15)")
    }
    const wireType = tag & 7
    const kind = schema.kinds[this.#field] ?? Kind.Unknown
    if (wireType === 0) {
      if (kind === Kind.Message || kind === Kind.Bytes) {
        const what = kind === Kind.Bytes ? 'bytes' : `a ${schema.messages![this.#field]} message`
        throw this.#malformed(`is a varint, not ${what}`)
      }
    } else if (wireType === 2) {
      if (kind === Kind.Varint) throw this.#malformed('is length-delimited, not a varint')
    } else {
      // Fixed-width fields are valid protobuf, but no pprof field has one; groups (3, 4) and
      // 6, 7 are no wire type of proto3 at all.
      const name = WIRE_TYPE_NAMES[wireType]
      throw this.#malformed(`has wire type ${wireType}${name ? ` (${name})` : ''}`)
    }
    return wireType
  }

  /** The length of a length-delimited field, checked against `end`; returns its end. */
  #length(end: number): number {
    this.#varint(end)
    const length = this.#value
    if (length > end - this.#at) {
      throw this.#malformed(`holds ${length} bytes, ${end - this.#at} are left`)
    }
    return this.#at + length
  }

  /**
   * A varint of at most 10 bytes, whole before `end`, into `#value` (and `#big` beyond 2^53).
   * The 10th byte may only carry the 64th bit: beyond, Go's pprof drops the high bits.
   */
  #varint(end: number): void {
    const bytes = this.#bytes
    let at = this.#at
    if (at < end) {
      const b0 = bytes[at]!
      if (b0 < 0x80) {
        this.#at = at + 1
        this.#value = b0
        this.#big = undefined
        return
      }
      if (at + 1 < end) {
        const b1 = bytes[at + 1]!
        if (b1 < 0x80) {
          this.#at = at + 2
          this.#value = (b0 & 0x7f) | (b1 << 7)
          this.#big = undefined
          return
        }
      }
    }
    let value = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      if (at >= end) throw this.#malformed('has a varint cut short')
      const byte = bytes[at++]!
      if (i === 9 && byte > 1) throw this.#malformed('has a varint beyond 64 bits')
      value += (byte & 0x7f) * scale
      scale *= 128
      if (byte < 0x80) {
        this.#at = at
        this.#value = value
        this.#big = value > Number.MAX_SAFE_INTEGER ? this.#exact(at - i - 1, at) : undefined
        return
      }
    }
    throw this.#malformed('has a varint beyond 64 bits')
  }

  /** The exact value of the varint at `[from, to)`. */
  #exact(from: number, to: number): bigint {
    let value = 0n
    for (let i = to - 1; i >= from; i--) value = (value << 7n) | BigInt(this.#bytes[i]! & 0x7f)
    return BigInt.asUintN(64, value)
  }

  /** The last varint as an id: a number when exact, else a bigint. */
  #id(): PprofId {
    return this.#big ?? this.#value
  }

  /** The last varint as a signed int64, as a number (exact up to 2^53 either way). */
  #signed(): number {
    if (this.#big === undefined) return this.#value
    return Number(BigInt.asIntN(64, this.#big))
  }

  /** Skip the value of an unknown field. */
  #skip(wireType: number, end: number): void {
    if (wireType === 0) this.#varint(end)
    else this.#at = this.#length(end)
  }

  /**
   * The values of a repeated varint field, packed (wire type 2) or not (0), each as `push`
   * wants it.
   */
  #repeated(wireType: number, end: number, push: () => void): void {
    if (wireType === 0) {
      this.#varint(end)
      push()
      return
    }
    const dataEnd = this.#length(end)
    while (this.#at < dataEnd) {
      this.#varint(dataEnd)
      push()
    }
  }

  #malformed(detail: string): KilnError {
    const what = this.#field < 0 ? 'tag' : `field ${this.#field}`
    return invalid(`${this.#message} ${what} at byte ${this.#fieldAt} ${detail}`)
  }

  // ---- Messages ----------------------------------------------------------------------------

  #profile(end: number): void {
    while (this.#at < end) {
      const wireType = this.#tag(end, PROFILE)
      const field = this.#field
      switch (field) {
        case ProfileField.Sample:
          this.#sample(this.#length(end))
          break
        case ProfileField.Location:
          this.#location(this.#length(end))
          break
        case ProfileField.Function:
          this.#function(this.#length(end))
          break
        case ProfileField.StringTable: {
          const stringEnd = this.#length(end)
          if (this.#strings++ === 0 && stringEnd > this.#at) {
            throw this.#malformed('string_table[0] must be ""')
          }
          this.#stringStart.push(this.#at)
          this.#stringEnd.push(stringEnd)
          this.#at = stringEnd
          break
        }
        case ProfileField.SampleType: {
          const type = this.#valueType(this.#length(end))
          this.#sampleTypes.push(type)
          this.#otherStrings.push(
            { index: type.type, what: 'a sample type' },
            { index: type.unit, what: 'a sample unit' },
          )
          break
        }
        case ProfileField.PeriodType: {
          const type = this.#valueType(this.#length(end))
          this.#otherStrings.push(
            { index: type.type, what: 'the period type' },
            { index: type.unit, what: 'the period unit' },
          )
          break
        }
        case ProfileField.Mapping:
          this.#mapping(this.#length(end))
          break
        case ProfileField.TimeNanos:
          this.#varint(end)
          // Go's pprof reads a second time_nanos after a non-zero one as two profiles
          // concatenated (`errConcatProfile`): their string tables would be read as one.
          if (this.#timeNanosSeen)
            throw this.#malformed('a second time_nanos (profiles concatenated?)')
          this.#timeNanosSeen = this.#value !== 0
          this.#timeNanos = this.#signed()
          break
        case ProfileField.DurationNanos:
          this.#varint(end)
          this.#durationNanos = this.#signed()
          break
        case ProfileField.DropFrames:
        case ProfileField.KeepFrames:
        case ProfileField.DefaultSampleType:
          // Scalars: the last occurrence counts, as in Go.
          this.#varint(end)
          this.#scalarStrings.set(field, this.#signed())
          break
        case ProfileField.Comment:
          this.#repeated(wireType, end, () =>
            this.#otherStrings.push({ index: this.#signed(), what: 'a comment' }),
          )
          break
        default:
          this.#skip(wireType, end) // period, and fields Go's pprof does not read either
      }
    }
  }

  #valueType(end: number): { type: number; unit: number } {
    const type = { type: 0, unit: 0 }
    while (this.#at < end) {
      const wireType = this.#tag(end, VALUE_TYPE)
      if (this.#field === 1 || this.#field === 2) {
        this.#varint(end)
        if (this.#field === 1) type.type = this.#signed()
        else type.unit = this.#signed()
      } else this.#skip(wireType, end)
    }
    this.#message = PROFILE.name
    return type
  }

  #sample(end: number): void {
    const locations = this.#sampleLocationId
    const values = this.#values
    while (this.#at < end) {
      const wireType = this.#tag(end, SAMPLE)
      switch (this.#field) {
        case 1:
          this.#repeated(wireType, end, () => locations.push(this.#id()))
          break
        case 2:
          this.#repeated(wireType, end, () => {
            if (this.#big !== undefined) {
              this.#bigValues ??= new Map()
              this.#bigValues.set(values.length, BigInt.asIntN(64, this.#big))
            }
            values.push(this.#signed())
          })
          break
        case 3:
          this.#label(this.#length(end))
          break
        default:
          this.#skip(wireType, end)
      }
    }
    this.#sampleLocationStart.push(locations.length)
    if (this.#sampleLocationStart.length - 1 > this.#maxSamples) {
      throw new KilnError(
        'KILN_ERR_PROFILE_LIMIT',
        `more than ${this.#maxSamples} samples, limit ${this.#maxSamples} (KILN_MAX_SAMPLES_PER_PROFILE)`,
      )
    }
    this.#valueStart.push(values.length)
    this.#labelStart.push(this.#labelKey.length)
    this.#message = PROFILE.name
  }

  #label(end: number): void {
    let key = 0
    let str = 0
    let numUnit = 0
    while (this.#at < end) {
      const wireType = this.#tag(end, LABEL)
      const field = this.#field
      if (field >= 1 && field <= 4) {
        this.#varint(end)
        if (field === 1) key = this.#signed()
        else if (field === 2) str = this.#signed()
        else if (field === 4) numUnit = this.#signed()
      } else this.#skip(wireType, end)
    }
    this.#labelKey.push(key)
    this.#labelStr.push(str)
    this.#labelNumUnit.push(numUnit)
    this.#message = SAMPLE.name
  }

  #mapping(end: number): void {
    let id: PprofId = 0
    let filename = 0
    let buildId = 0
    while (this.#at < end) {
      const wireType = this.#tag(end, MAPPING)
      const field = this.#field
      if (field >= 1 && field <= 10) {
        this.#varint(end)
        if (field === 1) id = this.#id()
        else if (field === 5) filename = this.#signed()
        else if (field === 6) buildId = this.#signed()
      } else this.#skip(wireType, end)
    }
    this.#mappingIds.push(id)
    this.#otherStrings.push(
      { index: filename, what: `mapping ${id}'s file` },
      { index: buildId, what: `mapping ${id}'s build id` },
    )
    this.#message = PROFILE.name
  }

  #location(end: number): void {
    let id: PprofId = 0
    let address: PprofId = 0
    while (this.#at < end) {
      const wireType = this.#tag(end, LOCATION)
      const field = this.#field
      if (field === 4) this.#line(this.#length(end))
      else if (field >= 1 && field <= 5) {
        this.#varint(end)
        if (field === 1) id = this.#id()
        else if (field === 3) address = this.#id()
      } else this.#skip(wireType, end)
    }
    this.#locationIds.push(id)
    this.#locationAddress.push(address)
    this.#lineStart.push(this.#lineFunctionId.length)
    this.#message = PROFILE.name
  }

  #line(end: number): void {
    let functionId: PprofId = 0
    let line = 0
    while (this.#at < end) {
      const wireType = this.#tag(end, LINE)
      if (this.#field === 1 || this.#field === 2) {
        this.#varint(end)
        if (this.#field === 1) functionId = this.#id()
        else line = this.#signed()
      } else this.#skip(wireType, end)
    }
    this.#lineFunctionId.push(functionId)
    this.#lineNumber.push(line)
    this.#message = LOCATION.name
  }

  #function(end: number): void {
    let id: PprofId = 0
    let name = 0
    let systemName = 0
    let file = 0
    while (this.#at < end) {
      const wireType = this.#tag(end, FUNCTION)
      const field = this.#field
      if (field >= 1 && field <= 5) {
        this.#varint(end)
        if (field === 1) id = this.#id()
        else if (field === 2) name = this.#signed()
        else if (field === 3) systemName = this.#signed()
        else if (field === 4) file = this.#signed()
      } else this.#skip(wireType, end)
    }
    this.#functionIds.push(id)
    this.#functionName.push(name)
    this.#functionSystemName.push(systemName)
    this.#functionFile.push(file)
    this.#message = PROFILE.name
  }

  // ---- References --------------------------------------------------------------------------

  /** Check every reference as Go's pprof does, and link samples and lines by position. */
  #resolve(): DecodedPprof {
    const strings = this.#strings
    /** A string index in the table, or an error naming `what()`. */
    const string = (index: number, what: () => string): number => {
      if (index >= 0 && index < strings) return index
      throw invalid(`${what()} is string ${index} of ${strings}`)
    }
    for (const { index, what } of this.#otherStrings) string(index, () => what)
    for (const [field, index] of this.#scalarStrings) {
      const what =
        field === ProfileField.DropFrames
          ? 'drop_frames'
          : field === ProfileField.KeepFrames
            ? 'keep_frames'
            : 'default_sample_type'
      string(index, () => what)
    }
    const functionCount = this.#functionIds.length
    for (let i = 0; i < functionCount; i++) {
      const id = () => String(this.#functionIds[i])
      string(this.#functionName[i]!, () => `function ${id()}'s name`)
      string(this.#functionSystemName[i]!, () => `function ${id()}'s system name`)
      string(this.#functionFile[i]!, () => `function ${id()}'s file`)
    }
    positions('mapping', this.#mappingIds)
    const functionAt = positions('function', this.#functionIds)
    const locationAt = positions('location', this.#locationIds)

    const lineFunction = new Uint32Array(this.#lineFunctionId.length)
    const locationCount = this.#locationIds.length
    for (let loc = 0; loc < locationCount; loc++) {
      for (let l = this.#lineStart[loc]!; l < this.#lineStart[loc + 1]!; l++) {
        const functionId = this.#lineFunctionId[l]!
        const at = functionAt.get(functionId)
        if (at === undefined) {
          throw invalid(
            `location ${this.#locationIds[loc]} refers to missing function ${functionId}`,
          )
        }
        lineFunction[l] = at
      }
    }

    // The hot loop of a large profile: no allocation unless something is wrong.
    const types = this.#sampleTypes.length
    const sampleCount = this.#sampleLocationStart.length - 1
    const location = new Uint32Array(this.#sampleLocationId.length)
    for (let s = 0; s < sampleCount; s++) {
      const valueCount = this.#valueStart[s + 1]! - this.#valueStart[s]!
      if (valueCount !== types) {
        throw invalid(`sample ${s} has ${valueCount} values for ${types} sample types`)
      }
      for (let i = this.#sampleLocationStart[s]!; i < this.#sampleLocationStart[s + 1]!; i++) {
        const id = this.#sampleLocationId[i]!
        const at = locationAt.get(id)
        if (at === undefined) throw invalid(`sample ${s} refers to missing location ${id}`)
        location[i] = at
      }
      for (let i = this.#labelStart[s]!; i < this.#labelStart[s + 1]!; i++) {
        // As Go's pprof reads a label: a string label when `str` is set, else a numeric one.
        const str = this.#labelStr[i]!
        const value = str !== 0 ? str : this.#labelNumUnit[i]!
        const key = this.#labelKey[i]!
        if (key < 0 || key >= strings || value < 0 || value >= strings) {
          throw invalid(`a label of sample ${s} refers to a string outside the table`)
        }
      }
    }
    if (this.#bigValues !== undefined) checkBigValues(this.#bigValues, types)

    return {
      strings: new PprofStrings(
        this.#bytes,
        Uint32Array.from(this.#stringStart),
        Uint32Array.from(this.#stringEnd),
        strings,
      ),
      sampleTypes: this.#sampleTypes,
      timeNanos: this.#timeNanos,
      durationNanos: this.#durationNanos,
      functions: {
        count: functionCount,
        name: Uint32Array.from(this.#functionName),
        file: Uint32Array.from(this.#functionFile),
      },
      locations: {
        count: locationCount,
        id: this.#locationIds,
        lineStart: Uint32Array.from(this.#lineStart),
        lineFunction,
        lineNumber: Float64Array.from(this.#lineNumber),
        address: this.#locationAddress,
      },
      samples: {
        count: sampleCount,
        locationStart: Uint32Array.from(this.#sampleLocationStart),
        location,
        value: Float64Array.from(this.#values),
        labelStart: Uint32Array.from(this.#labelStart),
        labelKey: Uint32Array.from(this.#labelKey),
        labelStr: Uint32Array.from(this.#labelStr),
      },
    }
  }
}

/** Position of each id; ids must be non-zero and unique. */
function positions(kind: string, ids: readonly PprofId[]): Map<PprofId, number> {
  const at = new Map<PprofId, number>()
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!
    if (id === 0) throw invalid(`a ${kind} has id 0`)
    if (at.has(id)) throw invalid(`two ${kind}s have id ${id}`)
    at.set(id, i)
  }
  return at
}

/**
 * Values beyond what a double holds exactly. A negative one is refused as any negative value is
 * (`normalizeProfile`), with its exact value; a positive one as beyond 2^53.
 */
function checkBigValues(values: Map<number, bigint>, types: number): void {
  for (const [position, value] of values) {
    const sample = Math.floor(position / Math.max(types, 1))
    if (value < 0n) throw invalid(`sample ${sample} has a negative value (${value})`)
    throw new KilnError(
      'KILN_ERR_PROFILE_LIMIT',
      `sample values add up beyond 2^53 (${Number.MAX_SAFE_INTEGER}), which no total can hold exactly`,
    )
  }
}

function invalid(detail: string): KilnError {
  return new KilnError('KILN_ERR_PPROF_INVALID', detail)
}
