import { KilnError } from '../errors.js'
import { RowEncodingError, samplesNative } from './native.js'
import type { RowBatch } from './rows.js'

/*
 * What the store could refuse of an upload's rows, refused before the upload is acknowledged.
 * Without the ingest log the store itself is the check (a refused insert is the request's 422);
 * with it the answer comes before the insert, so every value is held against its column's type
 * here: a number that JSON cannot carry exactly, out of its column's range, or not finite.
 */

type Kind =
  | 'int64' // Int64 as a JSON number: a safe integer
  | 'uint32'
  | 'uint64' // UInt64 as a JSON number: a non-negative safe integer
  | 'uint64?'
  | 'float64?'
  | 'uint64s' // UInt64 as a decimal string
  | 'datetime' // DateTime: Unix seconds, UInt32
  | 'datetime64' // DateTime64(3): Unix ms within 1900..2299
  | 'uint32[]'

const COLUMNS: {
  [T in Exclude<keyof RowBatch, 'samples' | 'checkins'>]: Record<string, Kind>
} = {
  series: { series_id: 'uint64s', instance_id: 'uint64s', last_seen: 'datetime' },
  stacks: { stack_hash: 'uint64s', lines: 'uint32[]', last_seen: 'datetime' },
  traceSamples: {
    time: 'datetime64',
    series_id: 'uint64s',
    stack_hash: 'uint64s',
    value: 'int64',
    upload: 'uint64s',
  },
  profiles: {
    series_id: 'uint64s',
    time_start: 'datetime64',
    time_end: 'datetime64',
    total: 'int64',
    sample_count: 'uint32',
    received_at: 'datetime64',
  },
  agentStats: {
    time: 'datetime64',
    profiles_collected: 'uint64?',
    uploads_ok: 'uint64?',
    uploads_failed: 'uint64?',
    uploads_retried: 'uint64?',
    profiles_dropped: 'uint64?',
    bytes_uploaded: 'uint64?',
    queued_profiles: 'uint64?',
    queued_bytes: 'uint64?',
    collect_cpu_micros: 'uint64?',
    profiler_cpu_micros: 'uint64?',
    last_overhead_percent: 'float64?',
    overhead_budget_percent: 'float64?',
    duty_cycle: 'float64?',
    sampling_interval_micros: 'uint64?',
    received_at: 'datetime64',
  },
}

const MIN_DATETIME64_MS = Date.UTC(1900, 0, 1)
const MAX_DATETIME64_MS = Date.UTC(2299, 11, 31, 23, 59, 59, 999)
const MAX_UINT64 = 2n ** 64n - 1n
const MAX_UINT32 = 0xffffffff
const UINT64_DECIMAL = /^\d{1,20}$/

/**
 * Throw `KILN_ERR_PROFILE_REJECTED` (422) when a row of `batch` holds a value its column cannot
 * store. Sample rows are encoded as they will be sent (`samplesNative` checks as it writes):
 * their Native block is returned.
 */
export function checkRows(batch: RowBatch): Buffer {
  let native: Buffer
  try {
    native = samplesNative(batch.samples)
  } catch (error) {
    if (error instanceof RowEncodingError) refuse('samples', 'value', error.message)
    throw error
  }
  for (const table of Object.keys(COLUMNS) as (keyof typeof COLUMNS)[]) {
    const columns = Object.entries(COLUMNS[table])
    for (const row of batch[table] as unknown as Record<string, unknown>[]) {
      for (const [column, kind] of columns) {
        const problem = problemOf(row[column], kind)
        if (problem !== undefined) refuse(table, column, problem)
      }
    }
  }
  return native
}

function refuse(table: string, column: string, problem: string): never {
  throw new KilnError(
    'KILN_ERR_PROFILE_REJECTED',
    `a ${table} value the store cannot hold (${column}: ${problem})`,
  )
}

function problemOf(value: unknown, kind: Kind): string | undefined {
  const say = (problem: string) => `${problem}: ${String(value)}`
  switch (kind) {
    case 'int64':
      return integerIn(value, -Infinity, Infinity) ? undefined : say('not an exact Int64')
    case 'uint32':
      return integerIn(value, 0, MAX_UINT32) ? undefined : say('not a UInt32')
    case 'uint64?':
    case 'uint64':
      return (kind === 'uint64?' && value === null) || integerIn(value, 0, Infinity)
        ? undefined
        : say('not an exact UInt64')
    case 'float64?':
      return value === null || Number.isFinite(value) ? undefined : say('not finite')
    case 'uint64s':
      return typeof value === 'string' && UINT64_DECIMAL.test(value) && BigInt(value) <= MAX_UINT64
        ? undefined
        : say('not a UInt64')
    case 'datetime':
      return integerIn(value, 0, MAX_UINT32) ? undefined : say('not a time')
    case 'datetime64':
      return integerIn(value, MIN_DATETIME64_MS, MAX_DATETIME64_MS) ? undefined : say('not a time')
    case 'uint32[]':
      return Array.isArray(value) && value.every((v) => integerIn(v, 0, MAX_UINT32))
        ? undefined
        : 'not UInt32s'
  }
}

/** A JSON number that is an exact integer (at most 2^53) within `min`..`max`. */
function integerIn(value: unknown, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max
}
