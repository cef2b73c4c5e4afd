/*
 * Fleet-scheduled profiling. Time is cut into collection windows of `windowMs`, numbered from the
 * Unix epoch on the server's clock. An instance collects (CPU and wall profiler on, heap snapshot
 * at the end) in one window out of every `period`, the one whose number modulo `period` is its
 * `slot`; the rest of the time its time profiler is off. The server spreads the slots of a
 * service's live instances evenly (`planSlots`), so about `concurrent` of them collect at any
 * time and each pays a share of 1/`period` of the always-on cost.
 *
 * The plan is a pure function of the instance's rank among the service's live instances (their
 * ids sorted) and of the settings: two servers that see the same instances in the store give the
 * same plans, and nothing is lost when a server restarts.
 */

/** `POST` by agents (ingest scope): check in, and get the instance's plan. */
export const SCHEDULE_PATH = '/api/v1/schedule'

/** The body an agent checks in with. */
export interface ScheduleRequest {
  /** The service, as in the ingest `name` (without its `{labels}`). */
  service: string
  /** The instance: stable for the life of the process, unique in the service. */
  instance: string
}

/** The answer: when this instance collects. */
export interface SchedulePlan {
  /** Length of a collection window (ms). Windows start at multiples of it since the epoch. */
  windowMs: number
  /** The instance collects in one window out of `period`. */
  period: number
  /** ...the one whose number modulo `period` is `slot`. */
  slot: number
  /** The live instances of the service the server counted, this one included. */
  instances: number
  /** This instance's place among them (0-based). */
  rank: number
  /** About how many instances collect at any time: `instances / period`. */
  concurrent: number
  /**
   * The server's clock (Unix ms) midway through handling the check-in, to correct the agent's:
   * its offset is this minus the middle of the agent's request and answer.
   */
  serverTimeMs: number
  /** When to check in again (ms). Past twice that without an answer, the agent plans alone. */
  checkinMs: number
}

/** How the server sizes periods. */
export interface ScheduleSettings {
  /** Instances of a service collecting at any time, when the share bounds allow. */
  concurrent: number
  /** The largest share of windows one instance collects (caps its overhead). */
  maxShare: number
  /** The smallest share: every instance collects at least this often, however large the fleet. */
  minShare: number
}

/**
 * The period of a service of `instances` instances: about `instances / concurrent` windows, so
 * `concurrent` collect at once, but never shorter than 1 / `maxShare` (a small service's
 * instances would otherwise collect all the time) nor longer than 1 / `minShare`.
 */
export function schedulePeriod(instances: number, settings: ScheduleSettings): number {
  const shortest = Math.max(1, Math.ceil(1 / settings.maxShare - 1e-9))
  const longest = Math.max(shortest, Math.floor(1 / settings.minShare + 1e-9))
  const wanted = Math.round(Math.max(1, instances) / Math.max(settings.concurrent, 1e-9))
  return Math.min(longest, Math.max(shortest, wanted))
}

/**
 * The slot of the instance of rank `rank` among `instances`, for `period`: ranks spread evenly
 * over the slots, so each window holds ⌊instances / period⌋ or ⌈instances / period⌉ of them.
 */
export function scheduleSlot(rank: number, instances: number, period: number): number {
  return Math.floor((rank * period) / Math.max(1, instances)) % period
}

/** The number of the window that holds `timeMs`. */
export function windowIndex(timeMs: number, windowMs: number): number {
  return Math.floor(timeMs / windowMs)
}

/** Whether the plan's instance collects in window number `index`. */
export function collectsIn(plan: Pick<SchedulePlan, 'period' | 'slot'>, index: number): boolean {
  return ((index % plan.period) + plan.period) % plan.period === plan.slot
}
