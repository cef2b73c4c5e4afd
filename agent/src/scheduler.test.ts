import { collectsIn, windowIndex, type SchedulePlan } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import { silentLogger } from './logger.js'
import {
  FALLBACK_CHECKIN_MS,
  MIN_CHECKIN_MS,
  Scheduler,
  UNSUPPORTED_CHECKIN_MS,
  type CheckInResult,
  type CollectionWindow,
  type SchedulerClock,
  type SchedulerOptions,
} from './scheduler.js'

interface Timer {
  at: number
  seq: number
  callback: () => void
}

/** Let promise callbacks (a check-in's answer) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/** A clock the test moves by hand; timers fire in order as it passes them. */
class ManualClock implements SchedulerClock {
  nowMs: number
  randomValue = 0.5
  timers: Timer[] = []
  /** Every delay a timer was armed with. */
  delays: number[] = []
  #seq = 0

  constructor(nowMs: number) {
    this.nowMs = nowMs
  }

  now(): number {
    return this.nowMs
  }

  setTimeout(callback: () => void, delayMs: number): unknown {
    this.delays.push(delayMs)
    const timer = { at: this.nowMs + delayMs, seq: this.#seq++, callback }
    this.timers.push(timer)
    return timer
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t !== handle)
  }

  random(): number {
    return this.randomValue
  }

  async advance(ms: number): Promise<void> {
    const end = this.nowMs + ms
    for (;;) {
      await settle()
      const due = this.timers
        .filter((t) => t.at <= end)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0]
      if (!due) break
      this.timers = this.timers.filter((t) => t !== due)
      this.nowMs = Math.max(this.nowMs, due.at)
      due.callback()
    }
    this.nowMs = end
    await settle()
  }
}

interface Event {
  type: 'open' | 'close'
  window: CollectionWindow
  continuing?: boolean
  atMs: number
}

function scheduler(
  clock: ManualClock,
  options: Partial<SchedulerOptions> & Pick<SchedulerOptions, 'mode'>,
) {
  const events: Event[] = []
  const s = new Scheduler({
    uploadIntervalMs: 10_000,
    windowMs: 1000,
    dutyCycle: 0.25,
    logger: silentLogger,
    clock,
    ...options,
  })
  s.start({
    open: (window) => events.push({ type: 'open', window, atMs: clock.now() }),
    close: (window, continuing) =>
      events.push({ type: 'close', window, continuing, atMs: clock.now() }),
  })
  return { s, events }
}

/** The closed windows, in order. */
const closed = (events: Event[]) =>
  events.filter((e) => e.type === 'close').map((e) => ({ ...e.window, continuing: e.continuing }))

/** Check-ins answered from a script, one answer per call (the last one repeats). */
function checkIns(clock: ManualClock, answers: (() => CheckInResult)[], roundTripMs = 0) {
  const calls: number[] = []
  const checkIn = async (): Promise<CheckInResult> => {
    calls.push(clock.now())
    const answer = answers[Math.min(calls.length - 1, answers.length - 1)]!
    clock.nowMs += roundTripMs // the answer arrives later than it was asked for
    return answer()
  }
  return { checkIn, calls }
}

function plan(fields: Partial<SchedulePlan> & Pick<SchedulePlan, 'serverTimeMs'>): SchedulePlan {
  return {
    windowMs: 1000,
    period: 3,
    slot: 1,
    instances: 3,
    rank: 1,
    concurrent: 1,
    checkinMs: 30_000,
    ...fields,
  }
}

