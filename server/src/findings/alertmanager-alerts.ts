import type { Finding, FindingKind } from '@kiln/wire'
import { DEFAULT_TENANT } from '../http/access-policy.js'
import { findingDescription } from './finding-text.js'

/**
 * One alert of Alertmanager's API v2 (`postableAlert` of `POST /api/v2/alerts`), e.g.
 * `{"labels": {"alertname": "KilnCpuRegression", "service": "shop", ...},
 *   "annotations": {"summary": "shop: hot grew ...", ...},
 *   "startsAt": "2026-11-30T10:00:00.000Z", "endsAt": "2026-11-30T10:15:00.000Z",
 *   "generatorURL": "http://kiln:4040/?view=diff&..."}`.
 */
export interface PostableAlert {
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  endsAt: string
  generatorURL: string
}

/** A finding and its tenant, which the API form of a finding leaves out. */
export interface TenantFinding {
  tenant: string
  finding: Finding
}

const ALERT_NAMES: Record<FindingKind, string> = {
  cpu_regression: 'KilnCpuRegression',
  heap_growth: 'KilnHeapGrowth',
}

/**
 * The labels of a finding's alert. Alertmanager tells alerts apart by their label set, so these
 * say what the finding is and never how large it is (no numbers, no times): the same finding
 * gives the same labels run after run. Empty values are left out (in Prometheus' data model an
 * empty label is no label).
 */
export function findingLabels({ tenant, finding }: TenantFinding): Record<string, string> {
  const labels: Record<string, string> = {
    alertname: ALERT_NAMES[finding.kind],
    severity: 'warning',
    service: finding.service,
    kind: finding.kind,
    // The label Kiln's own hooks and links read the profile type from.
    profile_type: finding.type,
  }
  if (finding.version) labels.version = finding.version
  const top = finding.functions[0]?.name
  if (top) labels.function = top
  if (tenant !== DEFAULT_TENANT) labels.tenant = tenant
  return labels
}

/** What a person reads in the notification: free to change between runs. */
export function findingAnnotations(finding: Finding): Record<string, string> {
  const description = findingDescription(finding)
  return {
    summary: finding.title,
    ...(description ? { description } : {}),
    kiln_diff_url: finding.links.diff,
    kiln_flamegraph_url: finding.links.flamegraph,
    kiln_finding_id: finding.id,
  }
}

/**
 * The alert of a finding at `now`, firing until `endsAt` (Unix ms): Alertmanager resolves it by
 * itself once that passes without a refresh, and at once when `endsAt` is now. It starts when
 * the condition began, but not after now (a profile's clock may run ahead of Kiln's), so that it
 * never starts after it ends, which Alertmanager refuses.
 */
export function findingAlert(
  finding: Finding,
  labels: Record<string, string>,
  at: { now: number; endsAt: number },
): PostableAlert {
  return {
    labels,
    annotations: findingAnnotations(finding),
    startsAt: new Date(Math.min(finding.time, at.now)).toISOString(),
    endsAt: new Date(at.endsAt).toISOString(),
    generatorURL: finding.links.diff,
  }
}
