import type { DeliveryState, FindingKind } from '@kiln/wire'

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

/** A sample that carried a trace: `samples` has it too, under its series without the ids. */
export interface TraceSampleRow {
  tenant: string
  service: string
  type: string
  /** Unix milliseconds. */
  time: number
  /** Lowercase hex, as OpenTelemetry writes them. */
  trace_id: string
  /** The local root span's id; `''` when the sample named a trace only. */
  span_id: string
  series_id: UInt64String
  stack_hash: UInt64String
  value: number
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
  /** `always`, `local`, `server`; empty from agents that do not say. */
  schedule: string
  duty_cycle: number | null
  sampling_interval_micros: number | null
  last_error: string
  received_at: number
}

/** A row of the `alerts` table (times in Unix ms). */
export interface AlertRow {
  tenant: string
  service: string
  starts_at: number
  alert_id: string
  source: string
  status: 'firing' | 'resolved'
  name: string
  type: string
  ends_at: number | null
  window_from: number
  window_to: number
  fingerprint: string
  labels: Record<string, string>
  annotations: Record<string, string>
  generator_url: string
  received_at: number
  /** Labels of the alert that the service's profiles carry, as a selector; `''` for none. */
  selector: string
  /** The service rule that named the service; `''` when none did. */
  mapped_by: string
  /** Why the links may show nothing (no rule named a profiled service); `''` when fine. */
  mapping_warning: string
  /** Grafana's `silence`, `dashboard`, `panel` and `image` URLs. */
  urls: Record<string, string>
  /** Grafana's values of the rule's queries. */
  alert_values: Record<string, number>
}

/** A row of the `findings` table (times in Unix ms). */
export interface FindingRow {
  tenant: string
  service: string
  time: number
  finding_id: string
  kind: FindingKind
  type: string
  title: string
  version: string
  previous_version: string
  versions_compared: string[]
  window_from: number
  window_to: number
  baseline_from: number
  baseline_to: number
  base_query: string
  comp_query: string
  /** JSON of `FindingFunction[]`. */
  functions: string
  stats: Record<string, number>
  detected_at: number
  updated_at: number
  delivery: DeliveryState
  pending_urls: string[]
  delivery_attempts: number
}

/** One check-in of an agent for its schedule (`POST /api/v1/schedule`). */
export interface CheckinRow {
  tenant: string
  service: string
  /** Unix ms. */
  time: number
  instance: string
}

export interface RowBatch {
  series: SeriesRow[]
  stacks: StackRow[]
  samples: SampleRow[]
  traceSamples: TraceSampleRow[]
  profiles: ProfileRow[]
  agentStats: AgentStatsRow[]
  checkins: CheckinRow[]
}

export function emptyBatch(): RowBatch {
  return {
    series: [],
    stacks: [],
    samples: [],
    traceSamples: [],
    profiles: [],
    agentStats: [],
    checkins: [],
  }
}

export function batchSize(batch: RowBatch): number {
  return (
    batch.series.length +
    batch.stacks.length +
    batch.samples.length +
    batch.traceSamples.length +
    batch.profiles.length +
    batch.agentStats.length +
    batch.checkins.length
  )
}
