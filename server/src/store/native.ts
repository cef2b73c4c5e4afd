import type { SampleRow } from './rows.js'
import { SAMPLE_COLUMNS } from './tsv.js'

/**
 * Sample rows as one block of ClickHouse's `Native` format: the columns one after the other, each
 * as the engine holds it in memory (numbers as little-endian words, strings as a length and their
 * bytes). The store reads it with next to no parsing: 12,600 sample rows took chDB 3 ms to read
 * as Native against 17 to 28 as TabSeparated, and their insert into `samples` half the CPU
 * (bench/README.md, "Ingest speed": the Native format).
 *
 * The string columns are sent as `String` and the store converts them to its `LowCardinality`.
 */
export function samplesNative(rows: readonly SampleRow[]): Buffer {
  const n = rows.length
  const out = new BlockWriter(n * 40 + stringBytes(rows) + 512)
  out.varint(SAMPLE_COLUMNS.length)
  out.varint(n)
  for (const column of ['tenant', 'service', 'type'] as const) {
    out.header(column, 'String')
    let last: string | undefined
    let encoded = Buffer.alloc(0)
    for (let i = 0; i < n; i++) {
      const value = rows[i]![column]
      if (value !== last) {
        last = value
        encoded = Buffer.from(value)
      }
      out.varint(encoded.length)
      out.bytes(encoded)
    }
  }
  out.header('time', "DateTime64(3, 'UTC')")
  for (let i = 0; i < n; i++) out.int64(rows[i]!.time)
  for (const column of ['series_id', 'stack_hash'] as const) {
    out.header(column, 'UInt64')
    for (let i = 0; i < n; i++) out.uint64(rows[i]![column])
  }
  out.header('value', 'Int64')
  for (let i = 0; i < n; i++) out.int64(rows[i]!.value)
  out.header('upload', 'UInt64')
  for (let i = 0; i < n; i++) out.uint64(rows[i]!.upload)
  return out.buffer.subarray(0, out.length)
}

/** An upper bound of the bytes of the rows' string columns (at most 3 bytes a UTF-16 unit). */
function stringBytes(rows: readonly SampleRow[]): number {
  let bytes = 0
  for (const row of rows) {
    bytes += 3 * (row.tenant.length + row.service.length + row.type.length) + 15
  }
  return bytes
}

const TWO_32 = 4294967296
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/**
 * A row the Native format cannot hold (a value outside Int64, an id that is not a UInt64): the
 * data of the request it came from, refused as the store refuses a bad row in a text format.
 */
export class RowEncodingError extends Error {
  override readonly name = 'RowEncodingError'
}

