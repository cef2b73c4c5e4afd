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

/** The `upload` of an upload's sample rows: 64 bits of its key's SHA-256, as a decimal string. */
export function uploadHashOf(uploadKey: string): string {
  return createHash('sha256').update(uploadKey).digest().readBigUInt64LE(0).toString()
}

/** What of one upload is stored already, by profile type. */
export interface StoredParts {
  /** Types whose `profiles` row is stored: those are complete (it is written last). */
  profiles: Set<string>
  /** Types with sample rows of the upload stored (all of them: one insert writes them). */
  samples: Set<string>
}

/**
 * Which parts of an upload are stored: its `profiles` rows (by id) and its sample rows (by
 * `upload`), both at the upload's start time. A first attempt finds nothing; a re-send finds
 * everything (answered without storing again) or, when the store went away between the inserts
 * of samples and profiles, the samples alone (only the `profiles` rows are then written).
 */
export async function storedParts(
  client: ClickHouseClient,
  database: string,
  key: {
    tenant: string
    service: string
    timeStartMs: number
    profileIds: readonly string[]
    upload: string
  },
): Promise<StoredParts> {
  try {
    const result = await client.query({
      query: `SELECT 'profiles' AS part, type FROM ${database}.profiles
        WHERE tenant = {tenant:String} AND service = {service:String}
          AND time_start = fromUnixTimestamp64Milli({timeStart:Int64}, 'UTC')
          AND profile_id IN {ids:Array(UUID)}
        GROUP BY type
        UNION ALL
        SELECT 'samples' AS part, type FROM ${database}.samples
        WHERE tenant = {tenant:String} AND service = {service:String}
          AND time = fromUnixTimestamp64Milli({timeStart:Int64}, 'UTC')
          AND upload = {upload:UInt64}
        GROUP BY type`,
      query_params: {
        tenant: key.tenant,
        service: key.service,
        timeStart: key.timeStartMs,
        ids: key.profileIds,
        upload: key.upload,
      },
      format: 'JSONEachRow',
    })
    const stored: StoredParts = { profiles: new Set(), samples: new Set() }
    for (const row of await result.json<{ part: 'profiles' | 'samples'; type: string }>()) {
      stored[row.part].add(row.type)
    }
    return stored
  } catch (error) {
    throw wrapStoreError(error)
  }
}
