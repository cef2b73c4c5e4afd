import type { ClickHouseClient } from '@clickhouse/client'
import fp from 'fastify-plugin'
import type { KilnConfig } from '../config/config-schema.js'
import { join, resolve } from 'node:path'
import { BatchWriter, type WriteOutcome } from './batch-writer.js'
import { IngestLog } from './ingest-log.js'
import { HourlyRollup } from './hourly-rollup.js'
import {
  createClickHouseClient,
  createInsertClients,
  createRowInserter,
} from './clickhouse-bindings.js'
import { migrate, tuneEmbeddedMerges } from './schema.js'
import { wrapStoreError } from './store-errors.js'
import { KilnError } from '../errors.js'

export interface Store {
  /**
   * What reads go through. With the ingest log, each query first waits for the uploads
   * acknowledged before it to be in the store.
   */
  readonly client: ClickHouseClient
  /** The same store without that wait: for tables the ingest log does not write (check-ins). */
  readonly direct: ClickHouseClient
  readonly writer: BatchWriter
  /**
   * Agents' schedule check-ins, apart from `writer`: an agent waits for its plan, and under heavy
   * ingest `writer`'s queue of inserts takes seconds. Check-ins are tiny rows of their own table.
   */
  readonly checkins: BatchWriter
  /**
   * The ingest write-ahead log (`ingest-log.ts`) the embedded store acknowledges uploads on;
   * undefined for a ClickHouse server by URL or with KILN_INGEST_LOG=false (uploads then wait
   * for `writer`'s insert).
   */
  readonly log: IngestLog | undefined
  /** The hourly rollup: which hours reads take from it, and its schedule. */
  readonly rollup: HourlyRollup
  /** Database name, validated by the config schema as a plain identifier. */
  readonly database: string
  /** Whether the schema is in place; false while a remote store is away at start. */
  readonly ready: boolean
  /** Why the schema is not ready, when it is not. */
  readonly schemaError: string | undefined
  /**
   * Rows of uploads admitted or acknowledged and not yet in the store (the ingest log's and the
   * batch writer's): what the ingest backlog bound counts.
   */
  readonly pendingRows: number
}

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
  }
}

