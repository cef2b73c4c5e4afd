import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { AGENT_STATS_HEADER_MAX_BYTES, VERSION_LABELS, type AgentStatsHeader } from '@kiln/wire'
import type { AgentStatsRow } from '../store/rows.js'

/*
 * The `x-kiln-agent-stats` header of an upload: Kiln's agent reports its own cost and health
 * with each profile. It is an extra: a missing or malformed header never refuses or delays the
 * profile, it only means no stats row (and, when malformed, a count in
 * `kiln_agent_stats_malformed_total`).
 */

const Count = (description?: string) =>
  Type.Number({
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    ...(description ? { description } : {}),
  })
const Percent = Type.Number({ minimum: 0, maximum: 1e6 })

/**
 * Loose by design: every field optional, unknown fields ignored (newer agents add some). A known
 * field of the wrong type, negative, or not finite (`1e999` parses as Infinity; TypeBox refuses
 * it) makes the whole header malformed: its other numbers could not be trusted either.
 */
export const AgentStatsHeaderSchema = Type.Object({
  profilesCollected: Type.Optional(Count()),
  uploadsOk: Type.Optional(Count()),
  uploadsFailed: Type.Optional(Count()),
  uploadsRetried: Type.Optional(Count()),
  profilesDropped: Type.Optional(Count()),
  bytesUploaded: Type.Optional(Count()),
  queuedProfiles: Type.Optional(Count()),
  queuedBytes: Type.Optional(Count()),
  collectCpuMicros: Type.Optional(Count('Cumulative')),
  profilerCpuMicros: Type.Optional(Count('Cumulative')),
  lastOverheadPercent: Type.Optional(Percent),
  overheadBudgetPercent: Type.Optional(Percent),
  samplingIntervalMicros: Type.Optional(Count()),
  // Read (so a bad value marks the header malformed) but not stored: the agent's own report.
  lastPauseMs: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9 })),
  maxPauseMs: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9 })),
  // The agent's schedule (wire/src/agents.ts): `schedule` and `dutyCycle` are stored.
  schedule: Type.Optional(Type.String({ maxLength: 32 })),
  dutyCycle: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  windowsCollected: Type.Optional(Count()),
  lastError: Type.Optional(Type.String()),
})

// Fails to compile when the schema and the wire type name different fields.
type SameKeys<A, B> = [keyof A] extends [keyof B]
  ? [keyof B] extends [keyof A]
    ? true
    : never
  : never
const _sameFields: SameKeys<Static<typeof AgentStatsHeaderSchema>, AgentStatsHeader> = true

/** Why a header was not read, the label of the malformed counter. */
export type AgentStatsProblem = 'too_large' | 'not_json' | 'invalid'

export type ParsedAgentStats =
  | { stats: AgentStatsHeader; problem?: undefined }
  | { stats?: undefined; problem: AgentStatsProblem }
  | { stats?: undefined; problem?: undefined }

/**
 * Read the header's value. Nothing here throws: the answer is the stats, the reason they were
 * not read, or neither when there was no header (Pyroscope's own clients send none). A header
 * sent twice reaches us joined by `, ` (Node joins repeated unknown headers) and is not JSON.
 */
export function parseAgentStats(raw: string | string[] | undefined): ParsedAgentStats {
  if (raw === undefined) return {}
  const text = Array.isArray(raw) ? raw.join(', ') : raw
  if (Buffer.byteLength(text) > AGENT_STATS_HEADER_MAX_BYTES) return { problem: 'too_large' }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { problem: 'not_json' }
  }
  if (!Value.Check(AgentStatsHeaderSchema, value)) return { problem: 'invalid' }
  return { stats: value }
}

export interface AgentStatsContext {
  tenant: string
  service: string
  /** The upload's labels (`service{k=v}`): `host`, `pid` and the version name the instance. */
  labels: Record<string, string>
  /** Unix ms: the upload's `until`. */
  time: number
  /** Unix ms. */
  now: number
}

/** Longest `lastError` kept; the header's cap bounds it already, this keeps rows small. */
const MAX_ERROR_LENGTH = 1024

/** The stats row of one upload. Counters are stored as integers; absent fields as NULL. */
export function agentStatsRow(stats: AgentStatsHeader, context: AgentStatsContext): AgentStatsRow {
  const { labels } = context
  const int = (n: number | undefined): number | null => (n === undefined ? null : Math.round(n))
  const real = (n: number | undefined): number | null => n ?? null
  return {
    tenant: context.tenant,
    service: context.service,
    time: context.time,
    host: labels.host ?? '',
    pid: labels.pid ?? '',
    version: VERSION_LABELS.map((k) => labels[k]).find((v) => v) ?? '',
    profiles_collected: int(stats.profilesCollected),
    uploads_ok: int(stats.uploadsOk),
    uploads_failed: int(stats.uploadsFailed),
    uploads_retried: int(stats.uploadsRetried),
    profiles_dropped: int(stats.profilesDropped),
    bytes_uploaded: int(stats.bytesUploaded),
    queued_profiles: int(stats.queuedProfiles),
    queued_bytes: int(stats.queuedBytes),
    collect_cpu_micros: int(stats.collectCpuMicros),
    profiler_cpu_micros: int(stats.profilerCpuMicros),
    sampling_interval_micros: int(stats.samplingIntervalMicros),
    last_overhead_percent: real(stats.lastOverheadPercent),
    overhead_budget_percent: real(stats.overheadBudgetPercent),
    schedule: (stats.schedule ?? '').slice(0, 32),
    duty_cycle: real(stats.dutyCycle),
    last_error: (stats.lastError ?? '').slice(0, MAX_ERROR_LENGTH),
    received_at: context.now,
  }
}
