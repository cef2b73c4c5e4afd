import type { ClickHouseClient } from '@clickhouse/client'
import type { AlertRow } from './rows.js'
import { selectRows } from './select-rows.js'
import { wrapStoreError } from './store-errors.js'

/** Store alerts; resolves once they are written (the hook answers only then). */
export async function insertAlerts(
  client: ClickHouseClient,
  db: string,
  rows: AlertRow[],
): Promise<void> {
  if (rows.length === 0) return
  try {
    await client.insert({
      table: `${db}.alerts`,
      values: rows as unknown as Record<string, unknown>[],
      format: 'JSONEachRow',
    })
  } catch (error) {
    throw wrapStoreError(error)
  }
}

export interface AlertFilter {
  tenant: string
  service?: string | undefined
  status?: 'firing' | 'resolved' | undefined
  /** Alerts whose window overlaps `[from, to)`. */
  from: number
  to: number
  limit: number
}

/**
 * Times leave the store as Unix ms under `*_ms` names: an alias named like its column would
 * replace the column in WHERE and ORDER BY too.
 */
type StoredAlert = Omit<
  AlertRow,
  'starts_at' | 'ends_at' | 'window_from' | 'window_to' | 'received_at'
> & {
  starts_at_ms: string
  ends_at_ms: string | null
  window_from_ms: string
  window_to_ms: string
  received_at_ms: string
}

/**
 * The stored status of each alert of `ids` that is stored (the latest receipt of each): a late
 * firing copy of a resolved alert must not undo its resolution.
 */
export async function storedStatuses(
  client: ClickHouseClient,
  db: string,
  tenant: string,
  ids: readonly string[],
): Promise<Map<string, AlertRow>> {
  if (ids.length === 0) return new Map()
  const rows = await queryAlerts(
    client,
    db,
    'tenant = {tenant:String} AND alert_id IN {ids:Array(String)}',
    {
      tenant,
      ids: [...new Set(ids)],
    },
  )
  return new Map(rows.map((r) => [r.alert_id, r]))
}

/**
 * Alerts overlapping a window, the latest receipt of each, newest start first. A firing alert
 * without an end overlaps up to now while it was heard of within `firingStaleMs`.
 */
export async function listAlerts(
  client: ClickHouseClient,
  db: string,
  filter: AlertFilter & { firingStaleMs: number },
): Promise<AlertRow[]> {
  const conditions = ['tenant = {tenant:String}']
  if (filter.service !== undefined) conditions.push('service = {service:String}')
  if (filter.status !== undefined) conditions.push('status = {status:String}')
  return queryAlerts(
    client,
    db,
    `${conditions.join(' AND ')}
        AND window_from < fromUnixTimestamp64Milli({to:Int64})
        AND (window_to >= fromUnixTimestamp64Milli({from:Int64})
          OR (status = 'firing' AND ends_at IS NULL
            AND received_at >= fromUnixTimestamp64Milli({from:Int64} - {firingStaleMs:Int64})))`,
    { ...filter },
    'ORDER BY starts_at DESC, alert_id LIMIT {limit:UInt32}',
  )
}

async function queryAlerts(
  client: ClickHouseClient,
  db: string,
  where: string,
  params: Record<string, unknown>,
  tail = '',
): Promise<AlertRow[]> {
  const rows = await selectRows<StoredAlert>(
    client,
    `SELECT tenant, service, toUnixTimestamp64Milli(starts_at) AS starts_at_ms, alert_id, source,
        status, name, type, toUnixTimestamp64Milli(ends_at) AS ends_at_ms,
        toUnixTimestamp64Milli(window_from) AS window_from_ms,
        toUnixTimestamp64Milli(window_to) AS window_to_ms, fingerprint, labels, annotations,
        generator_url, toUnixTimestamp64Milli(received_at) AS received_at_ms,
        selector, mapped_by, mapping_warning, urls, alert_values
      FROM ${db}.alerts FINAL
      WHERE ${where}
      ${tail}`,
    params,
  )
  return rows.map(
    ({ starts_at_ms, ends_at_ms, window_from_ms, window_to_ms, received_at_ms, ...r }) => ({
      ...r,
      starts_at: Number(starts_at_ms),
      ends_at: ends_at_ms === null ? null : Number(ends_at_ms),
      window_from: Number(window_from_ms),
      window_to: Number(window_to_ms),
      received_at: Number(received_at_ms),
    }),
  )
}
