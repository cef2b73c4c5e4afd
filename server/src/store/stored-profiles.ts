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
  /**
   * Types with `trace_samples` rows of the upload stored (written after `samples`, before
   * `profiles`); looked up only for uploads with samples stored and profiles missing.
   */
  traceSamples: Set<string>
}

/** What names an upload's rows in the store. */
export interface UploadRef {
  tenant: string
  service: string
  /** The start time of its profiles and samples, Unix ms. */
  timeStartMs: number
  /** Its `profiles` rows' ids. */
  profileIds: readonly string[]
  /** Its samples' `upload` (`uploadHashOf`). */
  upload: string
  /**
   * The client says this is its first attempt at the upload (`x-kiln-upload-attempt: 1` with an
   * upload id): nothing of it can be stored, and the store is not asked.
   */
  firstAttempt?: boolean
}

/**
 * Which parts of each upload are stored: its `profiles` rows (by id) and its sample rows (by
 * `upload`), both at the upload's start time, for many uploads in one query (the batch writer
 * asks once per flush). A first attempt finds nothing; a re-send finds everything (answered
 * without storing again) or, when the store went away between the inserts of samples and
 * profiles, the samples alone (only the `profiles` rows are then written). The answer is keyed
 * by `upload`; uploads with nothing stored are absent.
 */
export async function storedUploads(
  client: ClickHouseClient,
  database: string,
  refs: readonly UploadRef[],
): Promise<Map<string, StoredParts>> {
  const found = new Map<string, StoredParts>()
  if (refs.length === 0) return found
  const byProfileId = new Map<string, UploadRef>()
  for (const ref of refs) for (const id of ref.profileIds) byProfileId.set(id, ref)
  const byUpload = new Map(refs.map((ref) => [ref.upload, ref]))
  const distinct = (values: Iterable<string | number>) => [...new Set(values)]
  // Tenants, services and times select the rows' ranges of the sort key; profile ids and
  // uploads, each unique to one upload, pick its rows in them. A row matches only the upload of
  // its own tenant and service (checked below).
  const where = (time: string) => `tenant IN {tenants:Array(String)}
          AND service IN {services:Array(String)}
          AND ${time} IN (SELECT fromUnixTimestamp64Milli(arrayJoin({times:Array(Int64)}), 'UTC'))`
  try {
    const result = await client.query({
      query: `SELECT 'profiles' AS part, tenant, service, toString(profile_id) AS id, type
        FROM ${database}.profiles
        WHERE ${where('time_start')} AND profile_id IN {ids:Array(UUID)}
        GROUP BY tenant, service, id, type
        UNION ALL
        SELECT 'samples' AS part, tenant, service, toString(upload) AS id, type
        FROM ${database}.samples
        WHERE ${where('time')} AND upload IN {uploads:Array(UInt64)}
        GROUP BY tenant, service, id, type`,
      query_params: {
        tenants: distinct(refs.map((r) => r.tenant)),
        services: distinct(refs.map((r) => r.service)),
        times: distinct(refs.map((r) => r.timeStartMs)),
        ids: [...byProfileId.keys()],
        uploads: [...byUpload.keys()].map(BigInt),
      },
      format: 'JSONEachRow',
    })
    type Row = {
      part: 'profiles' | 'samples'
      tenant: string
      service: string
      id: string
      type: string
    }
    for (const row of await result.json<Row>()) {
      const ref = row.part === 'profiles' ? byProfileId.get(row.id) : byUpload.get(row.id)
      if (ref === undefined || ref.tenant !== row.tenant || ref.service !== row.service) continue
      let parts = found.get(ref.upload)
      if (parts === undefined) {
        parts = { profiles: new Set(), samples: new Set(), traceSamples: new Set() }
        found.set(ref.upload, parts)
      }
      parts[row.part].add(row.type)
    }
    // Half-stored uploads only (rare: the store went away between two inserts): whether their
    // trace samples went in too. The table is sorted by trace, so this reads the window's days.
    const halfStored = refs.filter((ref) => {
      const parts = found.get(ref.upload)
      return (
        parts !== undefined && parts.samples.size > 0 && parts.profiles.size < ref.profileIds.length
      )
    })
    if (halfStored.length > 0) {
      const traced = await client.query({
        query: `SELECT tenant, service, toString(upload) AS id, type
          FROM ${database}.trace_samples
          WHERE ${where('time')} AND upload IN {uploads:Array(UInt64)}
          GROUP BY tenant, service, id, type`,
        query_params: {
          tenants: distinct(halfStored.map((r) => r.tenant)),
          services: distinct(halfStored.map((r) => r.service)),
          times: distinct(halfStored.map((r) => r.timeStartMs)),
          uploads: halfStored.map((r) => BigInt(r.upload)),
        },
        format: 'JSONEachRow',
      })
      for (const row of await traced.json<Omit<Row, 'part'>>()) {
        const ref = byUpload.get(row.id)
        if (ref === undefined || ref.tenant !== row.tenant || ref.service !== row.service) continue
        found.get(ref.upload)?.traceSamples.add(row.type)
      }
    }
    return found
  } catch (error) {
    throw wrapStoreError(error)
  }
}
