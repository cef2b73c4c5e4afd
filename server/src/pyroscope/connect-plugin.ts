import {
  Code,
  ConnectError,
  createConnectRouter,
  createContextKey,
  createContextValues,
  type ConnectRouter,
  type Interceptor,
} from '@connectrpc/connect'
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from '@connectrpc/connect-node'
import { codeToHttpStatus, codeToString } from '@connectrpc/connect/protocol-connect'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { AccessLevel } from '@kiln/wire'
import type { KilnConfig } from '../config/config-schema.js'
import { isKilnError, type KilnErrorCode } from '../errors.js'
import { ingestPipelineOf, type Admission } from '../ingest/ingest-pipeline.js'
import { PusherService } from './gen/push/v1/push_pb.js'
import { QuerierService } from './gen/querier/v1/querier_pb.js'
import { SettingsService } from './gen/settings/v1/setting_pb.js'
import { pusherService } from './push-service.js'
import { querierService } from './querier-service.js'

/*
 * Grafana Pyroscope's Connect API on Kiln's server: the querier (what Grafana's Pyroscope data
 * source and Explore Profiles call), push (Alloy's `pyroscope.write`) and settings. The protocol
 * (Connect, gRPC-Web; JSON and binary protobuf; gzip and brotli) is @connectrpc's; this plugin
 * only mounts its handlers as Fastify routes, as `@connectrpc/connect-fastify` does, but with
 * each route's access declared for Kiln's access hook (tokens, `X-Scope-OrgID`, rate limits),
 * which runs before the handler. See docs/grafana.md.
 */

/**
 * The tenant the access hook decided for the request. Its default is no tenant at all: a
 * handler reached without one reads nothing (every tenant's name is non-empty).
 */
export const TENANT = createContextKey<string>('', { description: 'Kiln tenant' })

/** A Push's hold on the ingest work in flight, taken before its body is read (as `/ingest`). */
export const ADMISSION = createContextKey<Admission | undefined>(undefined, {
  description: 'ingest admission',
})

/** Connect codes for Kiln's error codes: a client sees `invalid_argument`, not `unknown`. */
const CONNECT_CODES: Partial<Record<KilnErrorCode, Code>> = {
  KILN_ERR_BODY_TOO_LARGE: Code.ResourceExhausted,
  KILN_ERR_DECOMPRESSED_TOO_LARGE: Code.ResourceExhausted,
  KILN_ERR_UNAUTHORIZED: Code.Unauthenticated,
  KILN_ERR_TENANT_REQUIRED: Code.Unauthenticated,
  KILN_ERR_FORBIDDEN: Code.PermissionDenied,
  KILN_ERR_TENANT_FORBIDDEN: Code.PermissionDenied,
  KILN_ERR_RATE_LIMITED: Code.ResourceExhausted,
  KILN_ERR_OVERLOADED: Code.Unavailable,
  KILN_ERR_NOT_FOUND: Code.NotFound,
  KILN_ERR_STORE_UNAVAILABLE: Code.Unavailable,
}

/**
 * Kiln's errors as Connect errors, the Kiln code first in the message (any other 4xx is
 * `invalid_argument`: bad input, profiles refused at ingest); a 429 or 503's Retry-After goes
 * out as a response header, as on the rest of the API. Anything else is logged and answered
 * `internal` without its details, as are the store's failures (logged).
 */
function toConnectError(fastify: FastifyInstance, error: unknown, rpc: string): ConnectError {
  if (error instanceof ConnectError) return error
  if (isKilnError(error)) {
    if (error.statusCode >= 500) {
      fastify.log.error({ err: error, rpc }, 'pyroscope API request failed')
    }
    const code =
      CONNECT_CODES[error.code] ?? (error.statusCode < 500 ? Code.InvalidArgument : Code.Internal)
    const retryAfter = error.retryAfterSeconds
    const message =
      error.statusCode >= 500 && code === Code.Internal ? 'internal error' : error.message
    return new ConnectError(
      `${error.code}: ${message}`,
      code,
      retryAfter === undefined ? undefined : { 'retry-after': String(retryAfter) },
    )
  }
  fastify.log.error({ err: error, rpc }, 'pyroscope API handler failed')
  return new ConnectError('internal error', Code.Internal)
}

