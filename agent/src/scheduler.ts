import { collectsIn, windowIndex, type SchedulePlan } from '@kiln/wire'
import type { AgentLogger } from './logger.js'
import { MAX_RETRY_AFTER_MS } from './retry-after.js'
import { backoffMs } from './backoff.js'

/**
 * When the time profiler runs. `always`: all the time, one profile every `uploadIntervalMs`.
 * `local`: in `dutyCycle` of the `windowMs` windows. `server`: in the windows of the server's
 * plan, and as `local` while the server gives none.
 */
export type ScheduleMode = 'server' | 'local' | 'always'

/** A stretch of time the agent collects over, on the server-corrected clock (Unix ms). */
export interface CollectionWindow {
  /** The window's number (`windowIndex`); in `always` mode, a count from 0. */
  index: number
  fromMs: number
  /** The planned end while the window is open; the end it had once closed. */
  untilMs: number
}

/** The scheduler's decisions, as they fall due. */
export interface ScheduleListener {
  /** A window opens: the time profiler must run from now on. */
  open(window: CollectionWindow): void
  /**
   * A window closed: collect it. With `continuing`, another window opens at once (`open`
   * follows), so the time profiler is restarted rather than stopped.
   */
  close(window: CollectionWindow, continuing: boolean): void
}

/** The scheduler as the agent uses it (tests drive the agent with one of their own). */
export interface CollectionScheduler {
  /** Begin deciding; `always` opens its first window before returning. */
  start(listener: ScheduleListener): void
  /** Close the open window at once, cut short (`continuing` false), and decide nothing more. */
  stop(): void
  readonly state: ScheduleState
}

/** What the agent follows now, for its stats. */
export interface ScheduleState {
  /** `server` while a plan from the server holds (or the first answer is awaited). */
  schedule: ScheduleMode
  /** The share of windows collected: 1 / period (1 in `always`; 0 until there is a plan). */
  dutyCycle: number
}

/** One check-in's outcome (schedule-client.ts makes the HTTP call). */
export type CheckInResult =
  | { kind: 'plan'; plan: SchedulePlan }
  /** The server has no schedule (404, 405: Pyroscope, an older Kiln). */
  | { kind: 'unsupported'; status: number }
  | { kind: 'failed'; error: string; retryAfterMs?: number | undefined }

/** Time and chance, injectable so tests drive the scheduler with a clock of their own. */
export interface SchedulerClock {
  now(): number
  /** A one-shot timer that never keeps the process alive. */
  setTimeout(callback: () => void, delayMs: number): unknown
  clearTimeout(handle: unknown): void
  random(): number
}

export const systemClock: SchedulerClock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  random: () => Math.random(),
}

export interface SchedulerOptions {
  mode: ScheduleMode
  /** `always`: the length of each profile. */
  uploadIntervalMs: number
  /** `local`: the window length. */
  windowMs: number
  /** `local`: the share of windows collected; the period is round(1 / dutyCycle). */
  dutyCycle: number
  /** `server`: ask the server for a plan. Never called in other modes. */
  checkIn?: (() => Promise<CheckInResult>) | undefined
  clock?: SchedulerClock
  logger: AgentLogger
}

/** Check-ins more often than this are not made, whatever a server asks. */
export const MIN_CHECKIN_MS = 1000
/** ...nor less often than this. */
export const MAX_CHECKIN_MS = 60 * 60_000
/** Between check-ins while the server gives no plan (it failed, or answered garbage). */
export const FALLBACK_CHECKIN_MS = 60_000
/** Between check-ins with a server that has no schedule (404, 405): it may be upgraded. */
export const UNSUPPORTED_CHECKIN_MS = 5 * 60_000
/** First retry of a failed check-in; each further one doubles, to the check-in interval. */
const CHECKIN_RETRY_BASE_MS = 1000
/** A window is joined part way (at start, on a new plan) only with at least this share left. */
const JOIN_MIN_SHARE = 0.5

interface ActivePlan {
  source: 'server' | 'local'
  windowMs: number
  period: number
  slot: number
  /** Added to the local clock to get the server's. */
  offsetMs: number
}

interface ServerPlan extends ActivePlan {
  source: 'server'
  /** Local time the answer arrived: past 2 check-in intervals, the plan no longer holds. */
  receivedAtMs: number
  checkinMs: number
}

interface OpenWindow extends CollectionWindow {
  windowMs: number
  offsetMs: number
}

/**
 * The scheduler component: it owns when the agent collects, and tells the agent through its
 * listener. In `local` and `server` modes time is cut into windows numbered from the epoch
 * (wire/src/schedule.ts); the instance collects in window `w` iff `collectsIn(plan, w)`.
 * Each decision is taken when it falls due, under the plan that holds then: a plan arriving
 * during an open window applies from the window's end. Every timer is the clock's (unref'd).
 */
