import type { ClickHouseClient } from '@clickhouse/client'
import {
  baselineWindow,
  comparisonLinks,
  isProfileTypeName,
  type OpenResponse,
  type TimeWindow,
} from '@kiln/wire'
import { KilnError } from '../errors.js'
import { listVersions } from '../findings/cpu-regression.js'
import { formatSelector, parseSelector } from '../query/selector.js'
import { alertWindows, PROFILE_TYPE_LABEL } from './alert-mapping.js'
import { parseAlertTime } from './alert-time.js'
import { pairKey, type AlertTargets } from './alert-targets.js'

const MINUTE = 60_000

/** Around a single instant (`at=`), the link looks at this long before and after it. */
export const INSTANT_MARGIN_MS = 15 * MINUTE

/** A deploy this long before the window's end (or within it) is what the link compares. */
export const DEPLOY_LOOKBACK_MS = 6 * 60 * MINUTE

/** Prefix of the link's parameters that carry alert labels: `label.pod=checkout-1`. */
export const LABEL_PARAM_PREFIX = 'label.'

/** The parameters of `GET /open` and `GET /api/v1/open`, as received. */
export type OpenParams = Record<string, string | undefined>

/** An alert as a link describes it: labels, times, and optionally the service and type. */
export interface OpenRequest {
  service: string | undefined
  type: string
  labels: Record<string, string>
  /** Start and end of the anomaly. */
  from: number
  to: number
}

/**
 * Read a link's parameters: `service`, `type`, `start` and `end` (RFC 3339 or Unix ms, as an
 * alert's `startsAt`/`endsAt`; Go's zero time or a future end means "still firing": now), or
 * `at` (a single instant: the half hour around it), and `label.<name>=<value>` for each label.
 */
export function readOpenParams(params: OpenParams, now: number): OpenRequest {
  const labels: Record<string, string> = {}
  for (const [key, value] of Object.entries(params)) {
    if (key.startsWith(LABEL_PARAM_PREFIX) && value !== undefined) {
      labels[key.slice(LABEL_PARAM_PREFIX.length)] = value
    }
  }
  const type = params.type || labels[PROFILE_TYPE_LABEL] || 'cpu'
  if (!isProfileTypeName(type)) {
    throw new KilnError('KILN_ERR_BAD_REQUEST', `unknown profile type ${JSON.stringify(type)}`)
  }
  const time = (name: string): number | undefined => {
    const given = params[name]
    if (given === undefined || given === '') return undefined
    // A template that did not escape `+02:00` sends it as ` 02:00` (a query's `+` is a space).
    const raw = given.replace(/ (\d{2}:\d{2})$/, '+$1')
    // Go's zero time reads as "not set", as its Unix ms (negative) do.
    if (raw.startsWith('0001-01-01') || /^-\d+$/.test(raw)) return undefined
    const ms = parseAlertTime(raw)
    if (ms === undefined) {
      throw new KilnError(
        'KILN_ERR_BAD_REQUEST',
        `${name}=${JSON.stringify(raw.slice(0, 64))} is not an RFC 3339 time or Unix ms`,
      )
    }
    return ms
  }
  const start = time('start')
  const end = time('end')
  const at = time('at')
  let from: number
  let to: number
  if (start !== undefined) {
    from = start
    to = end !== undefined && end <= now ? end : now
  } else if (at !== undefined) {
    from = at - INSTANT_MARGIN_MS
    to = Math.min(at + INSTANT_MARGIN_MS, now)
  } else {
    throw new KilnError('KILN_ERR_BAD_REQUEST', 'give start (and end), or at')
  }
  if (to <= from) to = from + MINUTE
  const service = params.service?.trim() || undefined
  return { service, type, labels, from, to }
}

/**
 * Where a link of an alert leads: its service (by the service rules, or named), the labels its
 * profiles carry as a selector, and a comparison. When a version was deployed within
 * {@link DEPLOY_LOOKBACK_MS} before the window's end, the new version against the previous
 * one; else the anomaly window (the last hour of the alert at most) against the window of the
 * same length before it.
 */
