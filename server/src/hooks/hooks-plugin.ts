import type { Static } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { HookResponse, OpenResponse } from '@kiln/wire'
import { KilnError } from '../errors.js'
import type { FindingsConfig } from '../findings/findings-config.js'
import { alertView, FIRING_STALE_MS, mapAlert } from './alert-mapping.js'
import {
  fromAlertmanager,
  fromGeneric,
  fromGrafana,
  type GenericAlertBody,
  type IncomingAlert,
} from './alert-payloads.js'
import { AlertTargets } from './alert-targets.js'
import {
  AlertmanagerHookSchema,
  AlertsSchema,
  GenericHookSchema,
  GrafanaHookSchema,
  OpenRedirectSchema,
  OpenSchema,
  type AlertmanagerBody,
  type AlertsQuery,
  type GrafanaBody,
} from './hooks-schemas.js'
import { readOpenParams, resolveOpen, type OpenParams } from './open-link.js'
import { parseServiceRules } from './service-rules.js'
import { resolveListWindow } from '../http/list-window.js'
import { strictTimes } from '../http/unix-ms.js'
import { insertAlerts, listAlerts, storedAlerts } from '../store/alert-store.js'
import type { AlertRow } from '../store/rows.js'

export interface HooksPluginOptions {
  config: Pick<FindingsConfig, 'publicUrl' | 'alertServiceLabels' | 'alertMaxPerRequest'>
}

/**
 * Inbound alert webhooks, the alerts received, and the links of alerts:
 * - `POST /api/v1/hooks/alertmanager`, `/api/v1/hooks/grafana`, `/api/v1/hooks/generic` (Grafana
 *   and generic also `PUT`: Grafana's contact point may use it): store each alert with its
 *   service, selector and window, and answer with links to the window's flame graph and its diff
 *   against the window of the same length before. Their access is `ingest` (the sender holds an
 *   ingest token); alerts belong to the request's tenant.
 * - `GET /api/v1/alerts`: the alerts overlapping a window, for the timeline and the list.
 * - `GET /api/v1/open`: where an alert's link leads, from its labels and times; `GET /open`
 *   redirects there, for links written by Alertmanager and Grafana templates. It is public: a
 *   link clicked in a chat sends no token. When the request could read anyway (no token needed,
 *   or one sent), it redirects to the view itself; else to the UI with the same parameters,
 *   which resolves them with the token of the tab.
 */
