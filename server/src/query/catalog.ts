import type { RolledHours } from '../store/hourly-rollup.js'
import type { ClickHouseClient } from '@clickhouse/client'
import {
  isProfileTypeName,
  PROFILE_TYPES,
  type LabelValuesResponse,
  type LabelsResponse,
  type ProfileTypeName,
  type ProfileTypesResponse,
  type ServicesResponse,
  type VersionsResponse,
} from '@kiln/wire'
import type { LabelMatcher } from './selector.js'
import { selectRows } from '../store/select-rows.js'
import { splitWindow } from './rollup.js'
import { labelConditions, rollupTable, type Sql } from './window-sql.js'

/** Services with their profile types and the time of their newest profile. */
export async function queryServices(
  client: ClickHouseClient,
  db: string,
  tenant: string,
): Promise<ServicesResponse> {
  const rows = await selectRows<{ service: string; types: string[]; last_seen: string }>(
    client,
    `SELECT service, arraySort(groupUniqArray(type)) AS types,
        toUnixTimestamp64Milli(max(time_end)) AS last_seen
      FROM ${db}.profiles WHERE tenant = {tenant:String}
      GROUP BY service ORDER BY service`,
    { tenant },
  )
  return {
    services: rows.map((r) => ({ name: r.service, types: r.types, lastSeen: Number(r.last_seen) })),
  }
}

/** The profile types a service has, with the time of their newest profile. */
export async function queryProfileTypes(
  client: ClickHouseClient,
  db: string,
  tenant: string,
  service: string,
): Promise<ProfileTypesResponse> {
  const rows = await selectRows<{ type: string; last_seen: string }>(
    client,
    `SELECT type, toUnixTimestamp64Milli(max(time_end)) AS last_seen
      FROM ${db}.profiles WHERE tenant = {tenant:String} AND service = {service:String}
      GROUP BY type ORDER BY type`,
    { tenant, service },
  )
  return {
    service,
    types: rows.flatMap((r) => {
      if (!isProfileTypeName(r.type)) return []
      const { name, unit, aggregation, description } = PROFILE_TYPES[r.type]
      return [{ name, unit, aggregation, description, lastSeen: Number(r.last_seen) }]
    }),
  }
}

export interface SeriesScope {
  tenant: string
  service: string
  /** Only series of this type; every type when absent. */
  type?: ProfileTypeName | undefined
  /** Unix ms, `[from, to)`: only series with samples in the window. */
  from: number
  to: number
  selector: readonly LabelMatcher[]
  /** The whole hours the rollup answers for (see `QueryWindow`); absent: read `samples` only. */
  rolledHours?: RolledHours | undefined
}

/**
 * The series of a service that have samples in a window (of a type, matching a selector when
 * given). Label names and values come from the series that were really sampled in the window,
 * including labels set per sample, which the per-upload `profiles` rows do not carry. Whole
 * hours are looked up in the rollup, whose snapshot rows (`stack_hash = 0`) list each series
 * sampled in an hour once.
 */
function seriesInWindow(db: string, scope: SeriesScope): Sql {
  const labels = labelConditions(scope.selector, 'm_')
  const type = scope.type === undefined ? '' : ' AND type = {type:String}'
  const where = `tenant = {tenant:String} AND service = {service:String}${type}`
  const split = splitWindow(scope, scope.rolledHours)
  const params: Record<string, unknown> = {
    tenant: scope.tenant,
    service: scope.service,
    ...(scope.type === undefined ? {} : { type: scope.type }),
    ...labels.params,
  }
  const sources: string[] = []
  if (split.raw.length > 0) {
    const ranges = split.raw.map((r, i) => {
      params[`from${i}`] = r.from
      params[`to${i}`] = r.to
      return `(time >= fromUnixTimestamp64Milli({from${i}:Int64})
              AND time < fromUnixTimestamp64Milli({to${i}:Int64}))`
    })
    sources.push(`SELECT series_id FROM ${db}.samples
          WHERE ${where} AND (${ranges.join(' OR ')})`)
  }
  if (split.rolled) {
    params.hfrom = split.rolled.from / 1000
    params.hto = split.rolled.to / 1000
    params.runs = split.rolled.runs.map(BigInt)
    sources.push(`SELECT series_id FROM ${rollupTable(db)}
          WHERE ${where} AND bucket >= toDateTime({hfrom:UInt32}, 'UTC')
            AND bucket < toDateTime({hto:UInt32}, 'UTC') AND run IN {runs:Array(UInt64)}
            AND stack_hash = 0`)
  }
  return {
    text: `FROM ${db}.series
      WHERE ${where}${labels.text}
        AND series_id IN (${sources.join(' UNION ALL ')})`,
    params,
  }
}

