import type { ClickHouseClient } from '@clickhouse/client'
import type { ServicesResponse } from '@kiln/wire'

/** Services with their profile types and the time of their newest profile. */
export async function queryServices(
  client: ClickHouseClient,
  db: string,
  tenant: string,
): Promise<ServicesResponse> {
  const result = await client.query({
    query: `SELECT service, arraySort(groupUniqArray(type)) AS types,
        toUnixTimestamp64Milli(max(time_end)) AS last_seen
      FROM ${db}.profiles WHERE tenant = {tenant:String}
      GROUP BY service ORDER BY service`,
    query_params: { tenant },
    format: 'JSONEachRow',
  })
  const rows = await result.json<{ service: string; types: string[]; last_seen: string }>()
  return {
    services: rows.map((r) => ({ name: r.service, types: r.types, lastSeen: Number(r.last_seen) })),
  }
}
