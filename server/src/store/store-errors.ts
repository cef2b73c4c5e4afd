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

/** Wrap a foreign store error into Kiln's catalog, keeping it as the cause. */
export function wrapStoreError(error: unknown): KilnError {
  if (error instanceof KilnError) return error
  const message =
    error instanceof Error ? error.message.split('\n')[0]!.slice(0, 300) : String(error)
  if (isStoreUnavailable(error))
    return new KilnError('KILN_ERR_STORE_UNAVAILABLE', message, { cause: error })
  return new KilnError('KILN_ERR_STORE_QUERY_FAILED', message, { cause: error })
}