describe('Scheduler, local duty cycle', () => {
  it('collects in one window of round(1 / dutyCycle), at its slot, on window bounds', async () => {
    const windowMs = 1000
    const dutyCycle = 0.25
    const period = Math.round(1 / dutyCycle)
    const clock = new ManualClock(1_700_000_000_000)
    clock.randomValue = 0.6 // slot floor(0.6 * 4) = 2
    const { s, events } = scheduler(clock, { mode: 'local', windowMs, dutyCycle })
    const slot = Math.floor(clock.randomValue * period)
    expect(s.localPlan).toEqual({ windowMs, period, slot })
    expect(s.state).toEqual({ schedule: 'local', dutyCycle: 1 / period })

    const span = 40 * windowMs
    const startMs = clock.nowMs
    await clock.advance(span)
    const windows = closed(events)
    const expected: number[] = []
    for (let i = windowIndex(startMs, windowMs); i < windowIndex(startMs + span, windowMs); i++) {
      // The window in progress at start counts only if at least half of it was left.
      if (i * windowMs < startMs && (i + 1) * windowMs - startMs < windowMs / 2) continue
      if (collectsIn({ period, slot }, i) && (i + 1) * windowMs <= startMs + span) expected.push(i)
    }
    expect(windows.map((w) => w.index)).toEqual(expected)
    for (const w of windows) {
      expect(w.fromMs).toBe(w.index * windowMs)
      expect(w.untilMs).toBe((w.index + 1) * windowMs)
      expect(w.continuing).toBe(false)
    }
    // Open, close, open, close: the time profiler is off between windows.
    expect(events.map((e) => e.type)).toEqual(windows.flatMap(() => ['open', 'close']))
    for (const e of events) {
      expect(e.atMs).toBe(e.type === 'open' ? e.window.fromMs : e.window.untilMs)
    }
    expect(Math.min(...clock.delays)).toBeGreaterThanOrEqual(1)
  })

  it('joins the window in progress at start only with half of it or more left', async () => {
    const windowMs = 1000
    // dutyCycle 1: every window collects, so only the share left decides.
    for (const [intoMs, joins] of [
      [300, true],
      [500, true],
      [501, false],
      [900, false],
    ] as const) {
      const clock = new ManualClock(1_700_000_000_000 + intoMs)
      const { events } = scheduler(clock, { mode: 'local', windowMs, dutyCycle: 1 })
      expect(events.length > 0, `${intoMs} ms into the window`).toBe(joins)
      if (joins) expect(events[0]!.window.fromMs).toBe(clock.nowMs)
    }
  })

  it('keeps the profiler running across windows when they follow each other', async () => {
    const windowMs = 1000
    const clock = new ManualClock(1_700_000_000_000)
    const { events } = scheduler(clock, { mode: 'local', windowMs, dutyCycle: 1 })
    await clock.advance(5 * windowMs)
    const windows = closed(events)
    expect(windows).toHaveLength(5)
    for (const w of windows) expect(w.continuing).toBe(true)
    for (let i = 1; i < windows.length; i++) {
      expect(windows[i]!.fromMs).toBe(windows[i - 1]!.untilMs)
    }
  })

  it('closes the open window at stop, cut short, and decides nothing after', async () => {
    const clock = new ManualClock(1_700_000_000_000)
    const { s, events } = scheduler(clock, { mode: 'local', windowMs: 1000, dutyCycle: 1 })
    await clock.advance(250)
    s.stop()
    expect(events.at(-1)).toMatchObject({
      type: 'close',
      continuing: false,
      window: { fromMs: 1_700_000_000_000, untilMs: 1_700_000_000_250 },
    })
    const count = events.length
    await clock.advance(10_000)
    expect(events).toHaveLength(count)
    expect(clock.timers).toHaveLength(0)
  })
})

describe('Scheduler, always', () => {
  it('profiles back to back every uploadIntervalMs on the local clock, as before schedules', async () => {
    const uploadIntervalMs = 3000
    const startMs = 1_700_000_000_123
    const clock = new ManualClock(startMs)
    const { s, events } = scheduler(clock, { mode: 'always', uploadIntervalMs })
    expect(events[0]).toMatchObject({ type: 'open', window: { fromMs: startMs } })
    await clock.advance(3 * uploadIntervalMs + 500)
    s.stop()
    const windows = closed(events)
    expect(windows.map((w) => [w.fromMs - startMs, w.untilMs - startMs, w.continuing])).toEqual([
      [0, uploadIntervalMs, true],
      [uploadIntervalMs, 2 * uploadIntervalMs, true],
      [2 * uploadIntervalMs, 3 * uploadIntervalMs, true],
      [3 * uploadIntervalMs, 3 * uploadIntervalMs + 500, false],
    ])
    expect(s.state).toEqual({ schedule: 'always', dutyCycle: 1 })
  })
})

