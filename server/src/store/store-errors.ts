import { KilnError } from '../errors.js'

/** Network-level failures: the store is away, not wrong. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
])

/** True when an error from `@clickhouse/client` means the store cannot be reached right now. */
export function isStoreUnavailable(error: unknown): boolean {
  let current: unknown = error
  for (let depth = 0; current && depth < 5; depth++) {
    const e = current as { code?: unknown; message?: unknown; cause?: unknown }
    if (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) return true
    if (
      typeof e.message === 'string' &&
      /socket hang up|Timeout error|connect ECONNREFUSED/i.test(e.message)
    ) {
      return true
    }
    current = e.cause
  }
  return false
}

/**
 * ClickHouse errors that say the store cannot take an insert now, whatever its rows: a table
 * missing or read-only, memory, disk, files, too many parts or queries, a timeout. Retried,
 * never blamed on the rows; any other error the store answers an insert with is its rows'. By
 * code (checked against `errorCodeToName` of the embedded engine): the client's parsed `type`
 * is not reliable (`Table ... with UUID ... (UNKNOWN_TABLE)` comes as `UUID`).
 */
const STORE_STATE_ERRORS = new Map([
  [60, 'UNKNOWN_TABLE'],
  [74, 'CANNOT_READ_FROM_FILE_DESCRIPTOR'],
  [75, 'CANNOT_WRITE_TO_FILE_DESCRIPTOR'],
  [76, 'CANNOT_OPEN_FILE'],
  [81, 'UNKNOWN_DATABASE'],
  [107, 'FILE_DOESNT_EXIST'],
  [159, 'TIMEOUT_EXCEEDED'],
  [164, 'READONLY'],
  [173, 'CANNOT_ALLOCATE_MEMORY'],
  [202, 'TOO_MANY_SIMULTANEOUS_QUERIES'],
  [204, 'CANNOT_FSYNC'],
  [209, 'SOCKET_TIMEOUT'],
  [210, 'NETWORK_ERROR'],
  [218, 'TABLE_IS_DROPPED'],
  [236, 'ABORTED'],
  [241, 'MEMORY_LIMIT_EXCEEDED'],
  [242, 'TABLE_IS_READ_ONLY'],
  [243, 'NOT_ENOUGH_SPACE'],
  [252, 'TOO_MANY_PARTS'],
  [279, 'ALL_CONNECTION_TRIES_FAILED'],
  [319, 'UNKNOWN_STATUS_OF_INSERT'],
  [394, 'QUERY_WAS_CANCELLED'],
  [999, 'KEEPER_EXCEPTION'],
])

/**
 * True when the store refused an insert for its own state (`STORE_STATE_ERRORS`) or could not
 * be reached, not for the rows it was given.
 */
export function isStoreStateError(error: unknown): boolean {
  if (isStoreUnavailable(error)) return true
  let current: unknown = error
  for (let depth = 0; current && depth < 5; depth++) {
    const e = current as { code?: unknown; clickhouseCode?: unknown; cause?: unknown }
    const code = Number(e.clickhouseCode ?? e.code)
    if (STORE_STATE_ERRORS.has(code)) return true
    current = e.cause
  }
  return false
}

/** Wrap a foreign store error into Kiln's catalog, keeping it as the cause. */
export function wrapStoreError(error: unknown): KilnError {
  if (error instanceof KilnError) return error
  const message =
    error instanceof Error ? error.message.split('\n')[0]!.slice(0, 300) : String(error)
  if (isStoreStateError(error))
    return new KilnError('KILN_ERR_STORE_UNAVAILABLE', message, { cause: error })
  return new KilnError('KILN_ERR_STORE_QUERY_FAILED', message, { cause: error })
}
