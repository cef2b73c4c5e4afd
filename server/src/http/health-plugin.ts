import type { FastifyPluginAsync } from 'fastify'

/** `GET /health`: answers 200 only when the store answers a query. */
export const healthPlugin: FastifyPluginAsync = async (fastify) => {
  fastify.get('/health', async (_request, reply) => {
    try {
      const ping = await fastify.store.client.ping()
      if (!ping.success) throw ping.error
      return { status: 'ok' }
    } catch (error) {
      return reply.code(503).send({
        statusCode: 503,
        code: 'KILN_ERR_STORE_UNAVAILABLE',
        error: 'Service Unavailable',
        message: `store did not answer: ${(error as Error).message}`,
      })
    }
  })
}
