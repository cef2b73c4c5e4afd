import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { IngestResponse } from '@kiln/wire'
import type { KilnConfig } from '../config/config-schema.js'
import { KilnError } from '../errors.js'
import { parseAppName } from './app-name.js'
import { decodePprof, decompress } from './pprof-decode.js'
import { normalizeProfile } from './pprof-normalize.js'
import { parseTimeParam } from './time-param.js'

const IngestQuerySchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 65536, description: 'service{label=value,...}' }),
  from: Type.Optional(Type.String({ description: 'interval start: Unix s, ms, µs or ns' })),
  until: Type.Optional(Type.String({ description: 'interval end: Unix s, ms, µs or ns' })),
  format: Type.Optional(Type.String({ description: 'only `pprof` is accepted' })),
  sampleRate: Type.Optional(Type.String()),
  spyName: Type.Optional(Type.String({ maxLength: 128 })),
})

const DEFAULT_TENANT = 'default'

/**
 * `POST /ingest`: Pyroscope's HTTP ingest protocol, with a pprof body (gzipped or not). The
 * answer is sent only after the rows are stored.
 */
export const ingestPlugin: FastifyPluginAsync<{ config: KilnConfig }> = async (
  fastify,
  { config },
) => {
  // This plugin is encapsulated: the raw-body parser applies to /ingest only.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: config.maxBodyBytes },
    (_req, body, done) => done(null, body),
  )

  fastify.post<{ Querystring: typeof IngestQuerySchema.static; Reply: IngestResponse }>(
    '/ingest',
    {
      bodyLimit: config.maxBodyBytes,
      schema: {
        querystring: IngestQuerySchema,
        response: {
          200: Type.Object({ profiles: Type.Integer(), samples: Type.Integer() }),
        },
      },
    },
    async (request) => {
      const { name, from, until, format, spyName } = request.query
      if (format !== undefined && format !== 'pprof') {
        throw new KilnError(
          'KILN_ERR_FORMAT_UNSUPPORTED',
          `format=${format.slice(0, 32)}; Kiln accepts pprof`,
        )
      }
      const body = request.body
      if (!Buffer.isBuffer(body)) throw new KilnError('KILN_ERR_PPROF_INVALID', 'empty body')
      const { service, labels } = parseAppName(name)
      const fromMs = parseTimeParam('from', from)
      const untilMs = parseTimeParam('until', until)
      const bytes = await decompress(body, config.maxDecompressedBytes)
      const profile = decodePprof(bytes)
      const result = normalizeProfile(profile, {
        tenant: DEFAULT_TENANT,
        service,
        labels,
        fromMs,
        untilMs,
        spyName,
        limits: config,
      })
      await fastify.store.writer.write(result.batch)
      return { profiles: result.batch.profiles.length, samples: result.samples }
    },
  )
}
