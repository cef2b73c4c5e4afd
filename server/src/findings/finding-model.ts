import {
  comparisonLinks,
  type DeliveryState,
  type Finding,
  type FindingFunction,
  type FindingKind,
  type TimeWindow,
} from '@kiln/wire'
import type { FindingRow } from '../store/rows.js'

/** What a detector reports, before it is stored or compared with what was stored. */
export interface DetectedFinding {
  /** Stable identity of the finding (see each detector). */
  id: string
  tenant: string
  service: string
  kind: FindingKind
  type: string
  title: string
  time: number
  window: TimeWindow
  baseline: TimeWindow
  version?: string
  previousVersion?: string
  versionsCompared?: [string, string]
  /** Selectors of the two sides of the diff (a version each), `''` for none. */
  baseQuery: string
  compQuery: string
  functions: FindingFunction[]
  stats: Record<string, number>
}

export function toRow(
  f: DetectedFinding,
  at: { detectedAt: number; updatedAt: number },
  delivery: { state: DeliveryState; pendingUrls: string[]; attempts: number },
): FindingRow {
  return {
    tenant: f.tenant,
    service: f.service,
    time: f.time,
    finding_id: f.id,
    kind: f.kind,
    type: f.type,
    title: f.title,
    version: f.version ?? '',
    previous_version: f.previousVersion ?? '',
    versions_compared: f.versionsCompared ?? [],
    window_from: f.window.from,
    window_to: f.window.to,
    baseline_from: f.baseline.from,
    baseline_to: f.baseline.to,
    base_query: f.baseQuery,
    comp_query: f.compQuery,
    functions: JSON.stringify(f.functions),
    stats: f.stats,
    detected_at: at.detectedAt,
    updated_at: at.updatedAt,
    delivery: delivery.state,
    pending_urls: delivery.pendingUrls,
    delivery_attempts: delivery.attempts,
  }
}

/** The API form of a stored finding, with links built for `publicUrl`. */
export function toFinding(row: FindingRow, publicUrl: string): Finding {
  const window = { from: row.window_from, to: row.window_to }
  const baseline = { from: row.baseline_from, to: row.baseline_to }
  const versionsCompared = row.versions_compared
  return {
    id: row.finding_id,
    kind: row.kind,
    service: row.service,
    type: row.type,
    title: row.title,
    time: row.time,
    detectedAt: row.detected_at,
    window,
    baseline,
    ...(row.version ? { version: row.version } : {}),
    ...(row.previous_version ? { previousVersion: row.previous_version } : {}),
    ...(versionsCompared.length === 2
      ? { versionsCompared: [versionsCompared[0]!, versionsCompared[1]!] as [string, string] }
      : {}),
    functions: JSON.parse(row.functions) as FindingFunction[],
    stats: row.stats,
    links: comparisonLinks(publicUrl, {
      service: row.service,
      type: row.type,
      comparison: window,
      baseline,
      ...(row.base_query ? { baseQuery: row.base_query } : {}),
      ...(row.comp_query ? { compQuery: row.comp_query } : {}),
    }),
    delivery: row.delivery,
  }
}
