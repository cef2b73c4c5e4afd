import { createHash } from 'node:crypto'
import {
  baselineWindow,
  comparisonLinks,
  isProfileTypeName,
  type AlertSource,
  type AlertView,
} from '@kiln/wire'
import type { AlertRow } from '../store/rows.js'
import type { IncomingAlert } from './alert-payloads.js'
import { parseAlertTime } from './alert-time.js'

/** A window shorter than this shows too few profiles (agents upload every 10 s): widened. */
export const MIN_WINDOW_MS = 60_000

/** Label or annotation choosing the profile type of an alert's links, e.g. `heap_inuse_space`. */
export const PROFILE_TYPE_LABEL = 'profile_type'

export interface MapContext {
  tenant: string
  /** Labels naming the service, first present wins. */
  serviceLabels: readonly string[]
  now: number
}

/**
 * The stored form of an alert: its service (the first configured label present, or the generic
 * form's `service`), its profile type, and its window. The window runs from `startsAt` to
 * `endsAt`, or to now while the alert fires (no `endsAt`, Go's zero time, or one in the future);
 * it is at least {@link MIN_WINDOW_MS} long, widened backwards. Returns why not when the alert
 * has no readable start or names an unknown profile type.
 */
export function mapAlert(alert: IncomingAlert, ctx: MapContext): AlertRow | { reason: string } {
  const startsAt = parseAlertTime(alert.startsAt)
  if (startsAt === undefined) {
    return {
      reason: `startsAt ${JSON.stringify(alert.startsAt)} is not an RFC 3339 time or Unix ms`,
    }
  }
  const type =
    alert.type ?? alert.labels[PROFILE_TYPE_LABEL] ?? alert.annotations[PROFILE_TYPE_LABEL] ?? 'cpu'
  if (!isProfileTypeName(type)) return { reason: `unknown profile type ${JSON.stringify(type)}` }

  const endsAtRaw = parseAlertTime(alert.endsAt)
  const endsAt = endsAtRaw !== undefined && endsAtRaw <= ctx.now ? endsAtRaw : null
  const status = alert.status === 'resolved' ? 'resolved' : 'firing'
  const to = endsAt ?? ctx.now
  const from = Math.min(startsAt, to - MIN_WINDOW_MS)
  const service = (alert.service ?? serviceOf(alert.labels, ctx.serviceLabels)).trim()
  const identity = alert.fingerprint || sortedLabels(alert.labels)
  return {
    tenant: ctx.tenant,
    service,
    starts_at: startsAt,
    alert_id: hashId(ctx.tenant, alert.source, identity, String(startsAt)),
    source: alert.source,
    status,
    name: alert.name,
    type,
    ends_at: endsAt,
    window_from: from,
    window_to: to,
    fingerprint: alert.fingerprint,
    labels: alert.labels,
    annotations: alert.annotations,
    generator_url: alert.generatorUrl,
    received_at: ctx.now,
  }
}

/** The API form of a stored alert; links only when it names a service. */
export function alertView(row: AlertRow, publicUrl: string): AlertView {
  const window = { from: row.window_from, to: row.window_to }
  return {
    id: row.alert_id,
    source: row.source as AlertSource,
    name: row.name,
    status: row.status,
    service: row.service,
    type: row.type,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    window,
    baseline: baselineWindow(window),
    labels: row.labels,
    annotations: row.annotations,
    generatorUrl: row.generator_url,
    receivedAt: row.received_at,
    links: row.service
      ? comparisonLinks(publicUrl, { service: row.service, type: row.type, comparison: window })
      : null,
  }
}

/** The value of the first of `names` that the labels carry (non-empty), else `''`. */
export function serviceOf(labels: Record<string, string>, names: readonly string[]): string {
  for (const name of names) {
    const value = labels[name]
    if (value) return value
  }
  return ''
}

function sortedLabels(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',')
}

/** 16 hex digits of SHA-256 over the parts: a stable id that no input can forge into another. */
export function hashId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 16)
}