/** {@link toConnectError} for what the handlers throw. */
function kilnErrors(fastify: FastifyInstance): Interceptor {
  return (next) => async (request) => {
    try {
      return await next(request)
    } catch (error) {
      throw toConnectError(fastify, error, request.url)
    }
  }
}

/** Each RPC's access: pushing profiles is ingest, everything else reads. */
function accessOf(path: string): AccessLevel {
  return path.startsWith(`/${PusherService.typeName}/`) ? 'ingest' : 'read'
}

export const pyroscopeConnectPlugin: FastifyPluginAsync<{ config: KilnConfig }> = async (
  fastify,
  { config },
) => {
  const routes = (router: ConnectRouter) => {
    router.service(QuerierService, querierService(fastify))
    router.service(PusherService, pusherService(fastify, config))
    // Explore Profiles reads its plugin settings; Kiln keeps none, so it uses its defaults.
    router.service(SettingsService, { get: () => ({ settings: [] }) })
  }
  const router = createConnectRouter({
    acceptCompression: [compressionGzip, compressionBrotli],
    // Connect reads the body itself (Fastify's bodyLimit does not apply): the same limit.
    readMaxBytes: config.maxBodyBytes,
    interceptors: [kilnErrors(fastify)],
  })
  routes(router)

  // What the hooks refuse before a handler runs (the access hook's 401, 403 and 429, a Push
  // shed at admission) in Connect's error format, so Connect clients read its code.
  fastify.setErrorHandler(async (error, request, reply) => {
    const connect = toConnectError(fastify, error, request.url)
    for (const [key, value] of connect.metadata) reply.header(key, value)
    const kiln = isKilnError(error) ? error : undefined
    if (kiln?.code === 'KILN_ERR_UNAUTHORIZED')
      reply.header('www-authenticate', 'Bearer realm="kiln"')
    return reply
      .status(codeToHttpStatus(connect.code))
      .type('application/json')
      .send({ code: codeToString(connect.code), message: connect.rawMessage })
  })

  // Connect parses the bodies: Fastify leaves them unread in this plugin's scope.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined))

  // A Push is admitted into the ingest work in flight by its declared length before Connect
  // reads its body, and released when its answer is sent or its client leaves.
  const pipeline = ingestPipelineOf(fastify, config)
  const admissions = new WeakMap<FastifyRequest, Admission>()
  const admit = async (request: FastifyRequest, reply: FastifyReply) => {
    const declared = Number(request.headers['content-length'])
    const bytes = Number.isFinite(declared) && declared >= 0 ? declared : config.maxBodyBytes
    const admission = pipeline.admit(Math.min(bytes, config.maxBodyBytes))
    admissions.set(request, admission)
    reply.raw.once('close', () => admission.release())
  }

  for (const handler of router.handlers) {
    const ingest = accessOf(handler.requestPath) === 'ingest'
    fastify.route({
      method: handler.allowedMethods,
      url: handler.requestPath,
      config: { access: accessOf(handler.requestPath) },
      ...(ingest ? { onRequest: admit } : {}),
      handler: async (request, reply) => {
        const contextValues = createContextValues()
          .set(TENANT, request.tenant)
          .set(ADMISSION, admissions.get(request))
        const response = await handler(
          universalRequestFromNodeRequest(request.raw, reply.raw, undefined, contextValues),
        )
        // Headers Fastify's hooks set (security headers, rate limits) go out with connect's.
        for (const [key, value] of Object.entries(reply.getHeaders())) {
          if (value !== undefined) reply.raw.setHeader(key, value)
        }
        reply.hijack()
        await universalResponseToNodeResponse(response, reply.raw)
      },
    })
  }
}
