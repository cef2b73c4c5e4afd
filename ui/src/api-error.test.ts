import { describe, expect, it } from 'vitest'
import { ApiError, UI_ERRORS, errorHint, isErrorResponse } from './api-error'

describe('UI_ERRORS', () => {
  it('keys each error by its own code', () => {
    for (const [key, error] of Object.entries(UI_ERRORS)) expect(error.code).toBe(key)
  })

  it('uses the KILN_ERR_UI_ prefix', () => {
    for (const key of Object.keys(UI_ERRORS)) expect(key).toMatch(/^KILN_ERR_UI_[A-Z_]+$/)
  })
})

describe('isErrorResponse', () => {
  it('accepts the server error shape and rejects others', () => {
    const body = { statusCode: 400, code: 'KILN_ERR_X', error: 'Bad Request', message: 'bad' }
    expect(isErrorResponse(body)).toBe(true)
    expect(isErrorResponse({ ...body, code: 1 })).toBe(false)
    expect(isErrorResponse(null)).toBe(false)
    expect(isErrorResponse('error')).toBe(false)
  })
})

describe('errorHint', () => {
  it('uses the catalog hint for UI errors', () => {
    const { code, hint } = UI_ERRORS.KILN_ERR_UI_NETWORK
    expect(errorHint(new ApiError({ statusCode: 0, code, message: 'down' }))).toBe(hint)
  })

  it('tells server failures from rejected requests', () => {
    const failed = errorHint(new ApiError({ statusCode: 503, code: 'KILN_ERR_X', message: 'x' }))
    const rejected = errorHint(new ApiError({ statusCode: 400, code: 'KILN_ERR_X', message: 'x' }))
    expect(failed).toMatch(/server log/)
    expect(rejected).not.toBe(failed)
  })
})
