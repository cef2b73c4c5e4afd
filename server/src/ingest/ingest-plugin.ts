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
import { decodePprof, decompress } from './pprof-decode.js'
import { normalizeProfile } from './pprof-normalize.js'
import { parseTimeParam } from './time-param.js'
import { uploadHashOf } from '../store/stored-profiles.js'

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

const DAY_MS = 24 * 60 * 60 * 1000

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
  // the store). Beyond it, 429 with Retry-After at once, before the body is read: the client's
  // backoff is cheaper than a queue that grows until every request times out.
  const inFlight = { requests: 0, bytes: 0 }
  /** What each admitted request holds, released when it is answered or abandoned. */
  const holding = new WeakMap<FastifyRequest, number>()
  const maxPendingRows = config.insertBatchMaxRows * 4
  fastify.addHook('onRequest', async (request) => {
    const declared = Number(request.headers['content-length'])
    const bytes = Number.isFinite(declared) && declared >= 0 ? declared : config.maxBodyBytes
    const reason =
      inFlight.requests >= config.maxIngestInFlight
        ? 'requests'
        : inFlight.bytes + bytes > config.maxIngestInFlightBytes && inFlight.requests > 0
          ? 'bytes'
          : fastify.store.writer.pendingRows > maxPendingRows
            ? 'rows'
            : undefined
    if (reason !== undefined) {
      fastify.metrics.shed.inc({ reason })
      throw new KilnError(
        'KILN_ERR_OVERLOADED',
        `${inFlight.requests} uploads in flight (KILN_MAX_INGEST_IN_FLIGHT, KILN_MAX_INGEST_IN_FLIGHT_BYTES)`,
        { retryAfterSeconds: 1 },
      )
    }
    inFlight.requests++
    inFlight.bytes += bytes
    holding.set(request, bytes)
  })
  /** Count `extra` more bytes for an admitted request, or shed it if they do not fit. */
  function holdMore(request: FastifyRequest, extra: number): void {
    const held = holding.get(request)
    if (held === undefined || extra <= 0) return
    if (inFlight.bytes + extra > config.maxIngestInFlightBytes) {
      fastify.metrics.shed.inc({ reason: 'bytes' })
      throw new KilnError(
        'KILN_ERR_OVERLOADED',
        `${inFlight.bytes} bytes of uploads in flight (KILN_MAX_INGEST_IN_FLIGHT_BYTES)`,
        { retryAfterSeconds: 1 },
      )
    }
    holding.set(request, held + extra)
    inFlight.bytes += extra
  }
  async function release(request: FastifyRequest): Promise<void> {
    const bytes = holding.get(request)
    if (bytes === undefined) return
    holding.delete(request)
    inFlight.requests--
    inFlight.bytes -= bytes
  }
  // Released when answered, when the client leaves while its body arrives, and when the handler
  // is done (below): a client that times out after sending its whole body gets neither of the
  // first two, and its upload still counts until it is stored or refused.
  fastify.addHook('onResponse', release)
  fastify.addHook('onRequestAbort', release)

  /** Uploads being stored, by upload key: a concurrent re-send waits for the first. */
  const inFlightUploads = new Map<string, Promise<IngestResponse>>()

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
    const running = inFlightUploads.get(uploadKey)
    if (running) return running
    const stored = storeUpload(request, {
      ...body,
      uploadKey,
      service,
      labels,
      spyName,
      fromMs,
      untilMs,
      now,
      agent,
    })
    inFlightUploads.set(uploadKey, stored)
    try {
      return await stored
    } finally {
      inFlightUploads.delete(uploadKey)
    }
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
    const { service, labels, spyName, fromMs, untilMs, now, agent } = upload
    const { writer } = fastify.store
    const tenant = request.tenant
    const bytes = await decompress(upload.profile, config.maxDecompressedBytes)
    // The inflated body counts against the bytes in flight too: 64 small gzip bombs must not
    // hold 64 × KILN_MAX_DECOMPRESSED_BYTES.
    holdMore(request, bytes.length - upload.profile.length)
    const profile = decodePprof(bytes, { maxSamples: config.maxSamplesPerProfile })
    const result = normalizeProfile(profile, {
      uploadKey: upload.uploadKey,
      tenant,
      service,
      labels,
      fromMs,
      untilMs,
      spyName,
      limits: config,
      now,
      knownStack: writer.knownStacks(tenant, service),
    })
    checkTime(result.batch.profiles[0]?.time_start, now, config)
    checkTime(result.untilMs, now, config)
    if (result.untilMs < (result.batch.profiles[0]?.time_start ?? result.untilMs)) {
      throw new KilnError('KILN_ERR_TIME_INVALID', '`until` is before `from`')
    }
    const answer = { profiles: result.batch.profiles.length, samples: result.samples }
    const timeStartMs = result.batch.profiles[0]?.time_start
    if (agent.stats) {
      // Once per upload, whatever the number of profile types it holds (and not again when the
      // upload turns out to be stored already: the writer drops it then).
      const context = { tenant, service, labels, time: result.untilMs, now }
      result.batch.agentStats.push(agentStatsRow(agent.stats, context))
    }
    // The writer looks up, with the other uploads of its batch, whether this one is stored
    // already (its answer was lost, or the client gave up waiting) or half stored (the store went
    // away between the inserts of an earlier attempt), and writes only what is missing.
    const outcome = await writer.write(
      result.batch,
      timeStartMs === undefined
        ? undefined
        : {
            tenant,
            service,
            timeStartMs,
            profileIds: result.batch.profiles.map((p) => p.profile_id),
            upload: uploadHashOf(upload.uploadKey),
            firstAttempt:
              upload.uploadKey.startsWith('id\u0000') &&
              request.headers[UPLOAD_ATTEMPT_HEADER] === '1',
          },
    )
    if (outcome === 'duplicate') {
      fastify.metrics.duplicateUploads.inc()
      return answer
    }
    if (outcome === 'resumed') {
      request.log.info('completed a half-stored upload')
      fastify.metrics.resumedUploads.inc()
    }
    for (const p of result.batch.profiles) fastify.metrics.ingestedProfiles.inc({ type: p.type })
    fastify.metrics.ingestedBytes.inc(upload.profile.length)
    return answer
  }
}

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

/** Refuse profiles older than the retention (they would be deleted at once) or from the future. */
function checkTime(ms: number | undefined, now: number, config: KilnConfig): void {
  if (ms === undefined) return
  if (ms > now + config.maxFutureSkewMs) {
    throw new KilnError(
      'KILN_ERR_PROFILE_LIMIT',
      `time ${new Date(ms).toISOString()} is more than ${config.maxFutureSkewMs} ms ahead (KILN_MAX_FUTURE_SKEW_MS)`,
    )
  }
  if (ms < now - config.retentionDays * DAY_MS) {
    throw new KilnError(
      'KILN_ERR_PROFILE_LIMIT',
      `time ${new Date(ms).toISOString()} is older than the retention of ${config.retentionDays} days (KILN_RETENTION_DAYS)`,
    )
  }
}
