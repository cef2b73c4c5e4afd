import type { ClickHouseClient } from '@clickhouse/client'
import { selectRows } from '../store/select-rows.js'

/**
 * Tenants and services with profiles of `type` in a window (of one tenant when given): what a
 * detector has to look at. With `minVersions`, only services with that many distinct versions.
 */
export async function profiledServices(
  client: ClickHouseClient,
  db: string,
  w: { from: number; to: number; tenant?: string | undefined },
  type: string,
  minVersions = 0,
): Promise<{ tenant: string; service: string }[]> {
  return selectRows(
    client,
    `SELECT tenant, service FROM ${db}.profiles
      WHERE type = {type:String}
        ${minVersions > 0 ? "AND version != ''" : ''}
        ${w.tenant === undefined ? '' : 'AND tenant = {tenant:String}'}
        AND time_start >= fromUnixTimestamp64Milli({from:Int64})
        AND time_start < fromUnixTimestamp64Milli({to:Int64})
      GROUP BY tenant, service
      ${minVersions > 0 ? 'HAVING uniqExact(version) >= {minVersions:UInt32}' : ''}
      ORDER BY tenant, service`,
    { ...w, type, minVersions },
  )
}
