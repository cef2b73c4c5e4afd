import type { SampleRow } from './rows.js'

/** The columns of {@link samplesTsv}'s lines, in order. */
export const SAMPLE_COLUMNS = [
  'tenant',
  'service',
  'type',
  'time',
  'series_id',
  'stack_hash',
  'value',
  'upload',
] as const

const SPECIAL = /[\\\t\n\r]/
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }

/** A string as a field of ClickHouse's TabSeparated format. */
export function tsvString(s: string): string {
  return SPECIAL.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!) : s
}

/**
 * Unix ms as ClickHouse reads a `DateTime64(3)` in text formats: seconds with a fraction. (A bare
 * integer would be read as seconds.)
 */
export function tsvMillis(ms: number): string {
  const seconds = Math.floor(ms / 1000)
  return `${seconds}.${String(ms - seconds * 1000).padStart(3, '0')}`
}

/**
 * Bytes written straight into a growing buffer: building the text as one string and encoding it
 * afterwards cost twice as much (the string's many parts are joined and copied again).
 */
class ByteWriter {
  buffer: Buffer
  length = 0

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafe(capacity)
  }

  #reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes))
    this.buffer.copy(grown, 0, 0, this.length)
    this.buffer = grown
  }

  bytes(source: Buffer): void {
    this.#reserve(source.length)
    source.copy(this.buffer, this.length)
    this.length += source.length
  }

  /** An ASCII string, as it is. */
  asciiRun(s: string): void {
    const n = s.length
    this.#reserve(n)
    const buffer = this.buffer
    let at = this.length
    for (let i = 0; i < n; i++) buffer[at++] = s.charCodeAt(i)
    this.length = at
  }

  /** An ASCII string (digits, here), then `end` (a tab or a newline). */
  ascii(s: string, end: number): void {
    const n = s.length
    this.#reserve(n + 1)
    const buffer = this.buffer
    let at = this.length
    for (let i = 0; i < n; i++) buffer[at++] = s.charCodeAt(i)
    buffer[at++] = end
    this.length = at
  }
}

const TAB = 9
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/
const NEWLINE = 10

/** Sample rows as TabSeparated lines of {@link SAMPLE_COLUMNS}, UTF-8. */
export function samplesTsv(rows: readonly SampleRow[]): Buffer {
  const out = new ByteWriter(rows.length * 72 + 256)
  // The text of tenant, service, type and time is made once per run of rows that share them
  // (the rows of one upload).
  let tenant: string | undefined
  let service: string | undefined
  let type: string | undefined
  let time: number | undefined
  let prefix = ''
  let encoded: Buffer | undefined
  for (const row of rows) {
    if (
      row.tenant !== tenant ||
      row.service !== service ||
      row.type !== type ||
      row.time !== time
    ) {
      ;({ tenant, service, type, time } = row)
      prefix = `${tsvString(tenant)}\t${tsvString(service)}\t${tsvString(type)}\t${tsvMillis(time)}\t`
      encoded = NON_ASCII.test(prefix) ? Buffer.from(prefix) : undefined
    }
    if (encoded === undefined) out.asciiRun(prefix)
    else out.bytes(encoded)
    out.ascii(row.series_id, TAB)
    out.ascii(row.stack_hash, TAB)
    out.ascii(String(row.value), TAB)
    out.ascii(row.upload, NEWLINE)
  }
  return out.buffer.subarray(0, out.length)
}
