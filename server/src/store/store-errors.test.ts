import { describe, expect, it } from 'vitest'
import { isStoreStateError, wrapStoreError } from './store-errors.js'

/*
 * Which store errors are the store's state (retried, 503) and which an insert's rows (its 422).
 * The errors are shaped as `@clickhouse/client` and chDB's connection make them: a string `code`,
 * a parsed `type`, the engine's error as `cause` with a numeric `clickhouseCode`. The real ones:
 * a detached table (server/test/ingest-exactly-once.test.ts) and a constraint
 * (server/test/ingest-log.test.ts).
 */
const clickhouseError = (code: number, type: string, cause?: unknown) =>
  Object.assign(new Error(`Code: ${code}. DB::Exception: ... (${type})`), {
    code: String(code),
    type,
    ...(cause !== undefined && { cause }),
  })

describe('store errors', () => {
  it('knows the store state by code, whatever type the client parsed', () => {
    // `Table kiln.profiles (UUID ...) does not exist. (UNKNOWN_TABLE)` is parsed as type `UUID`.
    expect(isStoreStateError(clickhouseError(60, 'UUID'))).toBe(true)
    expect(isStoreStateError(clickhouseError(241, 'MEMORY_LIMIT_EXCEEDED'))).toBe(true)
    expect(isStoreStateError(clickhouseError(252, 'TOO_MANY_PARTS'))).toBe(true)
    expect(isStoreStateError(new Error('wrapped', { cause: { clickhouseCode: 243 } }))).toBe(true)
  })

  it('leaves the rows their own errors', () => {
    expect(isStoreStateError(clickhouseError(469, 'VIOLATED_CONSTRAINT'))).toBe(false)
    expect(isStoreStateError(clickhouseError(27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED'))).toBe(
      false,
    )
    expect(isStoreStateError(clickhouseError(53, 'TYPE_MISMATCH'))).toBe(false)
  })

  it('counts a store it cannot reach as its state, and answers both 503', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), {
      code: 'ECONNREFUSED',
    })
    expect(isStoreStateError(refused)).toBe(true)
    expect(wrapStoreError(refused).code).toBe('KILN_ERR_STORE_UNAVAILABLE')
    expect(wrapStoreError(clickhouseError(60, 'UUID')).code).toBe('KILN_ERR_STORE_UNAVAILABLE')
    expect(wrapStoreError(clickhouseError(469, 'VIOLATED_CONSTRAINT')).code).toBe(
      'KILN_ERR_STORE_QUERY_FAILED',
    )
  })
})
