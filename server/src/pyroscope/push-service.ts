import type { ServiceImpl } from '@connectrpc/connect'
import type { FastifyInstance } from 'fastify'
import type { KilnConfig } from '../config/config-schema.js'
import type { PusherService } from './gen/push/v1/push_pb.js'

/** The push service: not implemented yet (every call answers `unimplemented`). */
export function pusherService(
  _fastify: FastifyInstance,
  _config: KilnConfig,
): Partial<ServiceImpl<typeof PusherService>> {
  return {}
}
