import { PROFILE_TYPES, type ProfileTypeName } from '@kiln/wire'

export interface WindowParams {
  tenant: string
  service: string
  type: ProfileTypeName
  /** Unix ms, inclusive. */
  from: number
  /** Unix ms, exclusive. */
  to: number
}

/** The WHERE clause selecting a window's samples; values are bound server-side. */
export const SAMPLES_IN_WINDOW = `tenant = {tenant:String} AND service = {service:String}
  AND type = {type:String}
  AND time >= fromUnixTimestamp64Milli({from:Int64}) AND time < fromUnixTimestamp64Milli({to:Int64})`

/**
 * `SELECT stack_hash, v` over a window, aggregated as the type demands: cumulative types sum;
 * gauge types (heap in use) average each series over its snapshots in the window, then sum
 * across series, so ten snapshots of a 100 MB heap read as 100 MB, not 1 GB.
 */
export function stackValuesSql(db: string, type: ProfileTypeName): string {
  if (PROFILE_TYPES[type].aggregation === 'cumulative') {
    return `SELECT stack_hash, sum(value) AS v FROM ${db}.samples
      WHERE ${SAMPLES_IN_WINDOW} GROUP BY stack_hash`
  }
  return `SELECT stack_hash, sum(x.v / y.n) AS v
    FROM (
      SELECT series_id, stack_hash, sum(value) AS v FROM ${db}.samples
      WHERE ${SAMPLES_IN_WINDOW} GROUP BY series_id, stack_hash
    ) AS x
    INNER JOIN (
      SELECT series_id, uniqExact(time) AS n FROM ${db}.samples
      WHERE ${SAMPLES_IN_WINDOW} GROUP BY series_id
    ) AS y USING (series_id)
    GROUP BY stack_hash`
}
