import type { ClickHouseClient } from '@clickhouse/client'
import type { FindingKind } from '@kiln/wire'
import type { FindingRow } from './rows.js'
import { selectRows } from './select-rows.js'
import { wrapStoreError } from './store-errors.js'

/** Findings that were not delivered are retried by this many later runs, then given up. */
export const MAX_DELIVERY_ATTEMPTS = 10

/**
 * Times leave the store as Unix ms under `*_ms` names: an alias named like its column would
 * replace the column in WHERE and ORDER BY too.
 */
const COLUMNS = `tenant, service, toUnixTimestamp64Milli(time) AS time_ms, finding_id, kind, type, title,
  version, previous_version, versions_compared,
  toUnixTimestamp64Milli(window_from) AS window_from_ms,
  toUnixTimestamp64Milli(window_to) AS window_to_ms,
  toUnixTimestamp64Milli(baseline_from) AS baseline_from_ms,
  toUnixTimestamp64Milli(baseline_to) AS baseline_to_ms, base_query, comp_query, functions, stats,
  toUnixTimestamp64Milli(detected_at) AS detected_at_ms,
  toUnixTimestamp64Milli(updated_at) AS updated_at_ms, delivery, pending_urls, delivery_attempts`

type TimeColumn =
  | 'time'
  | 'window_from'
  | 'window_to'
  | 'baseline_from'
  | 'baseline_to'
  | 'detected_at'
  | 'updated_at'
type StoredRow = Record<Exclude<keyof FindingRow, TimeColumn> | `${TimeColumn}_ms`, unknown>

function fromStored(r: StoredRow): FindingRow {
  return {
    tenant: String(r.tenant),
    service: String(r.service),
    time: Number(r.time_ms),
    finding_id: String(r.finding_id),
    kind: r.kind as FindingKind,
    type: String(r.type),
    title: String(r.title),
    version: String(r.version),
    previous_version: String(r.previous_version),
    versions_compared: r.versions_compared as string[],
    window_from: Number(r.window_from_ms),
    window_to: Number(r.window_to_ms),
    baseline_from: Number(r.baseline_from_ms),
    baseline_to: Number(r.baseline_to_ms),
    base_query: String(r.base_query),
    comp_query: String(r.comp_query),
    functions: String(r.functions),
    stats: Object.fromEntries(
      Object.entries(r.stats as Record<string, number | string>).map(([k, v]) => [k, Number(v)]),
    ),
    detected_at: Number(r.detected_at_ms),
    updated_at: Number(r.updated_at_ms),
    delivery: r.delivery as FindingRow['delivery'],
    pending_urls: r.pending_urls as string[],
    delivery_attempts: Number(r.delivery_attempts),
  }
}

/** Insert new findings, or new versions of stored ones (same key, later `updated_at`). */
export async function writeFindings(
  client: ClickHouseClient,
  db: string,
  rows: FindingRow[],
): Promise<void> {
  if (rows.length === 0) return
  try {
    await client.insert({
      table: `${db}.findings`,
      values: rows as unknown as Record<string, unknown>[],
      format: 'JSONEachRow',
    })
  } catch (error) {
    throw wrapStoreError(error)
  }
}

/** The stored findings among `ids` of a tenant and service (their last version). */
export async function storedFindings(
  client: ClickHouseClient,
  db: string,
  key: { tenant: string; service: string },
  ids: string[],
): Promise<FindingRow[]> {
  if (ids.length === 0) return []
  const rows = await selectRows<StoredRow>(
    client,
    `SELECT ${COLUMNS} FROM ${db}.findings FINAL
      WHERE tenant = {tenant:String} AND service = {service:String}
        AND finding_id IN {ids:Array(String)}
      ORDER BY finding_id`,
    { ...key, ids },
  )
  return rows.map(fromStored)
}

/** The stored finding of a kind whose window ends last, for a tenant and service. */
export async function latestFinding(
  client: ClickHouseClient,
  db: string,
  key: { tenant: string; service: string; kind: FindingKind },
): Promise<FindingRow | undefined> {
  const rows = await selectRows<StoredRow>(
    client,
    `SELECT ${COLUMNS} FROM ${db}.findings FINAL
      WHERE tenant = {tenant:String} AND service = {service:String} AND kind = {kind:String}
      ORDER BY window_to DESC, finding_id LIMIT 1`,
    key,
  )
  return rows[0] === undefined ? undefined : fromStored(rows[0])
}

export interface FindingFilter {
  tenant: string
  service?: string | undefined
  kind?: FindingKind | undefined
  /** Findings whose span (`time` to the end of `window`) overlaps `[from, to)`. */
  from: number
  to: number
  limit: number
}

/** Findings overlapping a window, newest first. */
export async function listFindings(
  client: ClickHouseClient,
  db: string,
  filter: FindingFilter,
): Promise<FindingRow[]> {
  const conditions = ['tenant = {tenant:String}']
  if (filter.service !== undefined) conditions.push('service = {service:String}')
  if (filter.kind !== undefined) conditions.push('kind = {kind:String}')
  const rows = await selectRows<StoredRow>(
    client,
    `SELECT ${COLUMNS} FROM ${db}.findings FINAL
      WHERE ${conditions.join(' AND ')}
        AND time < fromUnixTimestamp64Milli({to:Int64})
        AND window_to >= fromUnixTimestamp64Milli({from:Int64})
      ORDER BY time DESC, finding_id LIMIT {limit:UInt32}`,
    { ...filter },
  )
  return rows.map(fromStored)
}

/** Findings some configured webhook has not received yet, oldest first. */
export async function undeliveredFindings(
  client: ClickHouseClient,
  db: string,
  filter: { tenant?: string | undefined; since: number; limit: number },
): Promise<FindingRow[]> {
  const rows = await selectRows<StoredRow>(
    client,
    `SELECT ${COLUMNS} FROM ${db}.findings FINAL
      WHERE ${filter.tenant === undefined ? '' : 'tenant = {tenant:String} AND '}
        delivery IN ('pending', 'failed') AND notEmpty(pending_urls)
        AND delivery_attempts < {maxAttempts:UInt16}
        AND detected_at >= fromUnixTimestamp64Milli({since:Int64})
      ORDER BY detected_at, finding_id LIMIT {limit:UInt32}`,
    { ...filter, maxAttempts: MAX_DELIVERY_ATTEMPTS },
  )
  return rows.map(fromStored)
}
