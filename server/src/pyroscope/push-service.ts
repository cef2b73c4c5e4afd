import type { ServiceImpl } from '@connectrpc/connect'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { createHash } from 'node:crypto'
import type { KilnConfig } from '../config/config-schema.js'
import { isKilnError, KilnError } from '../errors.js'
import { LABEL_NAME_RE, MAX_SERVICE_LENGTH, SERVICE_RE } from '../ingest/app-name.js'
import {
  ingestPipelineOf,
  type Admission,
  type IngestPipeline,
  type PreparedProfile,
} from '../ingest/ingest-pipeline.js'
import type { DecodedPprof } from '../ingest/pprof-reader.js'
import { mapSampleType } from '../ingest/sample-types.js'
import { ADMISSION, TENANT } from './connect-plugin.js'
import type { PushRequest, PusherService, RawSample } from './gen/push/v1/push_pb.js'
import type { LabelPair } from './gen/types/v1/types_pb.js'

/**
 * `push.v1.PusherService/Push`, what Grafana Alloy's `pyroscope.write` and newer Pyroscope SDKs
 * send: series of labels, each with raw pprof profiles. Each profile goes through `/ingest`'s
 * pipeline (`ingest-pipeline.ts`) as one upload of the series' service and labels, under the
 * same access, tenancy (the access hook has decided the tenant), limits, backpressure and
 * exactly-once rules:
 *
 * - All or nothing: every profile of the request is inflated, decoded, normalized and checked
 *   before any is stored; one that is refused refuses the request (`invalid_argument`, or
 *   `resource_exhausted` for a limit on size), with nothing stored. The request is answered once
 *   every profile is stored.
 * - Exactly once per profile: each is an upload named by the tenant, the series' labels, the
 *   profile's `ID` and the SHA-256 of its bytes, so a retried Push (the same request again, after
 *   a timeout, a 503, or a store failure that stored part of it) stores what is missing and
 *   nothing twice; a profile twice in one request is stored once. A profile's time is its
 *   pprof's `time_nanos` and `duration_nanos` (every Go and Node profiler sets them); one
 *   without is timed at its arrival, and a retry of it then is another profile.
 * - Limits: a Push is held to one `/ingest` upload's: its body to KILN_MAX_BODY_BYTES (Connect's
 *   `readMaxBytes`), its profiles together to KILN_MAX_DECOMPRESSED_BYTES once inflated, and
 *   each profile to the per-profile limits (samples, stack depth, labels, time).
 * - Labels: `service_name` is Kiln's service (required); `pyroscope_spy` is the profile's spy
 *   name (`spyName` on `/ingest`); other names starting with `__` are Pyroscope's own
 *   (`__name__`, `__delta__`, `__session_id__`...) and dropped; the rest are the profile's labels.
 *   An empty value is no label, as in Prometheus.
 * - Types: each profile's sample types decide Kiln's types, as on `/ingest` (`sample-types.ts`).
 *   A well-formed profile of a kind Kiln does not keep (Go's goroutine, block and mutex profiles,
 *   which Alloy scrapes by default) is skipped, not refused: refusing it would refuse the series
 *   Kiln does keep along with it. Kiln computes no deltas: of a cumulative memory profile
 *   (`__delta__="false"`, Alloy scraping Go's heap endpoint) the heap in use is kept and the
 *   allocations, counted since the process started, are left out.
 */
export function pusherService(
  fastify: FastifyInstance,
  config: KilnConfig,
): Partial<ServiceImpl<typeof PusherService>> {
  const pipeline = ingestPipelineOf(fastify, config)
  const context = { pipeline, config, log: fastify.log }
  return {
    push: async (request, ctx) => {
      try {
        const sentBytes = request.series.reduce(
          (sum, series) => series.samples.reduce((n, sample) => n + sample.rawProfile.length, sum),
          0,
        )
        // Admitted by its declared length before its body was read (connect-plugin.ts); by what
        // it holds otherwise.
        const admission = ctx.values.get(ADMISSION) ?? pipeline.admit(sentBytes)
        try {
          const push = { tenant: ctx.values.get(TENANT), now: Date.now(), admission }
          await storeAll(context, await prepareAll(context, push, request))
          return {}
        } finally {
          admission.release()
        }
      } catch (error) {
        if (isKilnError(error)) fastify.metrics.rejected.inc({ code: error.code })
        throw error
      }
    },
  }
}

