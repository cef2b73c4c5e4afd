import { describe, expect, it } from 'vitest'
import {
  ACCESS_ERROR_CODES,
  ApiError,
  UI_ERRORS,
  errorHint,
  errorRemedy,
  isErrorResponse,
  retryAfterSeconds,
} from './api-error'

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

describe('access errors', () => {
  const error = (statusCode: number, code: string, retryAfter?: number) =>
    new ApiError({
      statusCode,
      code,
      message: 'refused',
      ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
    })

  it('offers to sign in again for a refused token, and another tenant for a refused tenant', () => {
    expect(errorRemedy(error(401, ACCESS_ERROR_CODES.unauthorized))).toBe('sign-in')
    expect(errorRemedy(error(403, ACCESS_ERROR_CODES.forbidden))).toBe('sign-in')
    expect(errorRemedy(error(403, ACCESS_ERROR_CODES.tenantForbidden))).toBe('switch-tenant')
    expect(errorRemedy(error(401, ACCESS_ERROR_CODES.tenantRequired))).toBe('switch-tenant')
    expect(errorRemedy(error(429, ACCESS_ERROR_CODES.rateLimited))).toBeNull()
    expect(errorRemedy(error(500, 'KILN_ERR_X'))).toBeNull()
  })

  it('says how long to wait when rate limited', () => {
    const wait = 42
    expect(errorHint(error(429, ACCESS_ERROR_CODES.rateLimited, wait))).toContain(`${wait} s`)
    expect(errorHint(error(429, ACCESS_ERROR_CODES.rateLimited))).toMatch(/Too many requests/)
    expect(errorHint(error(401, ACCESS_ERROR_CODES.unauthorized))).toMatch(/Sign in again/)
  })

  it('reads Retry-After as seconds or as a date', () => {
    const now = Date.parse('2026-03-01T12:00:00Z')
    expect(retryAfterSeconds('30', now)).toBe(30)
    expect(retryAfterSeconds('Sun, 01 Mar 2026 12:00:10 GMT', now)).toBe(10)
    expect(retryAfterSeconds('Sun, 01 Mar 2026 11:00:00 GMT', now)).toBe(0)
    expect(retryAfterSeconds('soon', now)).toBeUndefined()
    expect(retryAfterSeconds(null, now)).toBeUndefined()
  })
})
