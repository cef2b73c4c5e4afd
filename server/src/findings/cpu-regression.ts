import type { ClickHouseClient } from '@clickhouse/client'
import type { FindingFunction } from '@kiln/wire'
import { hashId } from '../hooks/alert-mapping.js'
import { selectRows } from '../store/select-rows.js'
import type { DetectedFinding } from './finding-model.js'

/** A version with too few CPU profiles in the window is not compared yet: its shares are noise. */
export const MIN_PROFILES_PER_VERSION = 3
/** Functions reported per culprit version at most, largest increase first. */
const MAX_FUNCTIONS = 10

export interface VersionSpan {
  version: string
  /** The label that carries it in this service's series: `service_version` or `version`. */
  label: string
  firstSeen: number
  lastSeen: number
  profiles: number
}

/** Self CPU per function (leaf frame, by name and file) of one version, and its total. */
export interface VersionShares {
  total: number
  self: Map<string, { name: string; file: string; value: number }>
}

export interface RegressionOptions {
  tenant: string
  service: string
  /** The lookback window: versions first seen in it are compared. */
  from: number
  to: number
  /** Increase of share (0.05: 5 points) above which a function has regressed. */
  threshold: number
  /**
   * Versions whose first profile is younger than this (before `to`) wait: a new version's first
   * profiles are its processes' warm-up (JIT compilers on other threads, cold caches), and a
   * finding is reported once. Default 0.
   */
  settleMs?: number
}

/** Versions of a service's profiles (CPU unless `type`) first seen in the window, oldest first. */
export async function listVersions(
  client: ClickHouseClient,
  db: string,
  o: { tenant: string; service: string; from: number; to: number; type?: string },
): Promise<VersionSpan[]> {
  const rows = await selectRows<{
    version: string
    label: string
    first_seen: string
    last_seen: string
    profiles: string
  }>(
    client,
    `SELECT version,
        any(if(labels['service_version'] != '', 'service_version', 'version')) AS label,
        toUnixTimestamp64Milli(min(time_start)) AS first_seen,
        toUnixTimestamp64Milli(max(time_end)) AS last_seen, count() AS profiles
      FROM ${db}.profiles
      WHERE tenant = {tenant:String} AND service = {service:String} AND type = {type:String}
        AND version != ''
        AND time_start >= fromUnixTimestamp64Milli({from:Int64})
        AND time_start < fromUnixTimestamp64Milli({to:Int64})
      GROUP BY version HAVING profiles >= {minProfiles:UInt32}
      ORDER BY first_seen, version`,
    { type: 'cpu', ...o, minProfiles: MIN_PROFILES_PER_VERSION },
  )
  return rows.map((r) => ({
    version: r.version,
    label: r.label,
    firstSeen: Number(r.first_seen),
    lastSeen: Number(r.last_seen),
    profiles: Number(r.profiles),
  }))
}

/**
 * Self CPU per leaf function of one version in the window. The version selects series by their
 * label (`service_version`, else `version`, as ingest reads it); series and stacks are
 * ReplacingMergeTrees, so both are reduced to one row per id before the join.
 */
export async function queryVersionShares(
  client: ClickHouseClient,
  db: string,
  o: { tenant: string; service: string; from: number; to: number; version: string },
): Promise<VersionShares> {
  const rows = await selectRows<{ name: string; file: string; self: string | number }>(
    client,
    `SELECT f.name AS name, f.file AS file, sum(x.v) AS self
      FROM (
        SELECT stack_hash, sum(value) AS v FROM ${db}.samples
        WHERE tenant = {tenant:String} AND service = {service:String} AND type = 'cpu'
          AND time >= fromUnixTimestamp64Milli({from:Int64})
          AND time < fromUnixTimestamp64Milli({to:Int64})
          AND series_id IN (
            SELECT series_id FROM ${db}.series
            WHERE tenant = {tenant:String} AND service = {service:String} AND type = 'cpu'
              AND if(labels['service_version'] != '', labels['service_version'], labels['version'])
                = {version:String})
        GROUP BY stack_hash
      ) AS x
      INNER JOIN (
        SELECT stack_hash, arrayElement(any(functions), -1) AS name,
          arrayElement(any(files), -1) AS file
        FROM ${db}.stacks WHERE tenant = {tenant:String} AND service = {service:String}
        GROUP BY stack_hash
      ) AS f USING (stack_hash)
      GROUP BY name, file`,
    o,
  )
  const self = new Map<string, { name: string; file: string; value: number }>()
  let total = 0
  for (const r of rows) {
    const value = Number(r.self)
    total += value
    self.set(functionKey(r.name, r.file), { name: r.name, file: r.file, value })
  }
  return { total, self }
}