interface PushContext {
  pipeline: IngestPipeline
  config: KilnConfig
  log: FastifyBaseLogger
}

/** One Push being handled. */
interface Push {
  tenant: string
  /** Unix ms of its arrival. */
  now: number
  admission: Admission
}

/**
 * Every profile of the request, inflated, decoded, normalized and checked, in order; the first
 * refused refuses them all, its error saying which it was. Profiles of no type Kiln keeps are
 * left out.
 */
async function prepareAll(
  context: PushContext,
  push: Push,
  request: PushRequest,
): Promise<PreparedProfile[]> {
  const prepared: PreparedProfile[] = []
  const inflated = { bytes: 0 }
  for (const [s, raw] of request.series.entries()) {
    const series = seriesOf(raw.labels, s)
    for (const [p, sample] of raw.samples.entries()) {
      const where = `series ${s} (service_name ${JSON.stringify(series.service)}), profile ${p}`
      try {
        const profile = await prepare(context, push, series, sample, inflated)
        if (profile) prepared.push(profile)
        else context.log.debug({ tenant: push.tenant, where }, 'pushed profile of no Kiln type')
      } catch (error) {
        // Which of the profiles it is: a request can hold hundreds.
        throw noted(error, `in ${where}`)
      }
    }
  }
  return prepared
}

/**
 * One profile through `/ingest`'s stages, its inflated bytes added to `inflated`; `undefined`
 * for a profile of no type Kiln keeps.
 */
async function prepare(
  { pipeline, config }: PushContext,
  { tenant, now, admission }: Push,
  series: Series,
  sample: RawSample,
  inflated: { bytes: number },
): Promise<PreparedProfile | undefined> {
  const raw = sample.rawProfile
  const sent = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
  const decoded = await pipeline.decode(sent, admission)
  // KILN_MAX_DECOMPRESSED_BYTES holds for the request as for one /ingest upload: for its
  // profiles together.
  if (inflated.bytes + decoded.inflatedBytes > config.maxDecompressedBytes) {
    const error = new KilnError('KILN_ERR_DECOMPRESSED_TOO_LARGE', `${config.maxDecompressedBytes}`)
    throw noted(error, "with the request's profiles before it (KILN_MAX_DECOMPRESSED_BYTES)")
  }
  inflated.bytes += decoded.inflatedBytes
  if (!storesAnyType(decoded.profile)) return undefined
  const { service, labels, spyName } = series
  const uploadKey = uploadKeyOf(tenant, series.key, sample.ID, sent)
  const upload = { uploadKey, tenant, service, labels, spyName, now }
  const prepared = pipeline.normalize(
    decoded.profile,
    { ...upload, fromMs: undefined, untilMs: undefined },
    sent.length,
  )
  return series.cumulative ? withoutCumulativeTypes(prepared) : prepared
}

/** Kiln's types a cumulative memory profile holds since its process started, not per interval. */
const ALLOCATION_TYPES = new Set(['alloc_space', 'alloc_objects'])

/**
 * A profile of a series labelled `__delta__="false"` (Alloy scraping Go's heap endpoint) holds
 * allocations counted since its process started: stored as they come, every interval would
 * count them all again. Pyroscope subtracts the previous profile; Kiln keeps the heap in use
 * (a level, right as it is) and leaves the allocations out. `undefined` when nothing is left.
 */
function withoutCumulativeTypes(prepared: PreparedProfile): PreparedProfile | undefined {
  const { batch } = prepared.result
  const keep = <T extends { type: string }>(rows: T[]) =>
    rows.filter((r) => !ALLOCATION_TYPES.has(r.type))
  batch.samples = keep(batch.samples)
  batch.traceSamples = keep(batch.traceSamples)
  batch.profiles = keep(batch.profiles)
  batch.series = keep(batch.series)
  prepared.result.types = prepared.result.types.filter((t) => !ALLOCATION_TYPES.has(t))
  return batch.profiles.length === 0 ? undefined : prepared
}

/**
 * Store every prepared profile, together (the batch writer merges them into one flush) and each
 * once: a profile another request is storing already (a retry sent before this one's answer)
 * is answered from that one. Resolves when all are stored.
 */