export async function resolveOpen(
  client: ClickHouseClient,
  db: string,
  targets: AlertTargets,
  o: { tenant: string; publicUrl: string; request: OpenRequest },
): Promise<OpenResponse> {
  const { request, tenant, publicUrl } = o
  const [target] = await targets.resolve(tenant, [
    { labels: request.labels, service: request.service },
  ])
  const { service, rule, warning } = target!
  if (service === '') {
    throw new KilnError(
      'KILN_ERR_BAD_REQUEST',
      'no service: pass service=, or label.<name>= labels that name one (KILN_ALERT_SERVICE_LABELS)',
    )
  }
  const selector = target!.selector
  const { window, onset } = alertWindows(request.from, request.to)
  const base = {
    service,
    type: request.type,
    rule,
    warning,
    selector,
    window,
    onset: onset && { window: onset, baseline: baselineWindow(onset) },
  }

  const deploy = warning
    ? undefined
    : await findDeploy(client, db, { tenant, service, type: request.type, window })
  if (deploy) {
    // A version's side keeps the alert's labels that its own series carry: a rolling deploy
    // replaced the pods, so the alerting pod of the new version never ran the previous one.
    const matchers = parseSelector(selector).filter((m) => m.name !== deploy.label)
    const names = new Map<string, Set<string>>()
    for (const m of matchers) names.set(m.name, new Set([m.value]))
    const versioned = async (version: string): Promise<string> => {
      const have = await targets.presentPairs(tenant, service, names, {
        name: deploy.label,
        value: version,
      })
      const kept = matchers.filter((m) => have.has(pairKey(m.name, m.value)))
      return formatSelector([...kept, { name: deploy.label, op: '=', value: version }])
    }
    const links = comparisonLinks(publicUrl, {
      service,
      type: request.type,
      comparison: deploy.comparison,
      baseline: deploy.baseline,
      baseQuery: await versioned(deploy.previous),
      compQuery: await versioned(deploy.version),
    })
    return {
      ...base,
      comparison: 'previous-version',
      baseline: deploy.baseline,
      compared: deploy.comparison,
      versions: { base: deploy.previous, comp: deploy.version },
      url: links.diff,
      links,
    }
  }
  const query = selector === '' ? {} : { baseQuery: selector, compQuery: selector }
  const links = comparisonLinks(publicUrl, {
    service,
    type: request.type,
    comparison: window,
    ...query,
  })
  return {
    ...base,
    comparison: 'previous-window',
    baseline: baselineWindow(window),
    compared: window,
    versions: null,
    url: links.diff,
    links,
  }
}

interface Deploy {
  label: string
  version: string
  previous: string
  /** The new version's profiles in the anomaly window (from its first profile). */
  comparison: TimeWindow
  /**
   * The previous version up to the deploy (or to its last profile, if it stopped before), at
   * most as long as the comparison.
   */
  baseline: TimeWindow
}

/**
 * The newest version first seen within the lookback before the window's end (or inside it),
 * still running in the window, that followed another version: the deploy an alert most likely
 * follows. A version rolled back before the window is not it.
 */
async function findDeploy(
  client: ClickHouseClient,
  db: string,
  o: { tenant: string; service: string; type: string; window: TimeWindow },
): Promise<Deploy | undefined> {
  const { window } = o
  const lookFrom = window.to - DEPLOY_LOOKBACK_MS
  // From a day before the lookback: the previous version must be known too.
  const versions = await listVersions(client, db, {
    tenant: o.tenant,
    service: o.service,
    type: o.type,
    from: lookFrom - 24 * 60 * MINUTE,
    to: window.to,
  })
  for (let i = versions.length - 1; i >= 1; i--) {
    const v = versions[i]!
    if (v.firstSeen < lookFrom) break
    if (v.lastSeen < window.from) continue
    const prev = versions[i - 1]!
    const cmpFrom = Math.max(v.firstSeen, window.from)
    const comparison = { from: cmpFrom, to: Math.max(window.to, cmpFrom + MINUTE) }
    const length = comparison.to - comparison.from
    const baseTo = Math.min(prev.lastSeen, v.firstSeen)
    const baseline = { from: Math.max(prev.firstSeen, baseTo - length), to: baseTo }
    if (baseline.to <= baseline.from) continue
    return { label: v.label, version: v.version, previous: prev.version, comparison, baseline }
  }
  return undefined
}
