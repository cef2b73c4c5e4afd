import type { ClickHouseClient } from '@clickhouse/client'
import type { AgentInstance, AgentStatsHeader, AgentsResponse } from '@kiln/wire'
import { selectRows } from '../store/select-rows.js'

export interface AgentsScope {
  tenant: string
  service: string
  /** Unix ms, `[from, to)`. */
  from: number
  to: number
  limit: number
}

/** Columns of `agent_stats` returned as an instance's latest stats, under their header names. */
const LATEST: [column: string, field: keyof AgentStatsHeader][] = [
  ['profiles_collected', 'profilesCollected'],
  ['uploads_ok', 'uploadsOk'],
  ['uploads_failed', 'uploadsFailed'],
  ['uploads_retried', 'uploadsRetried'],
  ['profiles_dropped', 'profilesDropped'],
  ['bytes_uploaded', 'bytesUploaded'],
  ['queued_profiles', 'queuedProfiles'],
  ['queued_bytes', 'queuedBytes'],
  ['collect_cpu_micros', 'collectCpuMicros'],
  ['profiler_cpu_micros', 'profilerCpuMicros'],
  ['last_overhead_percent', 'lastOverheadPercent'],
  ['overhead_budget_percent', 'overheadBudgetPercent'],
  ['sampling_interval_micros', 'samplingIntervalMicros'],
  ['schedule', 'schedule'],
  ['duty_cycle', 'dutyCycle'],
  ['last_error', 'lastError'],
]

/** Cumulative counters whose increase over the window is returned. */
const INCREASES = [
  'collect_cpu_micros',
  'profiler_cpu_micros',
  'uploads_failed',
  'profiles_dropped',
]

/** UInt64 arrives as a decimal string, Float64 as a number, NULL as null. */
type Scalar = string | number | null

interface AgentRow {
  host: string
  pid: string
  version: string
  first_seen: string
  last_seen: string
  uploads: string
  latest: Scalar[]
  collect_cpu_micros_increase: string
  profiler_cpu_micros_increase: string
  uploads_failed_increase: string
  profiles_dropped_increase: string
  max_overhead_percent: number | null
  min_sampling_interval_micros: string | null
  max_sampling_interval_micros: string | null
}

/**
 * Per instance (host, pid, version) of a service, from the agent stats of its uploads in a
 * window: the latest stats, and what the cumulative counters grew by.
 *
 * Increases are summed row by row, each `greatest(value - previous, 0)`, in one window-function
 * pass ordered by upload time. A counter that goes down adds nothing rather than its new value (as
 * Prometheus' `increase` would): a restart under the same host and pid (pid 1 in a container)
 * loses only the first interval after it, while an upload retried late carries counters newer
 * than its `until` says, and would otherwise count a whole counter again. Ties in time (the agent
 * uploads time and heap profiles of one interval together) are broken by receipt, then by CPU.
 */
export async function queryAgents(
  client: ClickHouseClient,
  db: string,
  scope: AgentsScope,
): Promise<AgentsResponse> {
  // Aliases are global in ClickHouse: none may reuse a column's name.
  const rise = (c: string) => `greatest(${c} - lagInFrame(${c}) OVER w, 0) AS ${c}_rise`
  const rows = await selectRows<AgentRow>(
    client,
    `SELECT host, pid, version,
        toUnixTimestamp64Milli(min(time)) AS first_seen,
        toUnixTimestamp64Milli(max(time)) AS last_seen,
        count() AS uploads,
        argMax(tuple(${LATEST.map(([c]) => c).join(', ')}), (time, received_at, cpu)) AS latest,
        ${INCREASES.map((c) => `ifNull(sum(${c}_rise), 0) AS ${c}_increase`).join(',\n        ')},
        max(last_overhead_percent) AS max_overhead_percent,
        min(sampling_interval_micros) AS min_sampling_interval_micros,
        max(sampling_interval_micros) AS max_sampling_interval_micros
      FROM (
        SELECT *, ${INCREASES.map(rise).join(', ')}
        FROM (
          SELECT *, ifNull(collect_cpu_micros, 0) + ifNull(profiler_cpu_micros, 0) AS cpu
          FROM ${db}.agent_stats
          WHERE tenant = {tenant:String} AND service = {service:String}
            AND time >= fromUnixTimestamp64Milli({from:Int64})
            AND time < fromUnixTimestamp64Milli({to:Int64})
        )
        WINDOW w AS (PARTITION BY host, pid, version ORDER BY time, received_at, cpu
          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
      )
      GROUP BY host, pid, version
      ORDER BY host, pid, version
      LIMIT {limit:UInt32}`,
    { ...scope, limit: scope.limit + 1 },
  )
  return {
    service: scope.service,
    from: scope.from,
    to: scope.to,
    agents: rows.slice(0, scope.limit).map(toInstance),
    truncated: rows.length > scope.limit,
  }
}

function toInstance(r: AgentRow): AgentInstance {
  const firstSeen = Number(r.first_seen)
  const lastSeen = Number(r.last_seen)
  const elapsedMs = lastSeen - firstSeen
  const collectCpuMicros = Number(r.collect_cpu_micros_increase)
  const profilerCpuMicros = Number(r.profiler_cpu_micros_increase)
  const cpuMicros = collectCpuMicros + profilerCpuMicros
  return {
    host: r.host,
    pid: r.pid,
    version: r.version,
    firstSeen,
    lastSeen,
    uploads: Number(r.uploads),
    latest: latestStats(r.latest),
    window: {
      elapsedMs,
      cpuMicros,
      collectCpuMicros,
      profilerCpuMicros,
      // µs over ms: / 1000 for the ratio, * 100 for the percent.
      cpuPercent: elapsedMs > 0 ? cpuMicros / elapsedMs / 10 : null,
      maxOverheadPercent: r.max_overhead_percent,
      minSamplingIntervalMicros: nullableNumber(r.min_sampling_interval_micros),
      maxSamplingIntervalMicros: nullableNumber(r.max_sampling_interval_micros),
      uploadsFailed: Number(r.uploads_failed_increase),
      profilesDropped: Number(r.profiles_dropped_increase),
    },
  }
}

/** The latest row's tuple as the header had it: NULL columns and an empty error left out. */
function latestStats(values: Scalar[]): AgentStatsHeader {
  const stats: AgentStatsHeader = {}
  LATEST.forEach(([, field], i) => {
    const value = values[i]
    if (value === null || value === undefined || value === '') return
    if (field === 'lastError' || field === 'schedule') stats[field] = String(value)
    else stats[field] = Number(value)
  })
  return stats
}

const nullableNumber = (value: string | null): number | null =>
  value === null ? null : Number(value)
