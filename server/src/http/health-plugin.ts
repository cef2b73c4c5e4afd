import type { FastifyPluginAsync } from 'fastify'
import { wrapStoreError } from '../store/store-errors.js'

/**
 * `GET /health`: 200 only when the store answers a query and the schema is in place; else 503
 * with what is wrong (`store.reachable`, `store.schema`), for readiness probes and operators.
 */
export const healthPlugin: FastifyPluginAsync = async (fastify) => {
  fastify.get('/health', { config: { access: 'public' } }, async (_request, reply) => {
    let reachable = true
    let reason: string | undefined
    try {
      const ping = await fastify.store.client.ping()
      if (!ping.success) throw ping.error
    } catch (error) {
      reachable = false
      reason = wrapStoreError(error).message
    }
    const { ready, schemaError } = fastify.store
    const store = { reachable, schema: ready ? 'ready' : (schemaError ?? 'pending') }
    if (reachable && ready) return { status: 'ok', store }
    return reply.code(503).send({
      statusCode: 503,
      code: 'KILN_ERR_STORE_UNAVAILABLE',
      error: 'Service Unavailable',
      message: reason ?? `schema not ready: ${store.schema}`,
      store,
    })
  })
}
