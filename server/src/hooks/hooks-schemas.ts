import { unixMs } from '../http/unix-ms.js'
import { Type } from '@sinclair/typebox'

/*
 * TypeBox schemas of the hook routes. Inbound payloads are validated loosely (unknown fields
 * pass: Alertmanager and Grafana add fields over time); answers mirror `@kiln/wire` (`alerts.ts`).
 */

const Labels = Type.Record(Type.String(), Type.String())

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
  silenceURL: Type.Optional(Type.String()),
  imageURL: Type.Optional(Type.String()),
  values: Type.Optional(
    Type.Union([Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()])), Type.Null()]),
  ),
})

const webhookBody = {
  status: Type.Optional(Type.String()),
  // No maxItems: past KILN_ALERT_MAX_PER_REQUEST the rest are dropped and counted, not refused.
  alerts: Type.Array(WebhookAlert),
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
  [GenericAlert, Type.Object({ alerts: Type.Array(GenericAlert) })],
  { description: 'One alert, or `{alerts: [...]}`' },
)

const Window = Type.Object({ from: Type.Number(), to: Type.Number() })

export const LinksSchema = Type.Object({
  flamegraph: Type.String(),
  diff: Type.String(),
  diffApi: Type.String(),
  flamegraphApi: Type.String(),
})

const Pair = Type.Object({ window: Window, baseline: Window })

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
  onset: Type.Union([Pair, Type.Null()]),
  selector: Type.String(),
  mapping: Type.Object({ rule: Type.String(), warning: Type.String() }),
  labels: Labels,
  annotations: Labels,
  generatorUrl: Type.String(),
  urls: Labels,
  values: Type.Record(Type.String(), Type.Number()),
  receivedAt: Type.Number(),
  links: Type.Union([LinksSchema, Type.Null()]),
  onsetLinks: Type.Union([LinksSchema, Type.Null()]),
})

const HookResponse = Type.Object({
  stored: Type.Integer(),
  alerts: Type.Array(AlertViewSchema),
  rejected: Type.Array(Type.Object({ index: Type.Integer(), reason: Type.String() })),
  dropped: Type.Integer(),
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

const AlertTime = Type.String({ maxLength: 64, description: 'RFC 3339, or Unix ms' })

export const OpenQuery = Type.Object(
  {
    service: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    type: Type.Optional(Type.String({ maxLength: 64, description: 'profile type; default cpu' })),
    start: Type.Optional(AlertTime),
    end: Type.Optional(AlertTime),
    at: Type.Optional(AlertTime),
    tenant: Type.Optional(Type.String({ maxLength: 128 })),
  },
  {
    description:
      "An alert's service (or `label.<name>=<value>` for each of its labels, mapped by KILN_ALERT_SERVICE_LABELS) and its times: `start` and `end` (its startsAt/endsAt; Go's zero time or a future end: still firing), or `at` (one instant)",
    additionalProperties: Type.String({ maxLength: 1024 }),
    maxProperties: 80,
  },
)

export const OpenResponseSchema = Type.Object({
  service: Type.String(),
  type: Type.String(),
  rule: Type.String(),
  warning: Type.String(),
  selector: Type.String(),
  window: Window,
  onset: Type.Union([Pair, Type.Null()]),
  comparison: Type.Union([Type.Literal('previous-version'), Type.Literal('previous-window')]),
  baseline: Window,
  compared: Window,
  versions: Type.Union([Type.Object({ base: Type.String(), comp: Type.String() }), Type.Null()]),
  url: Type.String(),
  links: LinksSchema,
})

export const OpenSchema = {
  summary: "Where an alert's link leads: its service, selector and comparison",
  querystring: OpenQuery,
  response: { 200: OpenResponseSchema },
}

export const OpenRedirectSchema = {
  summary:
    "Redirects an alert's link (same parameters as /api/v1/open) to its view; a stable URL for notification templates",
  querystring: OpenQuery,
  hide: true,
}