const functionKey = (name: string, file: string): string => `${name}\u0000${file}`

function shareOf(shares: VersionShares, key: string): number {
  return shares.total > 0 ? (shares.self.get(key)?.value ?? 0) / shares.total : 0
}

/**
 * Functions whose share of CPU grew by more than the threshold between the oldest version of the
 * window and the newest (with two versions: the previous and the new one), each attributed to
 * the version at which its share changed. That version is found by bisection over the versions
 * in between, oldest first: a version whose share is past the midpoint of the two ends has the
 * change, else a later one does; O(log n) versions are queried. Functions are grouped into one
 * finding per culprit version, whose id is (tenant, service, culprit version): later runs find the
 * same id and do not report it again.
 */
export async function detectCpuRegressions(
  client: ClickHouseClient,
  db: string,
  o: RegressionOptions,
): Promise<DetectedFinding[]> {
  const settled = o.to - (o.settleMs ?? 0)
  const versions = (await listVersions(client, db, o)).filter((v) => v.firstSeen <= settled)
  if (versions.length < 2) return []
  const cache = new Map<string, Promise<VersionShares>>()
  const shares = (v: VersionSpan): Promise<VersionShares> => {
    let p = cache.get(v.version)
    if (!p) {
      p = queryVersionShares(client, db, { ...o, version: v.version })
      cache.set(v.version, p)
    }
    return p
  }
  const first = versions[0]!
  const last = versions[versions.length - 1]!
  const [a, b] = await Promise.all([shares(first), shares(last)])
  if (a.total <= 0 || b.total <= 0) return []

  const grown = [...b.self.keys()]
    .map((key) => ({ key, increase: shareOf(b, key) - shareOf(a, key) }))
    .filter((g) => g.increase > o.threshold)
    .sort((x, y) => y.increase - x.increase || (x.key < y.key ? -1 : 1))
    .slice(0, MAX_FUNCTIONS)

  const byCulprit = new Map<number, FindingFunction[]>()
  for (const { key } of grown) {
    const midpoint = (shareOf(a, key) + shareOf(b, key)) / 2
    let lo = 0
    let hi = versions.length - 1
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1
      if (shareOf(await shares(versions[mid]!), key) > midpoint) hi = mid
      else lo = mid
    }
    const [before, after] = await Promise.all([shares(versions[lo]!), shares(versions[hi]!)])
    const fn = b.self.get(key)!
    const list = byCulprit.get(hi) ?? []
    list.push({
      name: fn.name,
      file: fn.file,
      base: before.self.get(key)?.value ?? 0,
      comp: after.self.get(key)?.value ?? 0,
      baseShare: shareOf(before, key),
      compShare: shareOf(after, key),
    })
    byCulprit.set(hi, list)
  }

  return [...byCulprit.entries()].map(([index, functions]) => {
    const culprit = versions[index]!
    const previous = versions[index - 1]!
    const top = functions[0]!
    const points = (f: FindingFunction) => ((f.compShare! - f.baseShare!) * 100).toFixed(1)
    const title =
      functions.length === 1
        ? `${o.service}: ${top.name} grew from ${pct(top.baseShare!)} to ${pct(top.compShare!)} of CPU in version ${culprit.version}`
        : `${o.service}: ${functions.length} functions grew in version ${culprit.version}: ` +
          functions.map((f) => `${f.name} (+${points(f)} pts)`).join(', ')
    return {
      id: hashId(o.tenant, 'cpu_regression', o.service, culprit.version),
      tenant: o.tenant,
      service: o.service,
      kind: 'cpu_regression',
      type: 'cpu',
      title,
      time: culprit.firstSeen,
      window: versionWindow(culprit),
      baseline: versionWindow(previous),
      version: culprit.version,
      previousVersion: previous.version,
      versionsCompared: [first.version, last.version],
      baseQuery: selector(previous),
      compQuery: selector(culprit),
      functions,
      stats: {
        threshold: o.threshold,
        shareIncrease: top.compShare! - top.baseShare!,
        versionsInWindow: versions.length,
      },
    } satisfies DetectedFinding
  })
}

/** `[first profile, end of last profile)` of a version. */
function versionWindow(v: VersionSpan): { from: number; to: number } {
  return { from: v.firstSeen, to: Math.max(v.lastSeen, v.firstSeen + 1) }
}

/** The label selector of a version, e.g. `{service_version="2"}`, escaped as PromQL strings are. */
function selector(v: VersionSpan): string {
  return `{${v.label}=${JSON.stringify(v.version)}}`
}

const pct = (share: number): string => `${(share * 100).toFixed(1)}%`
