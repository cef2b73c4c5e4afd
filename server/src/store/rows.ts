/** Row shapes of the storage tables, as sent to ClickHouse in JSONEachRow. */

/** 64-bit ids travel as decimal strings: JSON numbers lose precision above 2^53. */
export type UInt64String = string

export interface SeriesRow {
  tenant: string
  service: string
  type: string
  series_id: UInt64String
  labels: Record<string, string>
  /**
   * The series of the upload's own labels (the instance), without those set per sample: the
   * same as `series_id` for a series without sample labels.
   */
  instance_id: UInt64String
  /** Unix seconds. */
  last_seen: number
}

export interface StackRow {
  tenant: string
  service: string
  stack_hash: UInt64String
  /** Root first. */
  functions: string[]
  files: string[]
  lines: number[]
  last_seen: number
}

export interface SampleRow {
  tenant: string
  service: string
  type: string
  /** Unix milliseconds. */
  time: number
  series_id: UInt64String
  stack_hash: UInt64String
  value: number
  /** The upload the row came from (`uploadHashOf`). */
  upload: UInt64String
}

export interface ProfileRow {
  tenant: string
  service: string
  type: string
  profile_id: string
  series_id: UInt64String
  time_start: number
  time_end: number
  version: string
  labels: Record<string, string>
  total: number
  sample_count: number
  spy_name: string
  received_at: number
}

/**
 * The agent's stats of one upload (`x-kiln-agent-stats`). `null`: the agent did not send the
 * field, which is not the same as 0 (older agents have no `profilerCpuMicros`).
 */
export interface AgentStatsRow {
  tenant: string
  service: string
  /** Unix ms: the upload's `until`. */
  time: number
  host: string
  pid: string
  version: string
  profiles_collected: number | null
  uploads_ok: number | null
  uploads_failed: number | null
  uploads_retried: number | null
  profiles_dropped: number | null
  bytes_uploaded: number | null
  queued_profiles: number | null
  queued_bytes: number | null
  collect_cpu_micros: number | null
  profiler_cpu_micros: number | null
  last_overhead_percent: number | null
  overhead_budget_percent: number | null
  sampling_interval_micros: number | null
  last_error: string
  received_at: number
}

export interface RowBatch {
  series: SeriesRow[]
  stacks: StackRow[]
  samples: SampleRow[]
  profiles: ProfileRow[]
  agentStats: AgentStatsRow[]
}

export function emptyBatch(): RowBatch {
  return { series: [], stacks: [], samples: [], profiles: [], agentStats: [] }
}

export function batchSize(batch: RowBatch): number {
  return (
    batch.series.length +
    batch.stacks.length +
    batch.samples.length +
    batch.profiles.length +
    batch.agentStats.length
  )
}