/** Label names of the series sampled in a window. */
export async function queryLabelNames(
  client: ClickHouseClient,
  db: string,
  scope: SeriesScope,
): Promise<LabelsResponse> {
  const series = seriesInWindow(db, scope)
  const rows = await selectRows<{ name: string }>(
    client,
    `SELECT DISTINCT arrayJoin(mapKeys(labels)) AS name ${series.text} ORDER BY name`,
    series.params,
  )
  return { service: scope.service, from: scope.from, to: scope.to, names: rows.map((r) => r.name) }
}

/**
 * The distinct label sets of the series sampled in a window, with their type, projected on
 * `names` when given (a label a series lacks is left out), at most `limit` of them.
 */
export async function querySeriesLabels(
  client: ClickHouseClient,
  db: string,
  scope: SeriesScope & { names?: readonly string[] | undefined; limit: number },
): Promise<{ type: ProfileTypeName; labels: Record<string, string> }[]> {
  const series = seriesInWindow(db, scope)
  const labels =
    scope.names === undefined
      ? 'labels'
      : 'mapFilter((k, v) -> has({names:Array(String)}, k), labels)'
  const rows = await selectRows<{ type: string; labels: Record<string, string> }>(
    client,
    `SELECT DISTINCT type, ${labels} AS labels ${series.text} LIMIT {limit:UInt32}`,
    { ...series.params, names: scope.names ?? [], limit: scope.limit },
  )
  return rows.flatMap((r) =>
    isProfileTypeName(r.type) ? [{ type: r.type, labels: r.labels }] : [],
  )
}

/** Values of one label over the series sampled in a window, sorted, at most `limit`. */
export async function queryLabelValues(
  client: ClickHouseClient,
  db: string,
  scope: SeriesScope & { name: string; limit: number },
): Promise<LabelValuesResponse> {
  const series = seriesInWindow(db, scope)
  const rows = await selectRows<{ value: string }>(
    client,
    `SELECT DISTINCT labels[{name:String}] AS value ${series.text}
        AND mapContains(labels, {name:String})
      ORDER BY value LIMIT {limit:UInt32}`,
    { ...series.params, name: scope.name, limit: scope.limit + 1 },
  )
  return {
    service: scope.service,
    name: scope.name,
    from: scope.from,
    to: scope.to,
    values: rows.slice(0, scope.limit).map((r) => r.value),
    truncated: rows.length > scope.limit,
  }
}

/**
 * Versions of a service with the first and last time a profile of theirs was seen: the deploy
 * markers of the timeline. The version is the `service_version` (or `version`) label, stored on
 * each `profiles` row at ingest.
 */
export async function queryVersions(
  client: ClickHouseClient,
  db: string,
  tenant: string,
  service: string,
): Promise<VersionsResponse> {
  const rows = await selectRows<{
    version: string
    first_seen: string
    last_seen: string
    profiles: string
  }>(
    client,
    `SELECT version, toUnixTimestamp64Milli(min(time_start)) AS first_seen,
        toUnixTimestamp64Milli(max(time_end)) AS last_seen, count() AS profiles
      FROM ${db}.profiles
      WHERE tenant = {tenant:String} AND service = {service:String} AND version != ''
      GROUP BY version ORDER BY first_seen, version`,
    { tenant, service },
  )
  return {
    service,
    versions: rows.map((r) => ({
      version: r.version,
      firstSeen: Number(r.first_seen),
      lastSeen: Number(r.last_seen),
      profiles: Number(r.profiles),
    })),
  }
}
