import type { AgentStatsHeader } from '@kiln/wire'

/**
 * What the agent did, for `getStats()` and for the server: sent as JSON in the
 * `x-kiln-agent-stats` header of each upload, whose shape (`AgentStatsHeader`) the server reads.
 */
export interface AgentStats extends AgentStatsHeader {
  profilesCollected: number
  uploadsOk: number
  uploadsFailed: number
  uploadsRetried: number
  /** Profiles dropped: queue full (oldest first), retries exhausted, or refused by the server. */
  profilesDropped: number
  bytesUploaded: number
  queuedProfiles: number
  queuedBytes: number
  /** CPU time the agent spent collecting and encoding on the main thread, in microseconds. */
  collectCpuMicros: number
  /** CPU time of V8's profiler thread (sampling, building the profile), in µs; 0 off Linux. */
  profilerCpuMicros: number
  /** Collection and profiler-thread CPU over the last interval, in % of one core. */
  lastOverheadPercent: number
  /** The configured budget for that figure. */
  overheadBudgetPercent: number
  /** Current sampling interval; the overhead budget may have raised it. */
  samplingIntervalMicros: number
  /** Wall time the last collection held the event loop (stop, serialize, encode), in ms. */
  lastPauseMs: number
  /** The longest such pause so far, in ms. */
  maxPauseMs: number
  lastError?: string
}

export function emptyStats(
  samplingIntervalMicros: number,
  overheadBudgetPercent: number,
): AgentStats {
  return {
    profilesCollected: 0,
    uploadsOk: 0,
    uploadsFailed: 0,
    uploadsRetried: 0,
    profilesDropped: 0,
    bytesUploaded: 0,
    queuedProfiles: 0,
    queuedBytes: 0,
    collectCpuMicros: 0,
    profilerCpuMicros: 0,
    lastOverheadPercent: 0,
    overheadBudgetPercent,
    samplingIntervalMicros,
    lastPauseMs: 0,
    maxPauseMs: 0,
  }
}
