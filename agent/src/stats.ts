import type { AgentStatsHeader } from '@kiln/wire'
import type { ScheduleMode } from './scheduler.js'

/**
 * What the agent did, for `getStats()` and for the server: sent as JSON in the
 * `x-kiln-agent-stats` header of each upload. The fields and what they mean are
 * `AgentStatsHeader`'s (`@kiln/wire`), the shape the server reads; the agent always has every
 * counter, only `lastError` may be absent.
 */
export type AgentStats = Required<Omit<AgentStatsHeader, 'lastError' | 'schedule'>> &
  Pick<AgentStatsHeader, 'lastError'> & { schedule: ScheduleMode }

export function emptyStats(
  samplingIntervalMicros: number,
  overheadBudgetPercent: number,
  schedule: ScheduleMode = 'always',
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
    schedule,
    dutyCycle: schedule === 'always' ? 1 : 0,
    windowsCollected: 0,
  }
}
