import type { ErrorResponse } from '@kiln/wire'

/**
 * Errors the UI raises itself, when the server's own `ErrorResponse` is not available.
 * Codes are stable; `hint` tells the reader what to do.
 */
export const UI_ERRORS = {
  KILN_ERR_UI_NETWORK: {
    code: 'KILN_ERR_UI_NETWORK',
    hint: 'Check that the Kiln server is running (by default on http://localhost:4040), then press Refresh.',
  },
  KILN_ERR_UI_HTTP: {
    code: 'KILN_ERR_UI_HTTP',
    hint: 'The server answered with an unexpected error page. Check the server log, then press Refresh.',
  },
  KILN_ERR_UI_BAD_RESPONSE: {
    code: 'KILN_ERR_UI_BAD_RESPONSE',
    hint: 'The server answered with something other than JSON. Check that this UI and the server are the same version.',
  },
} as const

export type UiErrorCode = keyof typeof UI_ERRORS

/**
 * The server's access errors the UI acts on (sign in again, pick another tenant, wait). The
 * codes are the server's; the UI only reads them.
 */
export const ACCESS_ERROR_CODES = {
  /** 401: no token, or one the server does not know (revoked, mistyped). */
  unauthorized: 'KILN_ERR_UNAUTHORIZED',
  /** 403: the token lacks the scope the route needs. */
  forbidden: 'KILN_ERR_FORBIDDEN',
  /** 403: the token is not bound to the tenant named. */
  tenantForbidden: 'KILN_ERR_TENANT_FORBIDDEN',
  /** 401: a multi-tenant server and no tenant named. */
  tenantRequired: 'KILN_ERR_TENANT_REQUIRED',
  /** 429, with `Retry-After`. */
  rateLimited: 'KILN_ERR_RATE_LIMITED',
} as const

/** What the reader can do about an error beyond trying again. */
export type ErrorRemedy = 'sign-in' | 'switch-tenant' | null

/** A failed API call: the server's `ErrorResponse`, or one of `UI_ERRORS`. */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  readonly statusCode: number
  readonly code: string
  /** From `Retry-After` on a 429, when the server sent one. */
  readonly retryAfterSeconds: number | undefined

  constructor(
    body: Pick<ErrorResponse, 'statusCode' | 'code' | 'message'> & { retryAfterSeconds?: number },
    options?: ErrorOptions,
  ) {
    super(body.message, options)
    this.statusCode = body.statusCode
    this.code = body.code
    this.retryAfterSeconds = body.retryAfterSeconds
  }
}

/**
 * Seconds to wait from a `Retry-After` value: delay-seconds (`"30"`) or an HTTP date
 * (`"Wed, 21 Oct 2026 07:28:00 GMT"`), RFC 9110 section 10.2.3. `undefined` when absent or unreadable.
 */
export function retryAfterSeconds(value: string | null, nowMs = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  const at = Date.parse(trimmed)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, Math.ceil((at - nowMs) / 1000))
}

/** Whether the error asks for another credential or another tenant. */
export function errorRemedy(error: ApiError): ErrorRemedy {
  if (
    error.code === ACCESS_ERROR_CODES.tenantForbidden ||
    error.code === ACCESS_ERROR_CODES.tenantRequired
  ) {
    return 'switch-tenant'
  }
  if (error.statusCode === 401 || error.code === ACCESS_ERROR_CODES.forbidden) return 'sign-in'
  return null
}

/** Whether a parsed body is the server's error shape. */
export function isErrorResponse(body: unknown): body is ErrorResponse {
  if (typeof body !== 'object' || body === null) return false
  const candidate = body as Record<string, unknown>
  return (
    typeof candidate.statusCode === 'number' &&
    typeof candidate.code === 'string' &&
    typeof candidate.message === 'string'
  )
}

/** What to tell the reader to do about an error. */
export function errorHint(error: ApiError): string {
  if (Object.hasOwn(UI_ERRORS, error.code)) return UI_ERRORS[error.code as UiErrorCode].hint
  switch (error.code) {
    case ACCESS_ERROR_CODES.unauthorized:
      return 'The server no longer accepts your token: it may have been revoked or mistyped. Sign in again.'
    case ACCESS_ERROR_CODES.forbidden:
      return 'Your token does not allow this: reading profiles needs a token with the read scope. Sign in with another token.'
    case ACCESS_ERROR_CODES.tenantForbidden:
      return 'Your token is not allowed to read this tenant. Switch to a tenant it is bound to.'
    case ACCESS_ERROR_CODES.tenantRequired:
      return "This server keeps each tenant's profiles apart: choose a tenant."
    case ACCESS_ERROR_CODES.rateLimited:
      return error.retryAfterSeconds !== undefined
        ? `Too many requests: the server asks to wait ${error.retryAfterSeconds} s. Then press Try again.`
        : 'Too many requests: wait a little, then press Try again.'
  }
  if (error.statusCode === 401) return 'The server needs a valid token. Sign in again.'
  if (error.statusCode >= 500) return 'The server failed. Check the server log, then press Refresh.'
  return 'The server rejected the request. Pick another service, type or range, or open the page without a query string.'
}
