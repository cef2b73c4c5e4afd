import multipart from '@fastify/multipart'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { createHash } from 'node:crypto'
import {
  AGENT_STATS_HEADER,
  UPLOAD_ATTEMPT_HEADER,
  UPLOAD_ID_HEADER,
  UPLOAD_ID_PATTERN,
  type IngestResponse,
} from '@kiln/wire'
import type { KilnConfig } from '../config/config-schema.js'
import { isKilnError, KilnError } from '../errors.js'
import { agentStatsRow, parseAgentStats } from './agent-stats.js'
import { parseAppName } from './app-name.js'
import { readIngestBody } from './ingest-body.js'
import { checkTime, ingestPipelineOf, type Admission } from './ingest-pipeline.js'
import { parseTimeParam } from './time-param.js'

const IngestQuerySchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 65536, description: 'service{label=value,...}' }),
  from: Type.Optional(Type.String({ description: 'interval start: Unix s, ms, µs or ns' })),
  until: Type.Optional(Type.String({ description: 'interval end: Unix s, ms, µs or ns' })),
  format: Type.Optional(Type.String({ description: 'only `pprof` is accepted' })),
  sampleRate: Type.Optional(Type.String()),
  spyName: Type.Optional(Type.String({ maxLength: 128 })),
  aggregationType: Type.Optional(Type.String()),
  units: Type.Optional(Type.String()),
})

/**
 * `POST /ingest`: Pyroscope's HTTP ingest protocol, with a pprof body (gzipped or not, raw or
 * in a multipart form). The answer is sent only after the rows are stored. Kiln's agent adds
 * its own stats in the `x-kiln-agent-stats` header, stored with the profile when they parse
 * (`agent-stats.ts`) and never a reason to refuse it.
 */
