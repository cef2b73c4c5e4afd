import type { Static } from '@sinclair/typebox'
import fp from 'fastify-plugin'
import type { FindingsResponse, FindingsRunResponse } from '@kiln/wire'
import { DetectorRunner } from './detector-runner.js'
import type { FindingsConfig } from './findings-config.js'
import { toFinding } from './finding-model.js'
import { FindingsRunSchema, FindingsSchema, type FindingsQuery } from './findings-schemas.js'
import { resolveListWindow } from '../http/list-window.js'
import { strictTimes } from '../http/unix-ms.js'
import { listFindings } from '../store/finding-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Kiln's detectors: `run()` them now, or let the schedule do it. */
    findings: DetectorRunner
  }
}

export interface FindingsPluginOptions {
  config: FindingsConfig
  /** The HTTP client of outbound webhooks and Alertmanagers (tests may pass another). */
  fetch?: typeof fetch
}

/**
 * Kiln's own detectors on a schedule (`detectorIntervalMs`, 0: off), their findings, the
 * outbound webhooks and the alerts posted to Alertmanagers (`alertmanagerUrl`):
 * - `GET /api/v1/findings`: stored findings overlapping a window, newest first.
 * - `POST /api/v1/findings/run`: run the detectors now over the request's tenant (admin: it may
 *   call out to the configured webhooks).
 * The schedule's timer never keeps the process alive, and closing the server waits for a run
 * under way before the store closes.
 */
export const findingsPlugin = fp<FindingsPluginOptions>(
  async (fastify, { config, fetch }) => {
    const runner = new DetectorRunner({
      client: fastify.store.client,
      database: fastify.store.database,
      config,
      log: fastify.log.child({ plugin: 'kiln-findings' }),
      ...(fetch ? { fetch } : {}),
    })
    fastify.decorate('findings', runner)

    let timer: NodeJS.Timeout | undefined
    let closing = false
    const schedule = (): void => {
      if (closing || config.detectorIntervalMs <= 0) return
      timer = setTimeout(() => {
        timer = undefined
        // A remote store may not be up yet: skip the run, try at the next tick.
        const run = fastify.store.ready && !runner.busy ? runner.run() : Promise.resolve([])
        run
          .catch((error: unknown) => fastify.log.error({ err: error }, 'detector run failed'))
          .finally(schedule)
      }, config.detectorIntervalMs)
      timer.unref()
    }
    fastify.addHook('onReady', async () => schedule())
    fastify.addHook('onClose', async () => {
      closing = true
      if (timer) clearTimeout(timer)
      await runner.idle()
    })

    fastify.get<{ Querystring: Static<typeof FindingsQuery>; Reply: FindingsResponse }>(
      '/api/v1/findings',
      { schema: FindingsSchema, config: { access: 'read' }, preValidation: strictTimes },
      async (request) => {
        const q = request.query
        const { from, to } = resolveListWindow(q)
        const rows = await listFindings(fastify.store.client, fastify.store.database, {
          tenant: request.tenant,
          service: q.service,
          kind: q.kind,
          from,
          to,
          limit: q.limit ?? 500,
        })
        return { from, to, findings: rows.map((r) => toFinding(r, config.publicUrl)) }
      },
    )

    fastify.post<{ Reply: FindingsRunResponse }>(
      '/api/v1/findings/run',
      { schema: FindingsRunSchema, config: { access: 'admin' } },
      async (request) => ({ findings: await runner.run({ tenant: request.tenant }) }),
    )
  },
  { name: 'kiln-findings', fastify: '5.x', dependencies: ['kiln-store', 'kiln-access'] },
)