async function storeAll(
  { pipeline, log }: PushContext,
  prepared: readonly PreparedProfile[],
): Promise<void> {
  const outcomes = await Promise.allSettled(
    prepared.map((profile) =>
      pipeline.once(profile.uploadKey, () => pipeline.store(profile, { firstAttempt: false, log })),
    ),
  )
  const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []))
  // The store away beats a refused profile: the client's retry is the answer to both, and
  // stores only what is missing.
  const retryable = failures.find((e) => !isKilnError(e) || e.statusCode >= 500)
  if (failures.length > 0) throw retryable ?? failures[0]
}

interface Series {
  service: string
  /** `__delta__="false"`: the profiles' counters run since their process started. */
  cumulative: boolean
  labels: Record<string, string>
  spyName: string | undefined
  /** Every label as sent, sorted: what names the series in its profiles' upload keys. */
  key: string
}

/** A series' service, labels and spy name from its Pyroscope labels (see {@link pusherService}). */
function seriesOf(pairs: readonly LabelPair[], index: number): Series {
  // No prototype, as in parseAppName.
  const labels = Object.create(null) as Record<string, string>
  const seen = new Set<string>()
  let service = ''
  let spyName: string | undefined
  let cumulative = false
  for (const { name, value } of pairs) {
    if (seen.has(name)) {
      throw badSeries(index, `has the label ${JSON.stringify(name.slice(0, 64))} twice`)
    }
    seen.add(name)
    if (name === 'service_name') service = value
    else if (name === '__delta__') cumulative = value === 'false'
    else if (name === 'pyroscope_spy') {
      if (value.length > MAX_SPY_NAME_LENGTH) {
        throw badSeries(index, `has a pyroscope_spy of over ${MAX_SPY_NAME_LENGTH} characters`)
      }
      spyName = value || undefined
    } else if (name.startsWith('__') || value === '') continue
    else if (!LABEL_NAME_RE.test(name)) {
      throw badSeries(
        index,
        `has the label name ${JSON.stringify(name.slice(0, 64))}, which must match ${LABEL_NAME_RE.source}`,
      )
    } else labels[name] = value
  }
  if (service === '') throw badSeries(index, 'has no service_name label')
  if (service.length > MAX_SERVICE_LENGTH || !SERVICE_RE.test(service)) {
    throw badSeries(
      index,
      `service_name must match ${SERVICE_RE.source} and be at most ${MAX_SERVICE_LENGTH} characters`,
    )
  }
  const key = JSON.stringify(
    pairs.map(({ name, value }) => [name, value]).sort(([a], [b]) => (a! < b! ? -1 : 1)),
  )
  return { service, cumulative, labels, spyName, key }
}

/** As `/ingest`'s `spyName` parameter. */
const MAX_SPY_NAME_LENGTH = 128

function badSeries(index: number, detail: string): KilnError {
  return new KilnError('KILN_ERR_BAD_REQUEST', `series ${index} ${detail}`)
}

/** Whether any of the profile's sample types is one Kiln keeps (else normalizing refuses it). */
function storesAnyType(profile: DecodedPprof): boolean {
  const { strings } = profile
  return profile.sampleTypes.some((t) => mapSampleType(strings.get(t.type), strings.get(t.unit)))
}

/**
 * What names a pushed profile across re-sends: the tenant, its series' labels, its `ID` and its
 * bytes. A retried Push sends the same request; the same profile sent under other labels or with
 * another ID is another profile.
 */
function uploadKeyOf(tenant: string, seriesKey: string, id: string, sent: Buffer): string {
  const hash = createHash('sha256')
  hash.update(JSON.stringify([tenant, seriesKey, id])).update('\u0000')
  return `push\u0000${hash.update(sent).digest('hex')}`
}

/** A Kiln error with a note after its message (which profile of a request it is about). */
function noted(error: unknown, note: string): unknown {
  if (!isKilnError(error)) return error
  const options =
    error.retryAfterSeconds === undefined
      ? { cause: error }
      : { cause: error, retryAfterSeconds: error.retryAfterSeconds }
  const wrapped = new KilnError(error.code, '', options)
  wrapped.message = `${error.message} ${note}`
  return wrapped
}