describe('Scheduler, server plans', () => {
  it("follows the server's plan on the server's clock, corrected by the round trip", async () => {
    const localStart = 1_700_000_000_000
    const clock = new ManualClock(localStart)
    const aheadMs = 5_250 // the server's clock runs ahead of the agent's
    const roundTripMs = 100
    const answer = plan({ windowMs: 1000, period: 3, slot: 1, serverTimeMs: 0 })
    const { checkIn, calls } = checkIns(
      clock,
      [
        // The server reads its clock halfway through the exchange.
        () => ({
          kind: 'plan',
          plan: { ...answer, serverTimeMs: calls.at(-1)! + roundTripMs / 2 + aheadMs },
        }),
      ],
      roundTripMs,
    )
    const { s, events } = scheduler(clock, { mode: 'server', checkIn })
    await clock.advance(0)
    expect(s.state).toEqual({ schedule: 'server', dutyCycle: 1 / answer.period })
    await clock.advance(20_000)
    const windows = closed(events)
    expect(windows.length).toBeGreaterThanOrEqual(5)
    for (const w of windows) {
      expect(collectsIn(answer, w.index)).toBe(true)
      expect(w.untilMs).toBe((w.index + 1) * answer.windowMs)
    }
    // Each window opened and closed when the server's clock crossed its bounds.
    for (const e of events) {
      const serverNow = e.atMs + aheadMs
      expect(serverNow).toBe(e.type === 'open' ? e.window.fromMs : e.window.untilMs)
    }
  })

  it('collects nothing until the first answer, then checks in again every checkinMs', async () => {
    const clock = new ManualClock(1_700_000_000_000)
    const checkinMs = 10_000
    let release: (() => void) | undefined
    const calls: number[] = []
    const checkIn = async (): Promise<CheckInResult> => {
      calls.push(clock.now())
      if (calls.length === 1) await new Promise<void>((r) => (release = r))
      return {
        kind: 'plan',
        plan: plan({ period: 1, slot: 0, checkinMs, serverTimeMs: clock.now() }),
      }
    }
    const { s, events } = scheduler(clock, { mode: 'server', checkIn })
    await clock.advance(5000)
    expect(events).toEqual([])
    expect(s.state).toEqual({ schedule: 'server', dutyCycle: 0 })
    release!()
    await clock.advance(0)
    clock.randomValue = 0.5 // no jitter: 0.9 + 0.2 * 0.5 = 1
    await clock.advance(3 * checkinMs)
    expect(events.length).toBeGreaterThan(0)
    const gaps = calls.slice(1).map((t, i) => t - calls[i]!)
    expect(gaps.slice(1)).toEqual(gaps.slice(1).map(() => checkinMs))
  })

  it('falls back to the local duty cycle on 404, and asks again much later', async () => {
    const clock = new ManualClock(1_700_000_000_000)
    clock.randomValue = 0.99
    const { checkIn, calls } = checkIns(clock, [() => ({ kind: 'unsupported', status: 404 })])
    const dutyCycle = 0.5
    const { s, events } = scheduler(clock, { mode: 'server', checkIn, dutyCycle, windowMs: 2000 })
    await clock.advance(20_000)
    expect(s.state).toEqual({ schedule: 'local', dutyCycle })
    const local = s.localPlan
    const windows = closed(events)
    expect(windows.length).toBeGreaterThanOrEqual(4)
    for (const w of windows) {
      expect(collectsIn(local, w.index)).toBe(true)
      expect(w.untilMs - w.index * local.windowMs).toBe(local.windowMs)
    }
    expect(calls).toHaveLength(1)
    await clock.advance(UNSUPPORTED_CHECKIN_MS)
    expect(calls).toHaveLength(2)
    expect(calls[1]! - calls[0]!).toBe(UNSUPPORTED_CHECKIN_MS)
  })

  it('falls back when the server cannot be reached, retrying with backoff, never at once', async () => {
    const clock = new ManualClock(1_700_000_000_000)
    clock.randomValue = 0 // the backoff's jitter draws its shortest wait
    const { checkIn, calls } = checkIns(clock, [
      () => ({ kind: 'failed', error: 'connect ECONNREFUSED 127.0.0.1:9' }),
    ])
    const { s, events } = scheduler(clock, { mode: 'server', checkIn, dutyCycle: 1 })
    await clock.advance(0)
    expect(s.state.schedule).toBe('local')
    await clock.advance(10 * FALLBACK_CHECKIN_MS)
    expect(events.length).toBeGreaterThan(0)
    const gaps = calls.slice(1).map((t, i) => t - calls[i]!)
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(MIN_CHECKIN_MS)
    expect(Math.max(...gaps)).toBeLessThanOrEqual(FALLBACK_CHECKIN_MS)
  })

  it("waits out a 429's Retry-After before checking in again", async () => {
    const clock = new ManualClock(1_700_000_000_000)
    const retryAfterMs = 120_000
    const { checkIn, calls } = checkIns(clock, [
      () => ({ kind: 'failed', error: 'HTTP 429', retryAfterMs }),
    ])
    scheduler(clock, { mode: 'server', checkIn })
    await clock.advance(retryAfterMs + 1)
    expect(calls).toHaveLength(2)
    expect(calls[1]! - calls[0]!).toBe(retryAfterMs)
  })

  it('keeps a plan through failed check-ins until it is 2 × checkinMs old, then plans alone', async () => {
    const clock = new ManualClock(1_700_000_000_000)
    const checkinMs = 10_000
    const served = plan({ windowMs: 1000, period: 2, slot: 0, checkinMs, serverTimeMs: 0 })
    let up = true
    const checkIn = async (): Promise<CheckInResult> =>
      up
        ? { kind: 'plan', plan: { ...served, serverTimeMs: clock.now() } }
        : { kind: 'failed', error: 'socket hang up' }
    clock.randomValue = 0.5
    const { s, events } = scheduler(clock, { mode: 'server', checkIn, dutyCycle: 1 })
    await clock.advance(0)
    const planAtMs = clock.nowMs
    up = false
    await clock.advance(2 * checkinMs - 1)
    expect(s.state).toEqual({ schedule: 'server', dutyCycle: 1 / served.period })
    const underPlan = closed(events)
    expect(underPlan.length).toBeGreaterThan(0)
    for (const w of underPlan) expect(collectsIn(served, w.index)).toBe(true)
    await clock.advance(5000)
    expect(s.state).toEqual({ schedule: 'local', dutyCycle: 1 })
    // The local cycle (every window) took over: windows the server's plan skipped are collected.
    const after = closed(events).filter((w) => w.fromMs > planAtMs + 2 * checkinMs)
    expect(after.some((w) => !collectsIn(served, w.index))).toBe(true)
    // The server is back: its plan holds again from the next check-in.
    up = true
    await clock.advance(FALLBACK_CHECKIN_MS)
    expect(s.state.schedule).toBe('server')
  })

  it('keeps the plan while a slow check-in is out, up to 4 × checkinMs', async () => {
    const clock = new ManualClock(1_700_000_000_000)
    const checkinMs = 2000
    const served = plan({ windowMs: 1000, period: 2, slot: 0, checkinMs, serverTimeMs: 0 })
    // A server busy with ingest: every answer after the first takes 3 s (1.5 check-ins).
    let calls = 0
    const checkIn = async (): Promise<CheckInResult> => {
      if (calls++ > 0) await new Promise<void>((resolve) => clock.setTimeout(resolve, 3000))
      return { kind: 'plan', plan: { ...served, serverTimeMs: clock.now() } }
    }
    clock.randomValue = 1 // the next check-in 1.1 × checkinMs after each answer
    const { s } = scheduler(clock, { mode: 'server', checkIn, dutyCycle: 1 })
    await clock.advance(0)
    // Each answer comes 2.2 s + 3 s = 5.2 s after the last: past 2 × checkinMs, within 4 ×.
    for (let step = 0; step < 30; step++) {
      await clock.advance(500)
      expect(s.state, `after ${clock.nowMs} ms`).toEqual({
        schedule: 'server',
        dutyCycle: 1 / served.period,
      })
    }
    expect(calls).toBeGreaterThan(2)
  })

  it('lets an open window end as planned when a new plan arrives, then follows the new one', async () => {
    const clock = new ManualClock(1_700_000_000_000)
    const checkinMs = 2000
    let current = plan({ windowMs: 1000, period: 1, slot: 0, checkinMs, serverTimeMs: 0 })
    const checkIn = async (): Promise<CheckInResult> => ({
      kind: 'plan',
      plan: { ...current, serverTimeMs: clock.now() },
    })
    clock.randomValue = 0.5
    const { events } = scheduler(clock, { mode: 'server', checkIn })
    await clock.advance(1500)
    current = plan({ windowMs: 1000, period: 4, slot: 3, checkinMs, serverTimeMs: 0 })
    await clock.advance(20_000)
    const windows = closed(events)
    // Every window is whole: none was cut by the change of plan.
    for (const w of windows) expect(w.untilMs - w.fromMs).toBe(1000)
    const changeMs = 1_700_000_000_000 + 1500 + checkinMs
    const late = windows.filter((w) => w.fromMs >= changeMs + 1000)
    expect(late.length).toBeGreaterThan(0)
    for (const w of late) expect(collectsIn(current, w.index)).toBe(true)
  })

  it('makes no decision after stop, even when a check-in answers later', async () => {
    const clock = new ManualClock(1_700_000_000_000)
    let release: (() => void) | undefined
    const checkIn = async (): Promise<CheckInResult> => {
      await new Promise<void>((r) => (release = r))
      return { kind: 'plan', plan: plan({ period: 1, slot: 0, serverTimeMs: clock.now() }) }
    }
    const { s, events } = scheduler(clock, { mode: 'server', checkIn })
    await clock.advance(0)
    s.stop()
    release!()
    await clock.advance(10_000)
    expect(events).toEqual([])
    expect(clock.timers).toHaveLength(0)
  })
})
