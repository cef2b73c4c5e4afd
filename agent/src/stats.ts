/** What the agent did, for `getStats()` and for the server (sent as a label set on uploads). */
export interface AgentStats {
  profilesCollected: number
  uploadsOk: number
  uploadsFailed: number
  uploadsRetried: number
  /** Profiles dropped: queue full (oldest first), retries exhausted, or refused by the server. */
  profilesDropped: number
  bytesUploaded: number
  queuedProfiles: number
  queuedBytes: number
  /** CPU time the agent spent collecting and encoding, in microseconds. */
  collectCpuMicros: number
  /** Collection CPU over the last interval, in % of one core. */
  lastOverheadPercent: number
  /** Current sampling interval; the overhead budget may have raised it. */
  samplingIntervalMicros: number
  lastError?: string
}

export function emptyStats(samplingIntervalMicros: number): AgentStats {
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
    lastOverheadPercent: 0,
    samplingIntervalMicros,
  }
}
