import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { KilnConfig } from '../config/config-schema.js'
import { KilnError } from '../errors.js'
import type { BatchWriter, WriteOutcome } from '../store/batch-writer.js'
import { uploadHashOf } from '../store/stored-profiles.js'
import { decodePprof, decompress } from './pprof-decode.js'
import { normalizeProfile, type NormalizeResult } from './pprof-normalize.js'
import type { DecodedPprof } from './pprof-reader.js'

/*
 * What every ingest route shares (`/ingest`, Pyroscope's `push.v1.PusherService/Push`): the
 * bound on work in flight, the stages from sent bytes to stored rows with their limits, and the
 * exactly-once write of each upload.
 */

const DAY_MS = 24 * 60 * 60 * 1000

/** What one admitted request holds of the work in flight, until it is released. */
export interface Admission {
  /** Count `extra` more bytes (the inflated body), or shed the request if they do not fit. */
  holdMore(extra: number): void
  /** Give back what the request holds; once, whatever calls it again. */
  release(): void
}

/** One profile as sent, with what names it and where it goes. */
export interface SentProfile {
  /** The pprof, gzipped or not. */
  profile: Buffer
  /** What names this upload across its re-sends: its profiles' ids derive from it. */
  uploadKey: string
  tenant: string
  service: string
  labels: Record<string, string>
  spyName: string | undefined
  /** Unix ms; when absent, the pprof's own time. */
  fromMs: number | undefined
  untilMs: number | undefined
  /** Unix ms of the request's arrival. */
  now: number
}

/** A profile decoded, normalized and checked: its rows, ready to be stored. */
export interface PreparedProfile {
  uploadKey: string
  tenant: string
  service: string
  result: NormalizeResult
  /** Its size as sent (`kiln_ingested_bytes_total`). */
  sentBytes: number
}

/**
 * The ingest pipeline of one store: one per batch writer, shared by every route that ingests so
 * that KILN_MAX_INGEST_IN_FLIGHT(_BYTES) bound them together and a re-send waits for its first
 * attempt whichever route both came by. The routes' plugins are encapsulated (each has its own
 * body parsers): they find it through the writer they share.
 */
export function ingestPipelineOf(fastify: FastifyInstance, config: KilnConfig): IngestPipeline {
  const { writer } = fastify.store
  let pipeline = PIPELINES.get(writer)
  if (pipeline === undefined) {
    pipeline = new IngestPipeline(fastify, config)
    PIPELINES.set(writer, pipeline)
  }
  return pipeline
}

const PIPELINES = new WeakMap<BatchWriter, IngestPipeline>()

export class IngestPipeline {
  readonly #fastify: FastifyInstance
  readonly #config: KilnConfig
  readonly #inFlight = { requests: 0, bytes: 0 }
  /** Uploads being stored, by upload key: a concurrent re-send waits for the first. */
  readonly #storing = new Map<string, Promise<unknown>>()

  constructor(fastify: FastifyInstance, config: KilnConfig) {
    this.#fastify = fastify
    this.#config = config
  }

  /**
   * Admit a request of `bytes` (declared, or read already), or shed it: 429 with Retry-After at
   * once (the client's backoff is cheaper than a queue that grows until every request times
   * out) when the requests, the bytes or the rows waiting for the store are at their bound.
   */
  admit(bytes: number): Admission {
    const config = this.#config
    const inFlight = this.#inFlight
    const maxPendingRows = config.insertBatchMaxRows * 4
    const reason =
      inFlight.requests >= config.maxIngestInFlight
        ? 'requests'
        : inFlight.bytes + bytes > config.maxIngestInFlightBytes && inFlight.requests > 0
          ? 'bytes'
          : this.#fastify.store.pendingRows > maxPendingRows
            ? 'rows'
            : undefined
    if (reason !== undefined) {
      this.#fastify.metrics.shed.inc({ reason })
      throw new KilnError(
        'KILN_ERR_OVERLOADED',
        `${inFlight.requests} uploads in flight (KILN_MAX_INGEST_IN_FLIGHT, KILN_MAX_INGEST_IN_FLIGHT_BYTES)`,
        { retryAfterSeconds: 1 },
      )
    }
    inFlight.requests++
    inFlight.bytes += bytes
    let held: number | undefined = bytes
    return {
      holdMore: (extra) => {
        if (held === undefined || extra <= 0) return
        if (inFlight.bytes + extra > config.maxIngestInFlightBytes) {
          this.#fastify.metrics.shed.inc({ reason: 'bytes' })
          throw new KilnError(
            'KILN_ERR_OVERLOADED',
            `${inFlight.bytes} bytes of uploads in flight (KILN_MAX_INGEST_IN_FLIGHT_BYTES)`,
            { retryAfterSeconds: 1 },
          )
        }
        held += extra
        inFlight.bytes += extra
      },
      release: () => {
        if (held === undefined) return
        inFlight.requests--
        inFlight.bytes -= held
        held = undefined
      },
    }
  }

