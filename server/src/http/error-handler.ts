import type { FastifyError, FastifyInstance } from 'fastify'
import type { ErrorResponse } from '@kiln/wire'
import { ERRORS, isKilnError, type KilnErrorCode } from '../errors.js'
import { isStoreUnavailable, wrapStoreError } from '../store/store-errors.js'

/** Errors raised by @clickhouse/client: its ClickHouseError, or a network failure reaching it. */
function isClickHouseError(error: unknown): boolean {
  return (error as Error)?.constructor?.name === 'ClickHouseError' || isStoreUnavailable(error)
}

/** Fastify's own error codes mapped onto Kiln's catalog. */
const FASTIFY_CODES: Record<string, KilnErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'KILN_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'KILN_ERR_FORMAT_UNSUPPORTED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'KILN_ERR_BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'KILN_ERR_BAD_REQUEST',
  FST_REQ_FILE_TOO_LARGE: 'KILN_ERR_BODY_TOO_LARGE',
  FST_PARTS_LIMIT: 'KILN_ERR_BAD_REQUEST',
  FST_FILES_LIMIT: 'KILN_ERR_BAD_REQUEST',
  FST_FIELDS_LIMIT: 'KILN_ERR_BAD_REQUEST',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'KILN_ERR_BAD_REQUEST',
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

function body(statusCode: number, code: string, message: string): ErrorResponse {
  return { statusCode, code, error: STATUS_TEXT[statusCode] ?? 'Error', message }
}

/** Every error leaves as `{ statusCode, code, error, message }` with a stable `KILN_ERR_*` code. */
export function installErrorHandler(fastify: FastifyInstance): void {
  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    if (isKilnError(error)) {
      if (error.statusCode >= 500) request.log.error({ err: error }, error.message)
      if (error.retryAfterSeconds !== undefined) {
        reply.header('retry-after', String(error.retryAfterSeconds))
      }
      if (error.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="kiln"')
      return reply.code(error.statusCode).send(body(error.statusCode, error.code, error.message))
    }
    if (error.validation) {
      const code = 'KILN_ERR_BAD_REQUEST'
      return reply.code(400).send(body(400, code, error.message))
    }
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined
    if (mapped) {
      const statusCode = ERRORS[mapped].statusCode
      return reply.code(statusCode).send(body(statusCode, mapped, error.message))
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return reply
        .code(error.statusCode)
        .send(body(error.statusCode, 'KILN_ERR_BAD_REQUEST', error.message))
    }
    if (isClickHouseError(error)) {
      const wrapped = wrapStoreError(error)
      request.log.error({ err: error }, wrapped.message)
      return reply
        .code(wrapped.statusCode)
        .send(body(wrapped.statusCode, wrapped.code, wrapped.message))
    }
    request.log.error({ err: error }, 'unhandled error')
    return reply
      .code(500)
      .send(body(500, 'KILN_ERR_INTERNAL', 'Internal error; see the server log'))
  })
  fastify.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send(body(404, 'KILN_ERR_NOT_FOUND', `${request.method} ${request.url.split('?')[0]}`))
  })
}
