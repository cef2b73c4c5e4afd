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
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { AccessLevel } from '@kiln/wire'
import type { KilnConfig } from '../config/config-schema.js'
import { isKilnError, type KilnErrorCode } from '../errors.js'
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

/** The tenant the access hook decided for the request. */
export const TENANT = createContextKey<string>('default', { description: 'Kiln tenant' })

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
 * `invalid_argument`: bad input, profiles refused at ingest); anything
 * else is logged and answered `internal` without its details.
 */
function kilnErrors(fastify: FastifyInstance): Interceptor {
  return (next) => async (request) => {
    try {
      return await next(request)
    } catch (error) {
      if (error instanceof ConnectError) throw error
      if (isKilnError(error)) {
        const code =
          CONNECT_CODES[error.code] ??
          (error.statusCode < 500 ? Code.InvalidArgument : Code.Internal)
        // A 429 or 503's Retry-After goes out as a response header, as on the rest of the API.
        const retryAfter = error.retryAfterSeconds
        throw new ConnectError(
          `${error.code}: ${error.message}`,
          code,
          retryAfter === undefined ? undefined : { 'retry-after': String(retryAfter) },
        )
      }
      fastify.log.error({ err: error, rpc: request.url }, 'pyroscope API handler failed')
      throw new ConnectError('internal error', Code.Internal)
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

  // Connect parses the bodies: Fastify leaves them unread in this plugin's scope.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined))

  for (const handler of router.handlers) {
    fastify.route({
      method: handler.allowedMethods,
      url: handler.requestPath,
      config: { access: accessOf(handler.requestPath) },
      handler: async (request, reply) => {
        const contextValues = createContextValues().set(TENANT, request.tenant)
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
