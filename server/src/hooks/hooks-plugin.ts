import type { Static } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { HookResponse } from '@kiln/wire'
import { KilnError } from '../errors.js'
import { splitList, type FindingsConfig } from '../findings/findings-config.js'
import { alertView, mapAlert } from './alert-mapping.js'
import {
  fromAlertmanager,
  fromGeneric,
  fromGrafana,
  type GenericAlertBody,
  type IncomingAlert,
} from './alert-payloads.js'
import {
  AlertmanagerHookSchema,
  AlertsSchema,
  GenericHookSchema,
  GrafanaHookSchema,
  type AlertmanagerBody,
  type AlertsQuery,
  type GrafanaBody,
} from './hooks-schemas.js'
import { resolveListWindow } from '../http/list-window.js'
import { strictTimes } from '../http/unix-ms.js'
import { insertAlerts, listAlerts } from '../store/alert-store.js'
import type { AlertRow } from '../store/rows.js'

export interface HooksPluginOptions {
  config: Pick<FindingsConfig, 'publicUrl' | 'alertServiceLabels'>
}

/**
 * Inbound alert webhooks and the list of alerts received:
 * - `POST /api/v1/hooks/alertmanager`, `/api/v1/hooks/grafana`, `/api/v1/hooks/generic`: store
 *   each alert with its service and window, and answer with links to the window's flame graph
 *   and its diff against the window of the same length before. Their access is `ingest`
 *   (the sender holds an ingest token); alerts belong to the request's tenant.
 * - `GET /api/v1/alerts`: the alerts overlapping a window, for the timeline and the list.
 */
export const hooksPlugin = fp<HooksPluginOptions>(
  async (fastify, { config }) => {
    const serviceLabels = splitList(config.alertServiceLabels)
    const { publicUrl } = config

    const receive = async (
      request: FastifyRequest,
      alerts: IncomingAlert[],
    ): Promise<HookResponse> => {
      const { client, database } = fastify.store
      const now = Date.now()
      const tenant = request.tenant
      const rows: AlertRow[] = []
      const rejected: HookResponse['rejected'] = []
      alerts.forEach((alert, index) => {
        const mapped = mapAlert(alert, { tenant, serviceLabels, now })
        if ('reason' in mapped) rejected.push({ index, reason: mapped.reason })
        else rows.push(mapped)
      })
      if (rows.length === 0 && rejected.length > 0) {
        throw new KilnError(
          'KILN_ERR_BAD_REQUEST',
          `no alert could be read: ${rejected[0]!.reason}`,
        )
      }
      await insertAlerts(client, database, rows)
      const unmapped = rows.filter((r) => !r.service).length
      if (unmapped > 0) {
        request.log.warn(
          { unmapped, serviceLabels },
          'alerts without a service label: stored without links (see KILN_ALERT_SERVICE_LABELS)',
        )
      }
      return { stored: rows.length, alerts: rows.map((r) => alertView(r, publicUrl)), rejected }
    }

    fastify.post<{ Body: Static<typeof AlertmanagerBody> }>(
      '/api/v1/hooks/alertmanager',
      { schema: AlertmanagerHookSchema, config: { access: 'ingest' } },
      async (request) => receive(request, fromAlertmanager(request.body)),
    )

    fastify.post<{ Body: Static<typeof GrafanaBody> }>(
      '/api/v1/hooks/grafana',
      { schema: GrafanaHookSchema, config: { access: 'ingest' } },
      async (request) => receive(request, fromGrafana(request.body)),
    )

    fastify.post<{ Body: GenericAlertBody | { alerts: GenericAlertBody[] } }>(
      '/api/v1/hooks/generic',
      { schema: GenericHookSchema, config: { access: 'ingest' } },
      async (request) => receive(request, fromGeneric(request.body)),
    )

    fastify.get<{ Querystring: Static<typeof AlertsQuery> }>(
      '/api/v1/alerts',
      { schema: AlertsSchema, config: { access: 'read' }, preValidation: strictTimes },
      async (request) => {
        const q = request.query
        const { from, to } = resolveListWindow(q)
        const rows = await listAlerts(fastify.store.client, fastify.store.database, {
          tenant: request.tenant,
          service: q.service,
          status: q.status,
          from,
          to,
          limit: q.limit ?? 500,
        })
        return { from, to, alerts: rows.map((r) => alertView(r, publicUrl)) }
      },
    )
  },
  { name: 'kiln-hooks', fastify: '5.x', dependencies: ['kiln-store', 'kiln-access'] },
)