/** Opens the store (chDB or ClickHouse by URL), applies migrations, and closes it on shutdown. */
export const storePlugin = fp<{ config: KilnConfig }>(
  async (fastify, { config }) => {
    const client = createClickHouseClient(config)
    const database = config.clickhouseDatabase
    const state = { ready: false, schemaError: undefined as string | undefined }
    let retryTimer: NodeJS.Timeout | undefined
    let closing = false

    const applySchema = async (): Promise<void> => {
      const applied = await migrate(client, {
        database,
        retentionDays: config.retentionDays,
        traceRetentionDays: config.traceRetentionDays,
        cluster: config.clickhouseCluster,
      })
      if (applied.length > 0) fastify.log.info({ applied }, 'schema migrations applied')
      if (!config.clickhouseUrl) await tuneEmbeddedMerges(client, database)
      state.ready = true
      state.schemaError = undefined
    }
    const retry = (delayMs: number): void => {
      retryTimer = setTimeout(() => {
        applySchema().catch((error: unknown) => {
          state.schemaError = wrapStoreError(error).message
          if (!closing) retry(Math.min(delayMs * 2, 30_000))
        })
      }, delayMs)
      retryTimer.unref()
    }

    try {
      await applySchema()
    } catch (error) {
      // The embedded store is part of this process: failing to open it is fatal. A remote
      // ClickHouse may simply not be up yet (compose, Kubernetes): serve 503s and keep trying.
      if (!config.clickhouseUrl) throw wrapStoreError(error)
      state.schemaError = wrapStoreError(error).message
      fastify.log.error({ err: error }, 'store not ready; retrying in the background')
      retry(1000)
    }

    const insertClients = createInsertClients(config, client, config.insertConcurrency)
    const insert = createRowInserter(config, insertClients)
    // The log hands its uploads to `writer`, made below (it needs the rollup, which reads
    // through the log's barrier).
    const log: IngestLog | undefined =
      config.ingestLog && !config.clickhouseUrl
        ? new IngestLog({
            dir: join(resolve(config.dataDir), 'ingest-log'),
            writer: {
              write: (batch, upload, native): Promise<WriteOutcome> =>
                writer.write(batch, upload, native),
              flushSoon: (): void => writer.flushSoon(),
            },
            flushMs: config.ingestLogFlushMs,
            maxRows: config.insertBatchMaxRows,
            sink: fastify.log,
          })
        : undefined
    // What reads the store (routes, the findings detector, rollup runs, tests) reads through
    // `reader`: with the ingest log, a query first waits for the uploads acknowledged before it
    // (`IngestLog.barrier`), so every answer holds what was acknowledged before it was asked.
    // The batch writer keeps `client`: its own lookups run inside the inserts a barrier waits for.
    const reader: ClickHouseClient = log ? readingAfter(client, log) : client
    const rollup: HourlyRollup = new HourlyRollup(reader, {
      database,
      latenessMs: config.rollupLatenessMs,
      marginMs: config.rollupMarginMs,
      retentionDays: config.retentionDays,
      // Only a ClickHouse server by URL can have other Kiln servers writing to it.
      shared: Boolean(config.clickhouseUrl),
      ...(log && { settled: () => log.barrier() }),
    })
    const writer: BatchWriter = new BatchWriter(client, {
      database,
      insert,
      sampleFormat: config.clickhouseUrl ? 'TabSeparated' : 'Native',
      rollup,
      waitMs: config.insertBatchWaitMs,
      maxRows: config.insertBatchMaxRows,
      concurrentFlushes: config.insertConcurrency,
      onInsert: (table, rows, seconds, ok) => {
        if (!fastify.hasDecorator('metrics')) return
        fastify.metrics.insertSeconds.observe(seconds)
        if (ok) fastify.metrics.insertedRows.inc({ table }, rows)
      },
    })
    const checkins = new BatchWriter(client, {
      database,
      insert,
      waitMs: config.insertBatchWaitMs,
      maxRows: config.insertBatchMaxRows,
    })
    if (log) {
      // Before any request: what a previous process acknowledged and left in the log goes into
      // the store first, each upload once.
      const { replayed } = await log.open()
      if (replayed > 0) fastify.log.info({ uploads: replayed }, 'ingest log replayed')
    }
    fastify.decorate('store', {
      client: reader,
      direct: client,
      writer,
      checkins,
      log,
      rollup,
      database,
      get ready() {
        return state.ready
      },
      get schemaError() {
        return state.schemaError
      },
      get pendingRows() {
        // With the log, the writer holds only what the log handed it, counted by the log already.
        return log ? log.pendingRows : writer.pendingRows
      },
    })
    // Until the schema is in place, every route that is not public (all of them read or write
    // the store) answers 503 (the agent retries). Decided on the matched route's declaration.
    fastify.addHook('onRequest', async (request) => {
      if (state.ready || request.is404) return
      if (request.routeOptions.config.access === 'public') return
      throw new KilnError('KILN_ERR_STORE_UNAVAILABLE', state.schemaError ?? 'schema not ready', {
        retryAfterSeconds: 5,
      })
    })
    // `/metrics` reads no table, but counts uploads once they are in the store.
    if (log) {
      fastify.addHook('onRequest', async (request) => {
        if (request.routeOptions.url === '/metrics') await log.barrier()
      })
    }
    // The rollup's schedule; its timer never keeps the process alive.
    let rollupTimer: NodeJS.Timeout | undefined
    const scheduleRollup = (): void => {
      if (closing || config.rollupIntervalMs <= 0) return
      rollupTimer = setTimeout(() => {
        rollupTimer = undefined
        const run = state.ready ? rollup.run() : Promise.resolve(0)
        run
          .then((hours) => {
            if (hours > 0) fastify.log.debug({ hours }, 'hours rolled up')
          })
          .catch((error: unknown) => fastify.log.warn({ err: error }, 'rollup run failed'))
          .finally(scheduleRollup)
      }, config.rollupIntervalMs)
      rollupTimer.unref()
    }
    fastify.addHook('onReady', async () => scheduleRollup())
    fastify.addHook('onClose', async () => {
      closing = true
      if (retryTimer) clearTimeout(retryTimer)
      if (rollupTimer) clearTimeout(rollupTimer)
      await rollup.idle()
      // The log first: what it holds goes through `writer`, closed after it.
      await log?.close()
      await Promise.all([writer.close(), checkins.close()])
      await Promise.all(insertClients.filter((c) => c !== client).map((c) => c.close()))
      await client.close()
    })
  },
  { name: 'kiln-store', fastify: '5.x', dependencies: ['kiln-access'] },
)

/** `client`, whose queries first wait for what `log` acknowledged before them. */
function readingAfter(client: ClickHouseClient, log: IngestLog): ClickHouseClient {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'query') {
        const query: ClickHouseClient['query'] = async (params) => {
          await log.barrier()
          return target.query(params)
        }
        return query
      }
      const value: unknown = Reflect.get(target, property, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
