import type { ClickHouseClient } from '@clickhouse/client'
import { selectRows } from './select-rows.js'

/**
 * The instances of a service that checked in since `sinceMs` (Unix ms), sorted: what the
 * schedule ranks. Read from the store, so every server sees the same list.
 */
export async function liveInstances(
  client: ClickHouseClient,
  database: string,
  key: { tenant: string; service: string; sinceMs: number },
): Promise<string[]> {
  const rows = await selectRows<{ instance: string }>(
    client,
    `SELECT DISTINCT instance FROM ${database}.agent_checkins
      WHERE tenant = {tenant:String} AND service = {service:String}
        AND time >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
      ORDER BY instance`,
    { tenant: key.tenant, service: key.service, since: key.sinceMs },
  )
  return rows.map((r) => r.instance)
}
