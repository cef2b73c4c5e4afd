/**
 * Kiln server's error catalog: one stable code per failure, with its HTTP status. Every 4xx/5xx
 * body is `{ statusCode, code, error, message }`. Codes never change meaning once released.
 */
export const ERRORS = {
  KILN_ERR_BAD_REQUEST: { statusCode: 400, message: 'Bad request: %s' },
  KILN_ERR_APP_NAME_INVALID: { statusCode: 400, message: 'Invalid `name` parameter: %s' },
  KILN_ERR_TIME_INVALID: { statusCode: 400, message: 'Invalid time: %s' },
  KILN_ERR_PPROF_INVALID: { statusCode: 400, message: 'Malformed pprof: %s' },
  KILN_ERR_GZIP_INVALID: { statusCode: 400, message: 'Body is not valid gzip: %s' },
  KILN_ERR_FORMAT_UNSUPPORTED: { statusCode: 415, message: 'Unsupported ingest format: %s' },
  KILN_ERR_BODY_TOO_LARGE: { statusCode: 413, message: 'Body too large: %s' },
  KILN_ERR_DECOMPRESSED_TOO_LARGE: {
    statusCode: 413,
    message: 'Decompressed body exceeds %s bytes',
  },
  KILN_ERR_PROFILE_LIMIT: { statusCode: 422, message: 'Profile exceeds a limit: %s' },
  KILN_ERR_PROFILE_REJECTED: {
    statusCode: 422,
    message: 'The store refused this profile (the rest of its batch is stored): %s',
  },
  KILN_ERR_UNAUTHORIZED: { statusCode: 401, message: 'Unauthorized: %s' },
  KILN_ERR_TENANT_REQUIRED: { statusCode: 401, message: 'Tenant required: %s' },
  KILN_ERR_FORBIDDEN: { statusCode: 403, message: 'Forbidden: %s' },
  KILN_ERR_TENANT_FORBIDDEN: { statusCode: 403, message: 'Tenant forbidden: %s' },
  KILN_ERR_RATE_LIMITED: { statusCode: 429, message: 'Rate limited: %s' },
  KILN_ERR_OVERLOADED: { statusCode: 429, message: 'Server busy, retry later: %s' },
  KILN_ERR_QUERY_INVALID: { statusCode: 400, message: 'Invalid query: %s' },
  KILN_ERR_NOT_FOUND: { statusCode: 404, message: 'Not found: %s' },
  KILN_ERR_STORE_UNAVAILABLE: { statusCode: 503, message: 'Store unavailable: %s' },
  KILN_ERR_STORE_QUERY_FAILED: { statusCode: 500, message: 'Store query failed: %s' },
  KILN_ERR_INTERNAL: { statusCode: 500, message: 'Internal error: %s' },
} as const satisfies Record<string, { statusCode: number; message: string }>

export type KilnErrorCode = keyof typeof ERRORS

export class KilnError extends Error {
  readonly code: KilnErrorCode
  readonly statusCode: number
  /** Sent as `Retry-After` (429, 503): when the client may try again. */
  readonly retryAfterSeconds: number | undefined

  constructor(
    code: KilnErrorCode,
    detail: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(ERRORS[code].message.replace('%s', detail), options)
    this.name = 'KilnError'
    this.code = code
    this.statusCode = ERRORS[code].statusCode
    this.retryAfterSeconds = options?.retryAfterSeconds
  }
}

export function isKilnError(error: unknown): error is KilnError {
  return error instanceof KilnError
}
