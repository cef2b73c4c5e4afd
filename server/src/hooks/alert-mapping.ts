import { createHash } from 'node:crypto'
import {
  baselineWindow,
  comparisonLinks,
  isProfileTypeName,
  type AlertSource,
  type AlertView,
  type TimeWindow,
} from '@kiln/wire'
import type { AlertRow } from '../store/rows.js'
import type { IncomingAlert } from './alert-payloads.js'
import { parseAlertTime } from './alert-time.js'
import type { ServiceChoice } from './service-rules.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE

/** A window shorter than this shows too few profiles (agents upload every 10 s): widened. */
export const MIN_WINDOW_MS = MINUTE

/**
 * The longest window an alert's links look at: the last hour before its end (or now). An alert
 * that started 3 days ago is not explained by 3 days of profiles against 3 empty days before.
 */
export const RECENT_WINDOW_MS = HOUR

/** The onset of a long alert: its first half hour, against the half hour before it started. */
export const ONSET_WINDOW_MS = 30 * MINUTE

/**
 * A firing alert is shown as firing up to now while it was heard of within this time.
 * Alertmanager repeats a firing notification every `repeat_interval` (4 h by default), so a
 * lost resolution does not leave an alert firing for ever: after 12 h of silence its window
 * stops at its last notification.
 */
export const FIRING_STALE_MS = 12 * HOUR

/** An alert with more labels or annotations than this, or longer values, is refused alone. */
export const MAX_ALERT_LABELS = 128
export const MAX_ALERT_VALUE_BYTES = 16_384

function oversized(map: Record<string, string>, what: string): string | undefined {
  const entries = Object.entries(map)
  if (entries.length > MAX_ALERT_LABELS) {
    return `${entries.length} ${what}, more than ${MAX_ALERT_LABELS}`
  }
  const long = entries.find(([k, v]) => k.length + v.length > MAX_ALERT_VALUE_BYTES)
  return long
    ? `${what} ${JSON.stringify(long[0].slice(0, 64))} longer than ${MAX_ALERT_VALUE_BYTES} characters`
    : undefined
}

/** Label or annotation choosing the profile type of an alert's links, e.g. `heap_inuse_space`. */
export const PROFILE_TYPE_LABEL = 'profile_type'

export interface MapContext {
  tenant: string
  now: number
}

/** What the store tells about an alert's labels: its service, and the selector they carry. */
export interface AlertTarget extends ServiceChoice {
  /** Labels of the alert that the service's profiles carry too, e.g. `{pod="checkout-1"}`. */
  selector: string
}

/** The windows an alert's links open. */
export interface AlertWindows {
  /** The anomaly: `[max(start, end - 1 h), end)`, at least a minute (widened backwards). */
  window: TimeWindow
  /** Only for an alert longer than the recent window: its first half hour. */
  onset: TimeWindow | null
}

/** The windows of an alert that started at `startsAt` and ends (or is looked at) at `end`. */
export function alertWindows(startsAt: number, end: number): AlertWindows {
  const from = Math.min(Math.max(startsAt, end - RECENT_WINDOW_MS), end - MIN_WINDOW_MS)
  const onset =
    startsAt < end - RECENT_WINDOW_MS ? { from: startsAt, to: startsAt + ONSET_WINDOW_MS } : null
  return { window: { from, to: end }, onset }
}

/**
 * Where the window of a stored alert ends when it is looked at: its `endsAt`; now while it
 * fires (and was heard of within {@link FIRING_STALE_MS}); else its last notification.
 */
export function alertEnd(row: AlertRow, now: number): number {
  if (row.ends_at !== null) return row.ends_at
  if (row.status === 'firing' && now - row.received_at < FIRING_STALE_MS) {
    return Math.max(now, row.window_to)
  }
  return row.window_to
}

/**
 * The stored form of an alert: its service and selector (`target`, from the store), its profile
 * type, and its window (see {@link alertWindows}; a firing alert's ends when it was received).
 * Returns why not when the alert has no readable start or names an unknown profile type.
 */
export function mapAlert(
  alert: IncomingAlert,
  target: AlertTarget,
  ctx: MapContext,
): AlertRow | { reason: string } {
  const tooLarge = oversized(alert.labels, 'labels') ?? oversized(alert.annotations, 'annotations')
  if (tooLarge) return { reason: tooLarge }
  const startsAt = parseAlertTime(alert.startsAt)
  if (startsAt === undefined) {
    return {
      reason: `startsAt ${JSON.stringify(alert.startsAt)} is not an RFC 3339 time or Unix ms`,
    }
  }
  const type = alertType(alert)
  if (!isProfileTypeName(type)) return { reason: `unknown profile type ${JSON.stringify(type)}` }

  const endsAtRaw = parseAlertTime(alert.endsAt)
  const endsAt = endsAtRaw !== undefined && endsAtRaw <= ctx.now ? endsAtRaw : null
  const status = alert.status === 'resolved' ? 'resolved' : 'firing'
  const { window } = alertWindows(startsAt, endsAt ?? ctx.now)
  const identity = alert.fingerprint || sortedLabels(alert.labels)
  return {
    tenant: ctx.tenant,
    service: target.service,
    starts_at: startsAt,
    alert_id: hashId(ctx.tenant, alert.source, identity, String(startsAt)),
    source: alert.source,
    status,
    name: alert.name,
    type,
    ends_at: endsAt,
    window_from: window.from,
    window_to: window.to,
    fingerprint: alert.fingerprint,
    labels: alert.labels,
    annotations: alert.annotations,
    generator_url: alert.generatorUrl,
    received_at: ctx.now,
    selector: target.selector,
    mapped_by: target.rule,
    mapping_warning: target.warning,
    urls: alert.urls ?? {},
    alert_values: alert.values ?? {},
  }
}

/** The profile type an alert asks for: generic `type`, label or annotation `profile_type`, cpu. */
export function alertType(alert: IncomingAlert): string {
  return (
    alert.type ?? alert.labels[PROFILE_TYPE_LABEL] ?? alert.annotations[PROFILE_TYPE_LABEL] ?? 'cpu'
  )
}

/** The API form of a stored alert, looked at `now`; links only when it names a service. */
export function alertView(row: AlertRow, publicUrl: string, now: number): AlertView {
  const { window, onset } = alertWindows(row.starts_at, alertEnd(row, now))
  const query = row.selector && row.selector !== '{}' ? row.selector : undefined
  const links = (comparison: TimeWindow) =>
    comparisonLinks(publicUrl, {
      service: row.service,
      type: row.type,
      comparison,
      ...(query ? { baseQuery: query, compQuery: query } : {}),
    })
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
    onset: onset && { window: onset, baseline: baselineWindow(onset) },
    selector: query ?? '',
    mapping: { rule: row.mapped_by, warning: row.mapping_warning },
    labels: row.labels,
    annotations: row.annotations,
    generatorUrl: row.generator_url,
    urls: row.urls,
    values: row.alert_values,
    receivedAt: row.received_at,
    links: row.service ? links(window) : null,
    onsetLinks: row.service && onset ? links(onset) : null,
  }
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