  /**
   * Inflate (to at most KILN_MAX_DECOMPRESSED_BYTES) and decode a sent pprof. The inflated bytes
   * count against the bytes in flight too: 64 small gzip bombs must not hold 64 ×
   * KILN_MAX_DECOMPRESSED_BYTES.
   */
  async decode(
    sent: Buffer,
    admission: Admission,
  ): Promise<{ profile: DecodedPprof; inflatedBytes: number }> {
    const bytes = await decompress(sent, this.#config.maxDecompressedBytes)
    admission.holdMore(bytes.length - sent.length)
    const profile = decodePprof(bytes, { maxSamples: this.#config.maxSamplesPerProfile })
    return { profile, inflatedBytes: bytes.length }
  }

  /** Turn a decoded profile into rows under the limits, and check its time. */
  normalize(
    profile: DecodedPprof,
    sent: Omit<SentProfile, 'profile'>,
    sentBytes: number,
  ): PreparedProfile {
    const { uploadKey, tenant, service, now } = sent
    const config = this.#config
    const result = normalizeProfile(profile, {
      uploadKey,
      tenant,
      service,
      labels: sent.labels,
      fromMs: sent.fromMs,
      untilMs: sent.untilMs,
      spyName: sent.spyName,
      limits: config,
      now,
      knownStack: this.#knownStack(tenant, service),
    })
    checkTime(result.batch.profiles[0]?.time_start, now, config)
    checkTime(result.untilMs, now, config)
    if (result.untilMs < (result.batch.profiles[0]?.time_start ?? result.untilMs)) {
      throw new KilnError('KILN_ERR_TIME_INVALID', '`until` is before `from`')
    }
    return { uploadKey, tenant, service, result, sentBytes }
  }

  /**
   * Whether a stack of the service needs no row in a new upload: the store has it, or (with the
   * ingest log) an upload logged before carries it. The second matters when many uploads of a
   * new service, or of a new version, arrive at once: without it each logged and inserted all
   * their stack rows until the first insert ended (21 MB of stacks for 64 new services).
   */
  #knownStack(tenant: string, service: string): (stackHash: string) => boolean {
    const { writer, log } = this.#fastify.store
    const stored = writer.knownStacks(tenant, service)
    const logged = log?.loggedStacks(tenant, service)
    return logged === undefined ? stored : (stackHash) => stored(stackHash) || logged(stackHash)
  }

  /** {@link decode} then {@link normalize}. */
  async prepare(sent: SentProfile, admission: Admission): Promise<PreparedProfile> {
    const { profile } = await this.decode(sent.profile, admission)
    return this.normalize(profile, sent, sent.profile.length)
  }

  /**
   * Store a prepared upload once. The writer looks up, with the other uploads of its batch,
   * whether this one is stored already (its answer was lost, or the client gave up waiting) or
   * half stored (the store went away between the inserts of an earlier attempt), and writes only
   * what is missing. `firstAttempt`: the client says nothing of it can be stored yet.
   */
  async store(
    prepared: PreparedProfile,
    options: { firstAttempt: boolean; log: FastifyBaseLogger },
  ): Promise<WriteOutcome> {
    const { result, tenant, service, uploadKey } = prepared
    const { writer, log } = this.#fastify.store
    const timeStartMs = result.batch.profiles[0]?.time_start
    const upload =
      timeStartMs === undefined
        ? undefined
        : {
            tenant,
            service,
            timeStartMs,
            profileIds: result.batch.profiles.map((p) => p.profile_id),
            upload: uploadHashOf(uploadKey),
            firstAttempt: options.firstAttempt,
          }
    if (log === undefined) {
      const outcome = await writer.write(result.batch, upload)
      this.#count(prepared, outcome, options.log)
      return outcome
    }
    // Acknowledged once in the ingest log; counted once its rows are in the store (a re-send of
    // an upload stored before turns out a duplicate only then).
    return log.append(result.batch, upload, (outcome) =>
      this.#count(prepared, outcome, options.log),
    )
  }

  /** The metrics of an upload, once the store has it (or found it had it). */
  #count(prepared: PreparedProfile, outcome: WriteOutcome, log: FastifyBaseLogger): void {
    const { result } = prepared
    const metrics = this.#fastify.metrics
    if (outcome === 'duplicate') {
      metrics.duplicateUploads.inc()
      return
    }
    if (outcome === 'resumed') {
      log.info('completed a half-stored upload')
      metrics.resumedUploads.inc()
    }
    for (const p of result.batch.profiles) metrics.ingestedProfiles.inc({ type: p.type })
    metrics.ingestedBytes.inc(prepared.sentBytes)
    if (result.traceIdsInvalid > 0) {
      metrics.traceIdsDropped.inc({ reason: 'invalid' }, result.traceIdsInvalid)
    }
    if (result.traceRowsDropped > 0) {
      metrics.traceIdsDropped.inc({ reason: 'limit' }, result.traceRowsDropped)
    }
  }

  /**
   * Run `work` for the upload `uploadKey`, unless it runs already (a client that re-sent before
   * its first answer): then answer from that one. The batch writer relies on it: one upload is
   * never in two flushes at once, so each flush's lookup sees what earlier attempts stored.
   */
  async once<T>(uploadKey: string, work: () => Promise<T>): Promise<T> {
    const running = this.#storing.get(uploadKey)
    if (running) return running as Promise<T>
    const started = work()
    this.#storing.set(uploadKey, started)
    try {
      return await started
    } finally {
      this.#storing.delete(uploadKey)
    }
  }
}

/** Refuse profiles older than the retention (they would be deleted at once) or from the future. */
export function checkTime(ms: number | undefined, now: number, config: KilnConfig): void {
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