export class Scheduler implements CollectionScheduler {
  readonly #options: SchedulerOptions
  readonly #clock: SchedulerClock
  readonly #local: ActivePlan
  #listener: ScheduleListener | undefined
  #open: OpenWindow | undefined
  #windowTimer: unknown
  #checkinTimer: unknown
  #server: ServerPlan | undefined
  /** `server` mode: whether any check-in has finished (until then nothing is collected). */
  #answered = false
  /** A check-in is out: the server plan holds longer meanwhile (`#holdsUntil`). */
  #checkingIn = false
  #failures = 0
  #following: 'server' | 'local' | undefined
  #stopped = false

  constructor(options: SchedulerOptions) {
    this.#options = options
    this.#clock = options.clock ?? systemClock
    const period = Math.max(1, Math.round(1 / options.dutyCycle))
    // A random slot, so that instances planning alone spread over the windows.
    const slot = Math.min(period - 1, Math.floor(this.#clock.random() * period))
    this.#local = { source: 'local', windowMs: options.windowMs, period, slot, offsetMs: 0 }
  }

  get state(): ScheduleState {
    if (this.#options.mode === 'always') return { schedule: 'always', dutyCycle: 1 }
    const plan = this.#active(this.#clock.now())
    if (!plan) return { schedule: 'server', dutyCycle: 0 }
    return { schedule: plan.source, dutyCycle: 1 / plan.period }
  }

  /** The plan a local duty cycle follows (its slot is random). */
  get localPlan(): Pick<SchedulePlan, 'windowMs' | 'period' | 'slot'> {
    const { windowMs, period, slot } = this.#local
    return { windowMs, period, slot }
  }

  start(listener: ScheduleListener): void {
    if (this.#listener && !this.#stopped) return
    this.#listener = listener
    this.#stopped = false
    if (this.#options.mode === 'always') {
      const now = this.#clock.now()
      this.#openWindow({ index: 0, fromMs: now, untilMs: now + this.#options.uploadIntervalMs })
      return
    }
    if (this.#options.mode === 'server') void this.#checkIn()
    else this.#plan()
  }

  /** Close the open window at once (the agent collects it) and make no more decisions. */
  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#clock.clearTimeout(this.#windowTimer)
    this.#clock.clearTimeout(this.#checkinTimer)
    const open = this.#open
    this.#open = undefined
    if (!open || !this.#listener) return
    const untilMs = Math.min(open.untilMs, this.#clock.now() + open.offsetMs)
    this.#listener.close(publicWindow({ ...open, untilMs }), false)
  }

  /** The plan that holds at local time `now`; undefined while the first check-in is out. */
  #active(now: number): ActivePlan | undefined {
    if (this.#options.mode === 'local') return this.#local
    const server = this.#server
    if (server && now <= this.#holdsUntil(server)) return server
    return this.#answered ? this.#local : undefined
  }

  /**
   * Until when a server plan holds: two check-in intervals after its answer, and while the next
   * check-in is out (a server slowed by ingest answers late) up to four.
   */
  #holdsUntil(server: ServerPlan): number {
    return server.receivedAtMs + (this.#checkingIn ? 4 : 2) * server.checkinMs
  }

  /**
   * Arm the timer for the next decision: the end of the open window, or the start of the next
   * window the plan collects in. `target` is the window a timer was armed for: it opens at its
   * nominal start. Any other collecting window is joined part way, from now, when enough of it
   * is left (a fresh start, a new plan).
   */
  #plan(target?: number): void {
    if (this.#stopped) return
    this.#clock.clearTimeout(this.#windowTimer)
    const now = this.#clock.now()
    const open = this.#open
    if (open) {
      this.#arm(open.untilMs - (now + open.offsetMs), () => this.#windowEnd())
      return
    }
    const plan = this.#active(now)
    this.#noteFollowing(plan)
    if (!plan) return // the first check-in's answer plans
    const t = now + plan.offsetMs
    const index = windowIndex(t, plan.windowMs)
    const startMs = index * plan.windowMs
    const endMs = startMs + plan.windowMs
    if (collectsIn(plan, index)) {
      if (index === target)
        return this.#openWindow({ index, fromMs: startMs, untilMs: endMs }, plan)
      if (endMs - t >= plan.windowMs * JOIN_MIN_SHARE) {
        return this.#openWindow({ index, fromMs: t, untilMs: endMs }, plan)
      }
    }
    const next = index + 1 + mod(plan.slot - (index + 1), plan.period)
    let delayMs = next * plan.windowMs - t
    // A server plan may stop holding before then: decide again when it does.
    if (plan.source === 'server') {
      const server = plan as ServerPlan
      delayMs = Math.min(delayMs, this.#holdsUntil(server) + 1 - now)
    }
    this.#arm(delayMs, () => this.#plan(next))
  }

  #openWindow(window: CollectionWindow, plan?: ActivePlan): void {
    this.#open = {
      ...window,
      windowMs: plan?.windowMs ?? this.#options.uploadIntervalMs,
      offsetMs: plan?.offsetMs ?? 0,
    }
    this.#listener?.open(publicWindow(this.#open))
    if (this.#stopped) return // the listener gave up (the profiler would not start)
    if (this.#options.mode === 'always') {
      this.#arm(this.#options.uploadIntervalMs, () => this.#alwaysEnd())
    } else {
      this.#plan()
    }
  }

  /** `always`: one profile per interval, back to back, on the local clock (as before windows). */
  #alwaysEnd(): void {
    const open = this.#open
    if (!open || this.#stopped) return
    const now = this.#clock.now()
    this.#listener?.close(publicWindow({ ...open, untilMs: now }), true)
    if (this.#stopped) return
    this.#openWindow({ index: open.index + 1, fromMs: now, untilMs: now + open.windowMs })
  }

  #windowEnd(): void {
    const open = this.#open
    if (!open || this.#stopped) return
    const now = this.#clock.now()
    // Timers run off a loop clock cached per tick and may fire a little early.
    if (now + open.offsetMs < open.untilMs) return this.#plan()
    this.#open = undefined
    const plan = this.#active(now)
    let next: CollectionWindow | undefined
    if (plan) {
      const t = now + plan.offsetMs
      const index = windowIndex(t, plan.windowMs)
      const endMs = (index + 1) * plan.windowMs
      if (collectsIn(plan, index) && endMs - t >= plan.windowMs * JOIN_MIN_SHARE) {
        // The profiler restarts at this instant: the next profile starts where this one ended,
        // unless the timer was so late that windows were skipped.
        const follows = plan.windowMs === open.windowMs && index === open.index + 1
        next = { index, fromMs: follows ? open.untilMs : t, untilMs: endMs }
      }
    }
    this.#listener?.close(publicWindow(open), next !== undefined)
    if (this.#stopped) return
    if (next && plan) this.#openWindow(next, plan)
    else this.#plan()
  }

  async #checkIn(): Promise<void> {
    const checkIn = this.#options.checkIn
    if (this.#stopped || !checkIn) return
    const sentAtMs = this.#clock.now()
    let result: CheckInResult
    this.#checkingIn = true
    try {
      result = await checkIn()
    } catch (error) {
      result = { kind: 'failed', error: String(error) }
    } finally {
      this.#checkingIn = false
    }
    if (this.#stopped) return
    const answeredAtMs = this.#clock.now()
    this.#answered = true
    let nextMs: number
    if (result.kind === 'plan') {
      const { plan } = result
      this.#failures = 0
      const checkinMs = clamp(plan.checkinMs, MIN_CHECKIN_MS, MAX_CHECKIN_MS)
      this.#server = {
        source: 'server',
        windowMs: plan.windowMs,
        period: plan.period,
        slot: plan.slot,
        // The server read its clock about halfway through the exchange.
        offsetMs: Math.round(plan.serverTimeMs - (sentAtMs + answeredAtMs) / 2),
        receivedAtMs: answeredAtMs,
        checkinMs,
      }
      // ±10 %, so a fleet started at once does not check in at once forever after.
      nextMs = checkinMs * (0.9 + 0.2 * this.#clock.random())
    } else if (result.kind === 'unsupported') {
      this.#failures = 0
      this.#server = undefined
      nextMs = UNSUPPORTED_CHECKIN_MS
    } else {
      this.#failures++
      const ceilingMs = this.#server?.checkinMs ?? FALLBACK_CHECKIN_MS
      const backoff = backoffMs(this.#failures, CHECKIN_RETRY_BASE_MS, () => this.#clock.random())
      nextMs = clamp(backoff, MIN_CHECKIN_MS, ceilingMs)
      if (result.retryAfterMs !== undefined) {
        nextMs = Math.max(nextMs, Math.min(result.retryAfterMs, MAX_RETRY_AFTER_MS))
      }
      this.#options.logger.debug('schedule check-in failed', {
        error: result.error,
        failures: this.#failures,
        nextCheckinMs: Math.round(nextMs),
      })
    }
    this.#checkinTimer = this.#clock.setTimeout(() => void this.#checkIn(), nextMs)
    // An open window ends as planned; the new plan decides what follows it.
    if (!this.#open) this.#plan()
  }

  /** Say once per change which plan the agent follows. */
  #noteFollowing(plan: ActivePlan | undefined): void {
    const following = plan?.source
    if (following === this.#following) return
    const before = this.#following
    this.#following = following
    if (!following) return
    const { windowMs, period, slot } = plan
    this.#options.logger.debug(`collecting on the ${following} schedule`, {
      windowMs,
      period,
      slot,
    })
    if (before === 'server' && following === 'local') {
      this.#options.logger.warn('no schedule from the server: collecting on a local duty cycle', {
        period,
      })
    }
  }

  #arm(delayMs: number, callback: () => void): void {
    this.#clock.clearTimeout(this.#windowTimer)
    // At least 1 ms: a decision never re-runs without giving the event loop a turn.
    this.#windowTimer = this.#clock.setTimeout(callback, Math.max(1, Math.ceil(delayMs)))
  }
}

function publicWindow(window: CollectionWindow): CollectionWindow {
  return { index: window.index, fromMs: window.fromMs, untilMs: window.untilMs }
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value))
}
