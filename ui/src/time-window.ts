import { baselineWindow, type TimeWindow } from '@kiln/wire'

export type { TimeWindow }

export const MINUTE_MS = 60_000
export const HOUR_MS = 60 * MINUTE_MS
export const DAY_MS = 24 * HOUR_MS

export function windowLength(window: TimeWindow): number {
  return window.to - window.from
}

export function shiftWindow(window: TimeWindow, byMs: number): TimeWindow {
  return { from: window.from + byMs, to: window.to + byMs }
}

/** The window of the same length just before `window` (what alert links compare against). */
export function previousWindow(window: TimeWindow): TimeWindow {
  return baselineWindow(window)
}

/** The smallest window holding both. */
export function unionWindow(a: TimeWindow, b: TimeWindow): TimeWindow {
  return { from: Math.min(a.from, b.from), to: Math.max(a.to, b.to) }
}

/** `window` widened by `fraction` of its length on each side. */
export function padWindow(window: TimeWindow, fraction: number): TimeWindow {
  const pad = Math.round(windowLength(window) * fraction)
  return { from: window.from - pad, to: window.to + pad }
}

/** Whole-second bounds: shorter URLs, and the same window whichever pixel a brush ended on. */
export function roundWindow(window: TimeWindow): TimeWindow {
  const from = Math.floor(window.from / 1000) * 1000
  const to = Math.max(Math.ceil(window.to / 1000) * 1000, from + 1000)
  return { from, to }
}

/** `ms` as the value of an `<input type="datetime-local" step="1">`, in local time. */
export function toDateTimeLocal(ms: number): string {
  const d = new Date(ms)
  const pad = (n: number) => String(n).padStart(2, '0')
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  )
}

/** The Unix ms of a `datetime-local` value (local time); `null` when empty or unreadable. */
export function fromDateTimeLocal(value: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)) return null
  const ms = new Date(value).getTime()
  return Number.isFinite(ms) ? ms : null
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
})
const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
})

/** "Mar 3, 14:05:00 – 14:20:00" (the date once when both ends share it). */
export function formatWindow(window: TimeWindow): string {
  const sameDay = new Date(window.from).toDateString() === new Date(window.to).toDateString()
  const end = sameDay ? timeFormat.format(window.to) : dateTimeFormat.format(window.to)
  return `${dateTimeFormat.format(window.from)} – ${end}`
}

/** "Mar 3, 14:05:00", or a window when the two differ: when a trace's samples were taken. */
export function formatSpan(first: number, last: number): string {
  return first === last ? dateTimeFormat.format(first) : formatWindow({ from: first, to: last })
}

const DURATION_UNITS: readonly [ms: number, suffix: string][] = [
  [DAY_MS, 'd'],
  [HOUR_MS, 'h'],
  [MINUTE_MS, 'min'],
  [1000, 's'],
]

/** A length of time in its largest whole unit and the next: 5_400_000 -> "1 h 30 min". */
export function formatDuration(ms: number): string {
  const parts: string[] = []
  let rest = Math.max(0, Math.round(ms / 1000) * 1000)
  for (const [unitMs, suffix] of DURATION_UNITS) {
    if (rest >= unitMs && parts.length < 2) {
      const count = Math.floor(rest / unitMs)
      parts.push(`${count} ${suffix}`)
      rest -= count * unitMs
    } else if (parts.length > 0) {
      break
    }
  }
  return parts.length === 0 ? '0 s' : parts.join(' ')
}
