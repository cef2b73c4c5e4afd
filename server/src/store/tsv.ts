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

/** Sample rows as TabSeparated lines of {@link SAMPLE_COLUMNS}. */
export function samplesTsv(rows: readonly SampleRow[]): string {
  let out = ''
  // Rows of one upload share tenant, service and time: their text is made once.
  let lastTenant: string | undefined
  let lastService: string | undefined
  let lastTime: number | undefined
  let prefix = ''
  let time = ''
  for (const row of rows) {
    if (row.tenant !== lastTenant || row.service !== lastService) {
      lastTenant = row.tenant
      lastService = row.service
      prefix = `${tsvString(row.tenant)}\t${tsvString(row.service)}\t`
    }
    if (row.time !== lastTime) {
      lastTime = row.time
      time = tsvMillis(row.time)
    }
    out += `${prefix}${tsvString(row.type)}\t${time}\t${row.series_id}\t${row.stack_hash}\t${row.value}\t${row.upload}\n`
  }
  return out
}