class BlockWriter {
  readonly buffer: Buffer
  length = 0
  /** The last decimal id converted, and its halves: an upload's rows share series and upload. */
  #lastId = ''
  #lastHi = 0
  #lastLo = 0

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafe(capacity)
  }

  varint(value: number): void {
    const buffer = this.buffer
    let at = this.length
    while (value >= 0x80) {
      buffer[at++] = (value & 0x7f) | 0x80
      value = Math.floor(value / 128)
    }
    buffer[at++] = value
    this.length = at
  }

  bytes(source: Buffer): void {
    if (source.length < 32) {
      const buffer = this.buffer
      let at = this.length
      for (let i = 0; i < source.length; i++) buffer[at++] = source[i]!
      this.length = at
    } else {
      source.copy(this.buffer, this.length)
      this.length += source.length
    }
  }

  /** A column's name and type. */
  header(name: string, type: string): void {
    for (const s of [name, type]) {
      const encoded = Buffer.from(s)
      this.varint(encoded.length)
      this.bytes(encoded)
    }
  }

  #word(hi: number, lo: number): void {
    const at = this.length
    this.buffer.writeUInt32LE(lo >>> 0, at)
    this.buffer.writeUInt32LE(hi >>> 0, at + 4)
    this.length = at + 8
  }

  /** A signed integer (a JS number: exact below 2^53) as a two's complement 64-bit word. */
  int64(value: number): void {
    if (Number.isSafeInteger(value) && value >= 0) {
      this.#word(Math.floor(value / TWO_32), value % TWO_32)
      return
    }
    const big = Number.isInteger(value) ? BigInt(value) : undefined
    if (big === undefined || big < INT64_MIN || big > INT64_MAX) {
      throw new RowEncodingError(`not an Int64: ${value}`)
    }
    this.buffer.writeBigInt64LE(big, this.length)
    this.length += 8
  }

  /** An unsigned 64-bit id given as its decimal string (`UInt64String`). */
  uint64(decimal: string): void {
    if (decimal !== this.#lastId) {
      this.#parse(decimal)
      this.#lastId = decimal
    }
    this.#word(this.#lastHi, this.#lastLo)
  }

  /**
   * The halves of a decimal of up to 20 digits, without BigInt: its first 15 digits `a` and the
   * rest `b` (k ≤ 5 digits) are exact doubles; the value a·10^k + b is summed in parts small
   * enough to stay exact: a = aHi·2^24 + aLo, so value = (aHi·10^k)·2^24 + (aLo·10^k + b).
   */
  #parse(decimal: string): void {
    const n = decimal.length
    if (n === 0 || n > 20) throw new RowEncodingError(`not a UInt64: ${decimal}`)
    const head = Math.min(n, 15)
    let a = 0
    for (let i = 0; i < head; i++) a = a * 10 + digit(decimal, i)
    let b = 0
    let scale = 1
    for (let i = head; i < n; i++) {
      b = b * 10 + digit(decimal, i)
      scale *= 10
    }
    const aHi = Math.floor(a / 16777216)
    const aLo = a % 16777216
    const u = aHi * scale // < 2^43
    const low = (u % 256) * 16777216 + aLo * scale + b // < 2^53
    const hi = Math.floor(u / 256) + Math.floor(low / TWO_32)
    if (hi >= TWO_32) throw new RowEncodingError(`not a UInt64: ${decimal}`)
    this.#lastHi = hi
    this.#lastLo = low % TWO_32
  }
}

function digit(s: string, i: number): number {
  const d = s.charCodeAt(i) - 48
  if (d < 0 || d > 9) throw new RowEncodingError(`not a UInt64: ${s}`)
  return d
}

/**
 * The rows of a block written by {@link samplesNative} (the ingest log keeps an upload's sample
 * rows as that block, and reads them back when it replays). Throws on anything else.
 */
export function samplesFromNative(block: Buffer): SampleRow[] {
  let at = 0
  const varint = (): number => {
    let value = 0
    let scale = 1
    for (;;) {
      const byte = block[at++]
      if (byte === undefined) throw new RangeError('Native block ends early')
      value += (byte & 0x7f) * scale
      if (byte < 0x80) return value
      scale *= 128
    }
  }
  const string = (): string => {
    const length = varint()
    if (at + length > block.length) throw new RangeError('Native block ends early')
    const s = block.toString('utf8', at, at + length)
    at += length
    return s
  }
  const columns = varint()
  const n = varint()
  if (columns !== SAMPLE_COLUMNS.length) throw new RangeError('not a block of sample rows')
  const rows = Array.from({ length: n }, () => ({}) as Record<string, string | number>)
  for (const expected of SAMPLE_COLUMNS) {
    const name = string()
    const type = string()
    if (name !== expected) throw new RangeError(`column ${name} where ${expected} was expected`)
    if (type === 'String') {
      for (const row of rows) row[name] = string()
      continue
    }
    if (at + 8 * n > block.length) throw new RangeError('Native block ends early')
    for (const row of rows) {
      row[name] =
        type === 'UInt64' ? block.readBigUInt64LE(at).toString() : Number(block.readBigInt64LE(at))
      at += 8
    }
  }
  return rows as unknown as SampleRow[]
}
