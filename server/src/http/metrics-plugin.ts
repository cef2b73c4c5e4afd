import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface KilnMetrics {
  readonly registry: Registry
  readonly ingestedProfiles: Counter<'type'>
  readonly ingestedBytes: Counter
  readonly rejected: Counter<'code'>
  readonly shed: Counter<'reason'>
  readonly duplicateUploads: Counter
  readonly traceIdsDropped: Counter
  readonly resumedUploads: Counter
  readonly insertSeconds: Histogram
  readonly insertedRows: Counter<'table'>
  readonly agentStatsMalformed: Counter<'reason'>
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: KilnMetrics
  }
}

/** `GET /metrics` in Prometheus text format, from a registry of this server's own. */
export const metricsPlugin = fp(
  async (fastify) => {
    const registry = new Registry()
    collectDefaultMetrics({ register: registry, prefix: 'kiln_' })
    const metrics: KilnMetrics = {
      registry,
      ingestedProfiles: new Counter({
        name: 'kiln_ingested_profiles_total',
        help: 'Profiles stored, by Kiln profile type',
        labelNames: ['type'],
        registers: [registry],
      }),
      ingestedBytes: new Counter({
        name: 'kiln_ingested_bytes_total',
        help: 'Request body bytes of stored profiles',
        registers: [registry],
      }),
      rejected: new Counter({
        name: 'kiln_ingest_rejected_total',
        help: 'Ingest requests refused, by error code',
        labelNames: ['code'],
        registers: [registry],
      }),
      shed: new Counter({
        name: 'kiln_ingest_shed_total',
        help: 'Ingest requests answered 429 before their body was read, by reason: requests, bytes, rows',
        labelNames: ['reason'],
        registers: [registry],
      }),
      duplicateUploads: new Counter({
        name: 'kiln_ingest_duplicates_total',
        help: 'Uploads recognised as already stored (re-sent after a lost answer) and not stored again',
        registers: [registry],
      }),
      traceIdsDropped: new Counter({
        name: 'kiln_ingest_trace_ids_dropped_total',
        help: 'Trace and span ids not stored, by reason: invalid (not 1 to 32 hex digits; the sample is kept without it), limit (KILN_MAX_TRACE_ROWS_PER_PROFILE)',
        labelNames: ['reason'],
        registers: [registry],
      }),
      resumedUploads: new Counter({
        name: 'kiln_ingest_resumed_total',
        help: 'Re-sent uploads found half stored (samples in, profiles not) and completed without storing their samples again',
        registers: [registry],
      }),
      insertSeconds: new Histogram({
        name: 'kiln_insert_duration_seconds',
        help: 'Duration of one batched insert into the store',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
      insertedRows: new Counter({
        name: 'kiln_inserted_rows_total',
        help: 'Rows inserted, by table',
        labelNames: ['table'],
        registers: [registry],
      }),
      agentStatsMalformed: new Counter({
        name: 'kiln_agent_stats_malformed_total',
        help: 'x-kiln-agent-stats headers ignored (profile stored anyway), by reason: too_large, not_json, invalid',
        labelNames: ['reason'],
        registers: [registry],
      }),
    }
    new Gauge({
      name: 'kiln_insert_queue_rows',
      help: 'Rows acknowledged (in the ingest log) or admitted and not yet in the store; uploads are shed beyond 4 x KILN_INSERT_BATCH_MAX_ROWS',
      registers: [registry],
      collect() {
        this.set(fastify.hasDecorator('store') ? fastify.store.pendingRows : 0)
      },
    })
    fastify.decorate('metrics', metrics)
    fastify.get('/metrics', { config: { access: 'public' } }, async (_request, reply) =>
      reply.type(registry.contentType).send(await registry.metrics()),
    )
  },
  { name: 'kiln-metrics', fastify: '5.x' },
)
