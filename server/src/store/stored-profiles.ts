import { createHash } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { wrapStoreError } from './store-errors.js'

/**
 * The id of the `profiles` row of one profile type of one upload: a UUID derived from the
 * upload's key, so the same upload sent again (a retry after a timeout, a 503 or a lost answer)
 * has the same ids and is recognised.
 */
export function profileIdOf(uploadKey: string, type: string): string {
  const hex = createHash('sha256').update(`${uploadKey}\u0000${type}`).digest('hex')
  // RFC 9562 version 8 (custom) with the RFC variant.
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

/**
 * How many of `profileIds` are stored. A `profiles` row is written last, after its samples
 * (batch-writer.ts), so a stored id means the whole profile is in.
 */
export async function countStoredProfiles(
  client: ClickHouseClient,
  database: string,
  key: { tenant: string; service: string; timeStartMs: number; profileIds: readonly string[] },
): Promise<number> {
  try {
    const result = await client.query({
      query: `SELECT count() AS n FROM ${database}.profiles
        WHERE tenant = {tenant:String} AND service = {service:String}
          AND time_start = fromUnixTimestamp64Milli({timeStart:Int64}, 'UTC')
          AND profile_id IN {ids:Array(UUID)}`,
      query_params: {
        tenant: key.tenant,
        service: key.service,
        timeStart: key.timeStartMs,
        ids: key.profileIds,
      },
      format: 'JSONEachRow',
    })
    const [row] = await result.json<{ n: string | number }>()
    return Number(row?.n ?? 0)
  } catch (error) {
    throw wrapStoreError(error)
  }
}
