import { describe, expect, it } from 'vitest'
import { ERRORS, KilnError } from './errors.js'

describe('error catalog', () => {
  it.each(Object.keys(ERRORS) as (keyof typeof ERRORS)[])('%s carries its own code', (code) => {
    const error = new KilnError(code, 'detail')
    expect(error.code).toBe(code)
    expect(error.statusCode).toBe(ERRORS[code].statusCode)
    expect(error.message).toContain('detail')
    expect(code).toMatch(/^KILN_ERR_[A-Z_]+$/)
  })

  it('keeps the foreign cause', () => {
    const cause = new Error('socket hang up')
    expect(new KilnError('KILN_ERR_STORE_UNAVAILABLE', 'x', { cause }).cause).toBe(cause)
  })
})
