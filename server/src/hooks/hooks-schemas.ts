import { unixMs } from '../http/unix-ms.js'
import { Type } from '@sinclair/typebox'

/*
 * TypeBox schemas of the hook routes. Inbound payloads are validated loosely (unknown fields
 * pass: Alertmanager and Grafana add fields over time); answers mirror `@kiln/wire` (`alerts.ts`).
 */

const Labels = Type.Record(Type.String(), Type.String())
const MAX_ALERTS = 10_000

const WebhookAlert = Type.Object({
  status: Type.Optional(Type.String()),
  labels: Type.Optional(Labels),
  annotations: Type.Optional(Labels),
  startsAt: Type.Optional(Type.String()),
  endsAt: Type.Optional(Type.String()),
  generatorURL: Type.Optional(Type.String()),
  fingerprint: Type.Optional(Type.String()),
  panelURL: Type.Optional(Type.String()),
  dashboardURL: Type.Optional(Type.String()),
})

const webhookBody = {
  status: Type.Optional(Type.String()),
  alerts: Type.Array(WebhookAlert, { maxItems: MAX_ALERTS }),
  commonLabels: Type.Optional(Labels),
  commonAnnotations: Type.Optional(Labels),
  groupLabels: Type.Optional(Labels),
  receiver: Type.Optional(Type.String()),
  externalURL: Type.Optional(Type.String()),
  version: Type.Optional(Type.String()),
  groupKey: Type.Optional(Type.String()),
  truncatedAlerts: Type.Optional(Type.Integer()),
}

export const AlertmanagerBody = Type.Object(webhookBody, {
  description: "Prometheus Alertmanager's webhook payload (`webhook_config`, version 4)",
})

export const GrafanaBody = Type.Object(
  {
    ...webhookBody,
    orgId: Type.Optional(Type.Integer()),
    title: Type.Optional(Type.String()),
    state: Type.Optional(Type.String()),
    message: Type.Optional(Type.String()),
  },
  { description: "Grafana alerting's webhook contact point payload" },
)

const Time = Type.Union([Type.String({ maxLength: 64 }), Type.Number()], {
  description: 'RFC 3339, or Unix ms',
})

const GenericAlert = Type.Object({
  service: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  name: Type.Optional(Type.String({ maxLength: 1024 })),
  type: Type.Optional(Type.String({ description: 'Profile type of the links; default cpu' })),
  status: Type.Optional(Type.Union([Type.Literal('firing'), Type.Literal('resolved')])),
  startsAt: Time,
  endsAt: Type.Optional(Time),
  labels: Type.Optional(Labels),
  annotations: Type.Optional(Labels),
  url: Type.Optional(Type.String({ maxLength: 4096 })),
})

export const GenericBody = Type.Union(
  [GenericAlert, Type.Object({ alerts: Type.Array(GenericAlert, { maxItems: MAX_ALERTS }) })],
  { description: 'One alert, or `{alerts: [...]}`' },
)

const Window = Type.Object({ from: Type.Number(), to: Type.Number() })

export const LinksSchema = Type.Object({
  flamegraph: Type.String(),
  diff: Type.String(),
  diffApi: Type.String(),
  flamegraphApi: Type.String(),
})

export const AlertViewSchema = Type.Object({
  id: Type.String(),
  source: Type.String(),
  name: Type.String(),
  status: Type.String(),
  service: Type.String(),
  type: Type.String(),
  startsAt: Type.Number(),
  endsAt: Type.Union([Type.Number(), Type.Null()]),
  window: Window,
  baseline: Window,
  labels: Labels,
  annotations: Labels,
  generatorUrl: Type.String(),
  receivedAt: Type.Number(),
  links: Type.Union([LinksSchema, Type.Null()]),
})

const HookResponse = Type.Object({
  stored: Type.Integer(),
  alerts: Type.Array(AlertViewSchema),
  rejected: Type.Array(Type.Object({ index: Type.Integer(), reason: Type.String() })),
})

const hookRoute = (summary: string, body: unknown) => ({
  summary,
  body,
  response: { 200: HookResponse },
})

export const AlertmanagerHookSchema = hookRoute(
  'Receive Prometheus Alertmanager alerts; answers with links to their windows',
  AlertmanagerBody,
)
export const GrafanaHookSchema = hookRoute(
  'Receive Grafana alerts; answers with links to their windows',
  GrafanaBody,
)
export const GenericHookSchema = hookRoute(
  'Receive alerts of any tool as small JSON; answers with links to their windows',
  GenericBody,
)

export const AlertsQuery = Type.Object({
  service: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  status: Type.Optional(Type.Union([Type.Literal('firing'), Type.Literal('resolved')])),
  from: Type.Optional(unixMs('Unix ms; default `to` - 24 h')),
  to: Type.Optional(unixMs('Unix ms; default now')),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 500 })),
})

export const AlertsSchema = {
  summary: 'Alerts received whose window overlaps [from, to), newest first',
  querystring: AlertsQuery,
  response: {
    200: Type.Object({
      from: Type.Number(),
      to: Type.Number(),
      alerts: Type.Array(AlertViewSchema),
    }),
  },
}
