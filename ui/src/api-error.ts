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

/** A failed API call: the server's `ErrorResponse`, or one of `UI_ERRORS`. */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  readonly statusCode: number
  readonly code: string

  constructor(
    body: Pick<ErrorResponse, 'statusCode' | 'code' | 'message'>,
    options?: ErrorOptions,
  ) {
    super(body.message, options)
    this.statusCode = body.statusCode
    this.code = body.code
  }
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
  if (error.statusCode >= 500) return 'The server failed. Check the server log, then press Refresh.'
  return 'The server rejected the request. Pick another service, type or range, or open the page without a query string.'
}