export const ingestPlugin: FastifyPluginAsync<{ config: KilnConfig }> = async (
  fastify,
  { config },
) => {
  // This plugin is encapsulated: these body parsers apply to /ingest only.
  fastify.removeAllContentTypeParsers()
  await fastify.register(multipart, {
    limits: { fileSize: config.maxBodyBytes, files: 4, fields: 8, parts: 12 },
    throwFileSizeLimit: true,
  })
  fastify.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: config.maxBodyBytes },
    (_req, body, done) => done(null, body),
  )

  // Backpressure: work in flight is bounded (requests, declared body bytes, rows waiting for
  // the store), with Pyroscope's push API (`ingest-pipeline.ts`). Beyond it, 429 with
  // Retry-After at once, before the body is read.
  const pipeline = ingestPipelineOf(fastify, config)
  /** What each admitted request holds, released when it is answered or abandoned. */
  const holding = new WeakMap<FastifyRequest, Admission>()
  fastify.addHook('onRequest', async (request) => {
    const declared = Number(request.headers['content-length'])
    const bytes = Number.isFinite(declared) && declared >= 0 ? declared : config.maxBodyBytes
    holding.set(request, pipeline.admit(bytes))
  })
  async function release(request: FastifyRequest): Promise<void> {
    holding.get(request)?.release()
    holding.delete(request)
  }
  // Released when answered, when the client leaves while its body arrives, and when the handler
  // is done (below): a client that times out after sending its whole body gets neither of the
  // first two, and its upload still counts until it is stored or refused.
  fastify.addHook('onResponse', release)
  fastify.addHook('onRequestAbort', release)

  fastify.addHook('onError', async (_request, _reply, error) => {
    const code = isKilnError(error) ? error.code : ((error as { code?: string }).code ?? 'UNKNOWN')
    fastify.metrics.rejected.inc({ code })
  })

  fastify.post<{ Querystring: typeof IngestQuerySchema.static; Reply: IngestResponse }>(
    '/ingest',
    {
      bodyLimit: config.maxBodyBytes,
      config: { access: 'ingest' },
      schema: {
        querystring: IngestQuerySchema,
        response: { 200: Type.Object({ profiles: Type.Integer(), samples: Type.Integer() }) },
      },
    },
    async (request) => {
      try {
        return await ingest(request)
      } finally {
        await release(request)
      }
    },
  )

  async function ingest(
    request: FastifyRequest<{ Querystring: typeof IngestQuerySchema.static }>,
  ): Promise<IngestResponse> {
    const { name, from, until, format, spyName } = request.query
    if (format !== undefined && format !== 'pprof') {
      throw new KilnError(
        'KILN_ERR_FORMAT_UNSUPPORTED',
        `format=${format.slice(0, 32)}; Kiln accepts pprof`,
      )
    }
    const { service, labels } = parseAppName(name)
    const agent = parseAgentStats(request.headers[AGENT_STATS_HEADER])
    if (agent.problem) {
      fastify.metrics.agentStatsMalformed.inc({ reason: agent.problem })
      request.log.debug({ reason: agent.problem }, 'agent stats header ignored')
    }
    const now = Date.now()
    const fromMs = parseTimeParam('from', from)
    const untilMs = parseTimeParam('until', until)
    checkTime(fromMs, now, config)
    checkTime(untilMs, now, config)
    const body = await readIngestBody(request)
    const uploadKey = uploadKeyOf(request, { service, name, from, until, body: body.profile })
    // The same upload in flight already (a client that retried before its first answer):
    // answer both from the one store.
    return pipeline.once(uploadKey, () =>
      storeUpload(request, {
        ...body,
        uploadKey,
        service,
        labels,
        spyName,
        fromMs,
        untilMs,
        now,
        agent,
      }),
    )
  }

  /** Decode, normalize, check, and store one upload once; answer what it holds. */
  async function storeUpload(
    request: FastifyRequest,
    upload: {
      profile: Buffer
      uploadKey: string
      service: string
      labels: Record<string, string>
      spyName: string | undefined
      fromMs: number | undefined
      untilMs: number | undefined
      now: number
      agent: ReturnType<typeof parseAgentStats>
    },
  ): Promise<IngestResponse> {
    const { agent } = upload
    const admission = holding.get(request) ?? NOT_HELD
    const prepared = await pipeline.prepare({ ...upload, tenant: request.tenant }, admission)
    const { result } = prepared
    const answer = { profiles: result.batch.profiles.length, samples: result.samples }
    if (agent.stats) {
      // Once per upload, whatever the number of profile types it holds (and not again when the
      // upload turns out to be stored already: the writer drops it then).
      const { service, labels, now } = upload
      const context = { tenant: request.tenant, service, labels, time: result.untilMs, now }
      result.batch.agentStats.push(agentStatsRow(agent.stats, context))
    }
    await pipeline.store(prepared, {
      firstAttempt:
        upload.uploadKey.startsWith('id\u0000') && request.headers[UPLOAD_ATTEMPT_HEADER] === '1',
      log: request.log,
    })
    return answer
  }
}

/** An upload whose request holds nothing (released already): nothing more to count. */
const NOT_HELD: Admission = { holdMore: () => undefined, release: () => undefined }

const UPLOAD_ID_RE = new RegExp(UPLOAD_ID_PATTERN)

/**
 * What names an upload across its re-sends: the id Kiln's agent sends (per tenant and service),
 * else the upload itself: tenant, the `name`, `from` and `until` parameters and the body's
 * SHA-256. A Pyroscope client re-sending an upload sends the same bytes.
 */
function uploadKeyOf(
  request: FastifyRequest,
  upload: {
    service: string
    name: string
    from?: string | undefined
    until?: string | undefined
    body: Buffer
  },
): string {
  const header = request.headers[UPLOAD_ID_HEADER]
  if (header !== undefined) {
    if (typeof header !== 'string' || !UPLOAD_ID_RE.test(header)) {
      throw new KilnError(
        'KILN_ERR_BAD_REQUEST',
        `${UPLOAD_ID_HEADER} must match ${UPLOAD_ID_PATTERN}`,
      )
    }
    return `id\u0000${request.tenant}\u0000${upload.service}\u0000${header}`
  }
  const hash = createHash('sha256')
  for (const part of [request.tenant, upload.name, upload.from ?? '', upload.until ?? '']) {
    hash.update(part).update('\u0000')
  }
  return `content\u0000${hash.update(upload.body).digest('hex')}`
}
