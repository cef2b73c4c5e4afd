import { describe, expect, it } from 'vitest'
import { KilnError } from '../errors.js'
import { wrapQueryError } from './select-rows.js'

/** The shape of `ClickHouseError` (chDB bundles its own copy of the class). */
const clickhouseError = (code: string, type: string, message: string) =>
  Object.assign(new Error(message), { code, type })

describe('wrapQueryError', () => {
  it('blames the client for a regex RE2 cannot compile', () => {
    const error = wrapQueryError(
      clickhouseError(
        '427',
        'CANNOT_COMPILE_REGEXP',
        'OptimizedRegularExpression: cannot compile re2: ^(?:a(b)$, error: missing ): ^(?:a(b)$. Look at https://github.com/google/re2/wiki/Syntax for reference.',
      ),
    )
    expect(error).toMatchObject({ code: 'KILN_ERR_QUERY_INVALID', statusCode: 400 })
    expect(error.message).toBe(
      'Invalid query: selector regex: cannot compile re2: ^(?:a(b)$, error: missing ): ^(?:a(b)$',
    )
    expect(error.cause).toBeInstanceOf(Error)
  })

  it('leaves every other failure to the store catalog', () => {
    expect(wrapQueryError(new Error('connect ECONNREFUSED 127.0.0.1:8123')).code).toBe(
      'KILN_ERR_STORE_UNAVAILABLE',
    )
    const failed = wrapQueryError(clickhouseError('47', 'UNKNOWN_IDENTIFIER', 'Unknown x'))
    expect(failed.statusCode).toBe(500)
    const own = new KilnError('KILN_ERR_QUERY_INVALID', 'x')
    expect(wrapQueryError(own)).toBe(own)
  })
})
