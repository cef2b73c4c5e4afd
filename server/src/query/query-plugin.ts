import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import { isProfileTypeName, PROFILE_TYPES } from '@kiln/wire'
import { KilnError } from '../errors.js'
import { queryServices } from './catalog.js'
import { queryFlamegraph } from './flamegraph.js'

const DEFAULT_TENANT = 'default'
const DEFAULT_WINDOW_MS = 15 * 60 * 1000

// The tree is serialized with JSON.stringify: fast-json-stringify gains nothing on a recursive
// shape and the wire type `FlameNode` documents it.
const FlameNodeSchema = Type.Any({
  description: 'FlameNode: { name, file?, value, self, children }',
})

const FlamegraphQuerySchema = Type.Object({
  service: Type.String({ minLength: 1, maxLength: 256 }),
  type: Type.String({ enum: Object.keys(PROFILE_TYPES), description: 'profile type' }),
  from: Type.Optional(Type.Integer({ minimum: 0, description: 'Unix ms, default `to` - 15 min' })),
  to: Type.Optional(Type.Integer({ minimum: 0, description: 'Unix ms, default now' })),
  maxStacks: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 20_000 })),
})

/** Query API under `/api/v1`. */
export const queryPlugin: FastifyPluginAsync = async (fastify) => {
  fastify.get(
    '/services',
    {
      schema: {
        response: {
          200: Type.Object({
            services: Type.Array(
              Type.Object({
                name: Type.String(),
                types: Type.Array(Type.String()),
                lastSeen: Type.Number(),
              }),
            ),
          }),
        },
      },
    },
    async () => queryServices(fastify.store.client, fastify.store.database, DEFAULT_TENANT),
  )

  fastify.get<{ Querystring: typeof FlamegraphQuerySchema.static }>(
    '/flamegraph',
    {
      schema: {
        querystring: FlamegraphQuerySchema,
        response: {
          200: Type.Object({
            service: Type.String(),
            type: Type.String(),
            unit: Type.String(),
            aggregation: Type.String(),
            from: Type.Number(),
            to: Type.Number(),
            total: Type.Number(),
            stacks: Type.Number(),
            root: FlameNodeSchema,
          }),
        },
      },
    },
    async (request) => {
      const { service, type, maxStacks = 20_000 } = request.query
      if (!isProfileTypeName(type))
        throw new KilnError('KILN_ERR_QUERY_INVALID', `unknown type ${type}`)
      const to = request.query.to ?? Date.now()
      const from = request.query.from ?? to - DEFAULT_WINDOW_MS
      if (from >= to) throw new KilnError('KILN_ERR_QUERY_INVALID', '`from` must be before `to`')
      return queryFlamegraph(fastify.store.client, fastify.store.database, {
        tenant: DEFAULT_TENANT,
        service,
        type,
        from,
        to,
        maxStacks,
      })
    },
  )
}