export const hooksPlugin = fp<HooksPluginOptions>(
  async (fastify, { config }) => {
    const { publicUrl } = config
    const targets = new AlertTargets(
      fastify.store.client,
      fastify.store.database,
      parseServiceRules(config.alertServiceLabels),
    )
    const maxAlerts = config.alertMaxPerRequest

    /**
     * A resolution is final: a firing copy of a resolved alert instance (same fingerprint and
     * start; an HA peer's, a retry, or the same notification twice) leaves it resolved, whatever
     * the order of receipt. Within one request the resolution wins; a firing copy of a stored
     * resolution is not stored (the table keeps the latest receipt of a row). Returns what each
     * alert is now, and stores what changed.
     */
    const keepResolutions = async (tenant: string, rows: AlertRow[]): Promise<AlertRow[]> => {
      const { client, database } = fastify.store
      const resolvedHere = new Map(
        rows.filter((r) => r.status === 'resolved').map((r) => [r.alert_id, r]),
      )
      const stored = await storedAlerts(
        client,
        database,
        tenant,
        rows.filter((r) => r.status === 'firing').map((r) => r.alert_id),
      )
      const kept = rows.map((r) => {
        if (r.status === 'resolved') return r
        const resolution = resolvedHere.get(r.alert_id) ?? stored.get(r.alert_id)
        return resolution?.status === 'resolved' ? resolution : r
      })
      await insertAlerts(
        client,
        database,
        kept.filter((r, i) => r === rows[i]),
      )
      return kept
    }
    // Check and store one request at a time, so that two copies racing on this server cannot
    // both pass the check. (Two servers receiving the two copies within milliseconds still can;
    // reads prefer the resolution until the store merges the two rows.)
    let serial: Promise<unknown> = Promise.resolve()
    const finalResolutions = <T>(work: () => Promise<T>): Promise<T> => {
      const result = serial.then(work)
      serial = result.catch(() => undefined)
      return result
    }

    const receive = async (
      request: FastifyRequest,
      incoming: IncomingAlert[],
    ): Promise<HookResponse> => {
      const now = Date.now()
      const tenant = request.tenant
      const alerts = incoming.slice(0, maxAlerts)
      const dropped = incoming.length - alerts.length
      if (dropped > 0) {
        request.log.warn(
          { received: incoming.length, dropped, maxAlerts },
          'alerts past KILN_ALERT_MAX_PER_REQUEST dropped',
        )
      }
      const resolved = await targets.resolve(
        tenant,
        alerts.map((a) => ({ labels: a.labels, service: a.service })),
      )
      const rows: AlertRow[] = []
      const rejected: HookResponse['rejected'] = []
      alerts.forEach((alert, index) => {
        const mapped = mapAlert(alert, resolved[index]!, { tenant, now })
        if ('reason' in mapped) rejected.push({ index, reason: mapped.reason })
        else rows.push(mapped)
      })
      if (rows.length === 0 && rejected.length > 0) {
        throw new KilnError(
          'KILN_ERR_BAD_REQUEST',
          `no alert could be read: ${rejected[0]!.reason}`,
        )
      }
      const kept = await finalResolutions(() => keepResolutions(tenant, rows))
      const unmapped = kept.filter((r) => r.mapping_warning !== '').length
      if (unmapped > 0) {
        request.log.warn(
          { unmapped, rules: config.alertServiceLabels },
          'alerts without a profiled service (see KILN_ALERT_SERVICE_LABELS)',
        )
      }
      return {
        stored: rows.length,
        alerts: kept.map((r) => alertView(r, publicUrl, now)),
        rejected,
        dropped,
      }
    }

    fastify.post<{ Body: Static<typeof AlertmanagerBody> }>(
      '/api/v1/hooks/alertmanager',
      { schema: AlertmanagerHookSchema, config: { access: 'ingest' } },
      async (request) => receive(request, fromAlertmanager(request.body)),
    )

    fastify.route<{ Body: Static<typeof GrafanaBody> }>({
      method: ['POST', 'PUT'],
      url: '/api/v1/hooks/grafana',
      schema: GrafanaHookSchema,
      config: { access: 'ingest' },
      handler: async (request) => receive(request, fromGrafana(request.body)),
    })

    fastify.route<{ Body: GenericAlertBody | { alerts: GenericAlertBody[] } }>({
      method: ['POST', 'PUT'],
      url: '/api/v1/hooks/generic',
      schema: GenericHookSchema,
      config: { access: 'ingest' },
      handler: async (request) => receive(request, fromGeneric(request.body)),
    })

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
          firingStaleMs: FIRING_STALE_MS,
        })
        const now = Date.now()
        return { from, to, alerts: rows.map((r) => alertView(r, publicUrl, now)) }
      },
    )

    const open = (tenant: string, params: OpenParams): Promise<OpenResponse> =>
      resolveOpen(fastify.store.client, fastify.store.database, targets, {
        tenant,
        publicUrl,
        request: readOpenParams(params, Date.now()),
      })

    fastify.get<{ Querystring: OpenParams }>(
      '/api/v1/open',
      { schema: OpenSchema, config: { access: 'read' } },
      async (request) => open(request.tenant, request.query),
    )

    fastify.get<{ Querystring: OpenParams }>(
      '/open',
      { schema: OpenRedirectSchema, config: { access: 'public', rateClass: 'query' } },
      async (request, reply) => {
        const access = await fastify.readAccess(request, request.query.tenant)
        // Relative redirects: the link reached this server by whatever name it has here.
        const uiPath = `${new URL(publicUrl).pathname.replace(/\/+$/, '')}/`
        if (access) {
          const target = new URL((await open(access.tenant, request.query)).url)
          return reply.redirect(`${target.pathname}${target.search}`, 302)
        }
        const search = new URLSearchParams({ view: 'open' })
        for (const [key, value] of Object.entries(request.query)) {
          if (value !== undefined) search.append(key, value)
        }
        return reply.redirect(`${uiPath}?${search.toString()}`, 302)
      },
    )
  },
  { name: 'kiln-hooks', fastify: '5.x', dependencies: ['kiln-store', 'kiln-access'] },
)
