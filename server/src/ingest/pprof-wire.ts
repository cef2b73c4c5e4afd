import { KilnError } from '../errors.js'

/*
 * The protobuf wire format of a pprof, checked before it is decoded. pprof-format's decoder
 * (the encoder of Kiln's agent, fast on what it writes) trusts its input: a length past the end
 * is cut short, a varint cut short ends the message, a tag of two bytes is read as a one-byte tag
 * and a value, a field of the wrong wire type is read as some other number. From such bytes it
 * decodes a profile, just not the one they hold. Go's pprof refuses each of these ("parsing
 * profile: ..."), so Kiln refuses them too, before storing a profile no other tool reads.
 */

/** How a field is encoded: a varint, packed or repeated varints, bytes, or a nested message. */
type Kind = 'varint' | 'packed' | 'bytes' | MessageSchema

interface MessageSchema {
  name: string
  fields: Readonly<Record<number, Kind>>
}

/**
 * `profile.proto` (github.com/google/pprof/proto/profile.proto), the fields Go's pprof reads.
 * Newer ones (`Line.column`, `Profile.doc_url`) are unknown fields here as they are to it; Kiln
 * reads neither.
 */
const VALUE_TYPE: MessageSchema = { name: 'ValueType', fields: { 1: 'varint', 2: 'varint' } }
const LABEL: MessageSchema = {
  name: 'Label',
  fields: { 1: 'varint', 2: 'varint', 3: 'varint', 4: 'varint' },
}
const SAMPLE: MessageSchema = { name: 'Sample', fields: { 1: 'packed', 2: 'packed', 3: LABEL } }
const MAPPING: MessageSchema = {
  name: 'Mapping',
  fields: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [i + 1, 'varint'])),
}
const LINE: MessageSchema = { name: 'Line', fields: { 1: 'varint', 2: 'varint' } }
const LOCATION: MessageSchema = {
  name: 'Location',
  fields: { 1: 'varint', 2: 'varint', 3: 'varint', 4: LINE, 5: 'varint' },
}
const FUNCTION: MessageSchema = {
  name: 'Function',
  fields: { 1: 'varint', 2: 'varint', 3: 'varint', 4: 'varint', 5: 'varint' },
}
const PROFILE: MessageSchema = {
  name: 'Profile',
  fields: {
    1: VALUE_TYPE,
    2: SAMPLE,
    3: MAPPING,
    4: LOCATION,
    5: FUNCTION,
    6: 'bytes',
    7: 'varint',
    8: 'varint',
    9: 'varint',
    10: 'varint',
    11: VALUE_TYPE,
    12: 'varint',
    13: 'packed',
    14: 'varint',
  },
}
const STRING_TABLE = 6
const TIME_NANOS = 9

const WIRE_TYPE_NAMES = [
  'varint',
  'fixed64',
  'length-delimited',
  'group start',
  'group end',
  'fixed32',
]

/**
 * Refuse bytes whose protobuf structure pprof-format would read differently from Go's pprof:
 * every tag, varint and length is whole and in bounds, every known field has the wire type
 * `profile.proto` gives it, and the string table starts with `""`.
 */
export function checkWireFormat(bytes: Uint8Array): void {
  new WireReader(bytes).message(bytes.length, PROFILE)
}

/**
 * A walk over the bytes. It allocates nothing per field (a large profile has millions): the
 * last varint's value and where the current field starts are kept here, and error messages
 * are written only when one is thrown.
 */
class WireReader {
  #at = 0
  /** The value of the last varint read, exact up to 2^53 (any length or tag a body can hold). */
  #value = 0
  #message = PROFILE.name
  #field = -1
  #fieldAt = 0

  constructor(private readonly bytes: Uint8Array) {}

  message(end: number, schema: MessageSchema): void {
    let strings = 0
    let timeNanosSeen = false
    while (this.#at < end) {
      this.#message = schema.name
      this.#fieldAt = this.#at
      this.#field = -1
      this.#varint(end)
      const field = Math.floor(this.#value / 8)
      const wireType = this.#value % 8
      this.#field = field
      if (this.#at - this.#fieldAt > 1) {
        // pprof-format reads the first byte as the whole tag, and the next as its value.
        throw this.#malformed("Kiln's decoder reads one-byte tags only (fields 1 to 15)")
      }
      const kind = schema.fields[field]
      if (wireType === 0) {
        if (kind !== undefined && kind !== 'varint' && kind !== 'packed') {
          throw this.#malformed(`is a varint, not ${describe(kind)}`)
        }
        this.#varint(end)
        if (schema === PROFILE && field === TIME_NANOS) {
          // Go's pprof reads a second time_nanos after a non-zero one as two profiles
          // concatenated (`errConcatProfile`): their string tables would be read as one.
          if (timeNanosSeen) throw this.#malformed('a second time_nanos (profiles concatenated?)')
          timeNanosSeen = this.#value !== 0
        }
      } else if (wireType === 2) {
        if (kind === 'varint') throw this.#malformed('is length-delimited, not a varint')
        this.#varint(end)
        const length = this.#value
        if (length > end - this.#at) {
          throw this.#malformed(`holds ${length} bytes, ${end - this.#at} are left`)
        }
        const dataEnd = this.#at + length
        if (kind === 'packed') this.#packed(dataEnd)
        else if (typeof kind === 'object') this.message(dataEnd, kind)
        else if (schema === PROFILE && field === STRING_TABLE && strings++ === 0 && length > 0) {
          throw this.#malformed('string_table[0] must be ""')
        }
        this.#at = dataEnd
      } else {
        // Fixed-width fields are valid protobuf, but no pprof field has one and pprof-format
        // cannot skip them; groups (3, 4) and 6, 7 are no wire type of proto3 at all.
        const name = WIRE_TYPE_NAMES[wireType]
        throw this.#malformed(`has wire type ${wireType}${name ? ` (${name})` : ''}`)
      }
    }
    if (schema === PROFILE && strings === 0)
      throw new KilnError('KILN_ERR_PPROF_INVALID', 'no string table')
  }

  /**
   * A varint of at most 10 bytes, whole before `end`. The 10th byte may only carry the 64th
   * bit: beyond, Go's pprof drops the high bits and pprof-format keeps them, so the two would
   * read different numbers.
   */
  #varint(end: number): void {
    const { bytes } = this
    let value = 0
    for (let i = 0; i < 10; i++) {
      if (this.#at >= end) throw this.#malformed('has a varint cut short')
      const byte = bytes[this.#at++]!
      if (i === 9 && byte > 1) break
      value += (byte & 0x7f) * 2 ** (7 * i)
      if (byte < 0x80) {
        this.#value = value
        return
      }
    }
    throw this.#malformed('has a varint beyond 64 bits')
  }

  /** Packed varints up to `end`: each whole, none beyond 64 bits (as {@link #varint}). */
  #packed(end: number): void {
    const { bytes } = this
    let length = 0
    for (let i = this.#at; i < end; i++) {
      const byte = bytes[i]!
      if (length === 9 && byte > 1) throw this.#malformed('has a varint beyond 64 bits')
      length = byte < 0x80 ? 0 : length + 1
    }
    if (length > 0) throw this.#malformed('has a varint cut short')
  }

  #malformed(detail: string): KilnError {
    const what = this.#field < 0 ? 'tag' : `field ${this.#field}`
    return new KilnError(
      'KILN_ERR_PPROF_INVALID',
      `${this.#message} ${what} at byte ${this.#fieldAt} ${detail}`,
    )
  }
}

function describe(kind: Kind): string {
  return typeof kind === 'object' ? `a ${kind.name} message` : kind
}
