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
 * The stored form of each alert of `ids` that is stored: a late firing copy of a resolved alert
 * must not undo its resolution, and a known alert keeps its service.
 */
export async function storedAlerts(
  client: ClickHouseClient,
  db: string,
  tenant: string,
  ids: readonly string[],
): Promise<Map<string, AlertRow>> {
  if (ids.length === 0) return new Map()
  const rows = await queryAlerts(client, db, {
    inner: 'has({ids:Array(String)}, alert_id)',
    outer: '1',
    params: { tenant, ids: [...new Set(ids)] },
  })
  return new Map(rows.map((r) => [r.alert_id, r]))
}

/**
 * Alerts whose active time overlaps a window, newest start first. A firing alert without an end
 * overlaps up to now while it was heard of within `firingStaleMs`.
 */
export async function listAlerts(
  client: ClickHouseClient,
  db: string,
  filter: AlertFilter & { firingStaleMs: number },
): Promise<AlertRow[]> {
  const conditions = [
    'least(starts_at_ms, window_from_ms) < {to:Int64}',
    `(window_to_ms >= {from:Int64}
      OR (status = 'firing' AND ends_at_ms IS NULL
        AND received_at_ms >= {from:Int64} - {firingStaleMs:Int64}))`,
  ]
  if (filter.service !== undefined) conditions.push('service = {service:String}')
  if (filter.status !== undefined) conditions.push('status = {status:String}')
  return queryAlerts(client, db, {
    // An alert's start is part of its identity: every row of it starts at the same time.
    inner: 'starts_at < fromUnixTimestamp64Milli({to:Int64})',
    outer: conditions.join(' AND '),
    params: { ...filter },
    tail: 'ORDER BY starts_at_ms DESC, alert_id LIMIT {limit:UInt32}',
  })
}

/**
 * One row per alert of the tenant: its resolution if one was ever received, else its latest
 * receipt. Resolution wins whatever the order of receipt (an HA peer's firing copy, a retry,
 * a firing and a resolved copy in one request), and whatever service an earlier receipt was
 * mapped to: rows are told apart by `alert_id` alone, not by the table's key.
 */
async function queryAlerts(
  client: ClickHouseClient,
  db: string,
  q: { inner: string; outer: string; params: Record<string, unknown>; tail?: string },
): Promise<AlertRow[]> {
  const rows = await selectRows<StoredAlert>(
    client,
    `SELECT * FROM (
      SELECT tenant, service, toUnixTimestamp64Milli(starts_at) AS starts_at_ms, alert_id, source,
          status, name, type, toUnixTimestamp64Milli(ends_at) AS ends_at_ms,
          toUnixTimestamp64Milli(window_from) AS window_from_ms,
          toUnixTimestamp64Milli(window_to) AS window_to_ms, fingerprint, labels, annotations,
          generator_url, toUnixTimestamp64Milli(received_at) AS received_at_ms,
          selector, mapped_by, mapping_warning, urls, alert_values
        FROM ${db}.alerts
        WHERE tenant = {tenant:String} AND ${q.inner}
        ORDER BY alert_id, status = 'resolved' DESC, received_at DESC
        LIMIT 1 BY alert_id
      )
      WHERE ${q.outer}
      ${q.tail ?? ''}`,
    q.params,
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
