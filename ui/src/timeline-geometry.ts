import { DAY_MS, HOUR_MS, MINUTE_MS, type TimeWindow } from './time-window'

/** A linear map from a domain to pixels, and back. */
export interface LinearScale {
  (value: number): number
  invert(px: number): number
}

export function linearScale(
  [d0, d1]: readonly [number, number],
  [r0, r1]: readonly [number, number],
): LinearScale {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0)
  const scale = (value: number) => r0 + (value - d0) * k
  scale.invert = (px: number) => (k === 0 ? d0 : d0 + (px - r0) / k)
  return scale
}

/**
 * Bucket sizes the UI asks the timeline for: multiples of 10 s, so every bucket holds the same
 * number of 10 s uploads. (The server's own 15 s step puts one upload in some buckets and two in
 * others, which draws a saw-tooth under a flat load.)
 */
export const TIMELINE_STEPS_MS = [
  10_000,
  20_000,
  30_000,
  MINUTE_MS,
  2 * MINUTE_MS,
  5 * MINUTE_MS,
  10 * MINUTE_MS,
  30 * MINUTE_MS,
  HOUR_MS,
  2 * HOUR_MS,
  6 * HOUR_MS,
  12 * HOUR_MS,
  DAY_MS,
] as const

/** The smallest step giving at most `maxBuckets` buckets over `windowMs`. */
export function timelineStep(windowMs: number, maxBuckets = 150): number {
  for (const step of TIMELINE_STEPS_MS) if (windowMs / step <= maxBuckets) return step
  return DAY_MS
}

const TICK_STEPS_MS = [
  10_000,
  30_000,
  MINUTE_MS,
  2 * MINUTE_MS,
  5 * MINUTE_MS,
  10 * MINUTE_MS,
  15 * MINUTE_MS,
  30 * MINUTE_MS,
  HOUR_MS,
  2 * HOUR_MS,
  3 * HOUR_MS,
  6 * HOUR_MS,
  12 * HOUR_MS,
  DAY_MS,
  2 * DAY_MS,
  7 * DAY_MS,
]

/** Round times inside the window, at most `maxTicks`, on a step that reads well (5 min, 1 h…). */
export function timeTicks(window: TimeWindow, maxTicks: number): { step: number; ticks: number[] } {
  const span = window.to - window.from
  const step =
    TICK_STEPS_MS.find((candidate) => span / candidate <= maxTicks) ?? TICK_STEPS_MS.at(-1)!
  // Align on local time, so hourly ticks fall on the hour of the reader's clock.
  const offset = new Date(window.from).getTimezoneOffset() * MINUTE_MS
  const first = Math.ceil((window.from - offset) / step) * step + offset
  const ticks: number[] = []
  for (let t = first; t <= window.to; t += step) ticks.push(t)
  return { step, ticks }
}

const hourMinute = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })
const hourMinuteSecond = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
})
const monthDay = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' })

export function formatTick(ms: number, stepMs: number): string {
  if (stepMs >= DAY_MS) return monthDay.format(ms)
  if (stepMs < MINUTE_MS) return hourMinuteSecond.format(ms)
  return hourMinute.format(ms)
}

/** 1, 2 or 5 times a power of ten at or above `value`: the top of a value axis. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= value * (1 - 1e-12)) return m * power
  return 10 * power
}

/**
 * The timeline as SVG paths: a step line over each bucket, and the area below it, with gaps
 * where buckets hold no sample. Buckets are clipped to the window.
 */
export function seriesPaths(
  series: { timestamps: readonly number[]; values: readonly (number | null)[]; step: number },
  window: TimeWindow,
  x: LinearScale,
  y: LinearScale,
): { line: string; area: string } {
  const baseline = y(0)
  const line: string[] = []
  const area: string[] = []
  let run: { x0: number; x1: number; y: number }[] = []
  const flush = () => {
    const first = run[0]
    if (first !== undefined) {
      // Contiguous buckets share edges: a vertical to each bucket's value, a horizontal across it.
      const steps = run.map((b) => `V${fmt(b.y)}H${fmt(b.x1)}`).join('')
      line.push(`M${fmt(first.x0)},${fmt(first.y)}${steps}`)
      area.push(`M${fmt(first.x0)},${fmt(baseline)}${steps}V${fmt(baseline)}Z`)
    }
    run = []
  }
  series.timestamps.forEach((t, i) => {
    const value = series.values[i]
    const from = Math.max(t, window.from)
    const to = Math.min(t + series.step, window.to)
    if (value === null || value === undefined || from >= to) {
      flush()
      return
    }
    // A bucket right after the previous one continues the run; a later one starts a new run.
    const previous = run.at(-1)
    if (previous !== undefined && Math.abs(previous.x1 - x(from)) > 0.5) flush()
    run.push({ x0: x(from), x1: x(to), y: y(value) })
  })
  flush()
  return { line: line.join(''), area: area.join('') }
}

const fmt = (n: number): string => String(Math.round(n * 10) / 10)

/** The window between two pointer positions, clamped to the chart; `null` for a click. */
export function brushWindow(
  x0: number,
  x1: number,
  x: LinearScale,
  bounds: TimeWindow,
  minPx = 4,
): TimeWindow | null {
  if (Math.abs(x1 - x0) < minPx) return null
  const clamp = (t: number) => Math.min(bounds.to, Math.max(bounds.from, t))
  const a = clamp(x.invert(Math.min(x0, x1)))
  const b = clamp(x.invert(Math.max(x0, x1)))
  return b > a ? { from: Math.round(a), to: Math.round(b) } : null
}
