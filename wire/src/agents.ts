/*
 * The agent's self-observation: what Kiln's agent says of itself with each upload, and what the
 * server answers about it per instance. Other Pyroscope clients send no such header; their
 * uploads are stored as usual and have no agent stats.
 */

/** The ingest request header that carries {@link AgentStatsHeader} as JSON. */
export const AGENT_STATS_HEADER = 'x-kiln-agent-stats'

/** Longest {@link AGENT_STATS_HEADER} value the server reads; a longer one is ignored. */
export const AGENT_STATS_HEADER_MAX_BYTES = 4096

/**
 * The agent's counters at the time of an upload (JSON in {@link AGENT_STATS_HEADER}). Counters
 * are cumulative since the agent started; a process that restarts starts them again from 0.
 * Every field is optional to the server: agents of other versions send more or fewer.
 */
export interface AgentStatsHeader {
  profilesCollected?: number
  uploadsOk?: number
  uploadsFailed?: number
  uploadsRetried?: number
  /** Profiles dropped: queue full (oldest first), retries exhausted, or refused by the server. */
  profilesDropped?: number
  bytesUploaded?: number
  /** Profiles waiting in the agent's upload queue. */
  queuedProfiles?: number
  queuedBytes?: number
  /** CPU time the agent spent collecting and encoding on the main thread, cumulative, in µs. */
  collectCpuMicros?: number
  /** CPU time of V8's profiler thread (sampling, building the profile), cumulative, in µs; 0 off Linux. */
  profilerCpuMicros?: number
  /** Collection and profiler-thread CPU over the agent's last interval, in % of one core. */
  lastOverheadPercent?: number
  /** The configured overhead budget, in % of one core. */
  overheadBudgetPercent?: number
  /** Current sampling interval; the overhead budget may have raised it. */
  samplingIntervalMicros?: number
  /**
   * The longest the last window held the event loop at once, in ms (not stored by the server):
   * the time profiler's start at the window's open (V8 registers every compiled function with
   * it) or the taking and encoding of one profile at its close.
   */
  lastPauseMs?: number
  /** The longest such pause since the agent started, in ms (not stored by the server). */
  maxPauseMs?: number
  /**
   * What decides when the agent collects now: `server` (the server's plan, wire/src/schedule.ts),
   * `local` (its own duty cycle: configured so, or the server gave no plan), `always` (never
   * stops). Agents before schedules send none: they collect always.
   */
  schedule?: string
  /**
   * The share of time windows the agent collects in now: 1 / period of its plan (1 with
   * `always`; 0 while it waits for the server's first answer).
   */
  dutyCycle?: number
  /** Collection windows closed since the agent started (each one profile per type). */
  windowsCollected?: number
  lastError?: string
}

/**
 * What the uploads of one instance in the window add up to. Increases of counters are summed
 * from one upload to the next; a counter that goes down (the process restarted under the same
 * host and pid, or a retried upload carried newer counters than the one after it) adds nothing,
 * so an increase is never negative and never counts a counter's whole value twice.
 */
export interface AgentWindowStats {
  /** Milliseconds from the first to the last upload of the instance in the window. */
  elapsedMs: number
  /** The agent's CPU time in the window: `collectCpuMicros + profilerCpuMicros` below. */
  cpuMicros: number
  /** Increase of `collectCpuMicros`. */
  collectCpuMicros: number
  /** Increase of `profilerCpuMicros` (0 from agents that do not send it). */
  profilerCpuMicros: number
  /**
   * `cpuMicros` over `elapsedMs`, in % of one core (100: a whole core). `null` with fewer than
   * two uploads at distinct times in the window.
   */
  cpuPercent: number | null
  /** Largest `lastOverheadPercent` sent in the window; `null` when none was. */
  maxOverheadPercent: number | null
  /** Smallest and largest `samplingIntervalMicros` sent in the window; `null` when none was. */
  minSamplingIntervalMicros: number | null
  maxSamplingIntervalMicros: number | null
  /** Increase of `uploadsFailed`. */
  uploadsFailed: number
  /** Increase of `profilesDropped`. */
  profilesDropped: number
}

/** One instance of a service's agent: a (host, pid, version) in the uploads' labels. */
export interface AgentInstance {
  /** The `host` label of its uploads (`""` when absent). */
  host: string
  /** The `pid` label. */
  pid: string
  /** The `service_version` (or `version`) label. */
  version: string
  /** Unix ms: `until` of its first upload with stats in the window. */
  firstSeen: number
  /** Unix ms: `until` of its last upload with stats in the window. */
  lastSeen: number
  /** Uploads with stats in the window. */
  uploads: number
  /** The stats of its last upload in the window, as sent (fields it did not send left out). */
  latest: AgentStatsHeader
  window: AgentWindowStats
}

/** `GET /api/v1/agents?service=&from=&to=&limit=`: instances sorted by host, pid, version. */
export interface AgentsResponse {
  service: string
  from: number
  to: number
  agents: AgentInstance[]
  /** True when there were more than `limit` instances. */
  truncated: boolean
}
