export interface TimeRange {
  readonly key: string
  readonly label: string
  readonly durationMs: number
}

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS

/** The presets of the range picker; `key` is what the URL carries (`?range=15m`). */
export const TIME_RANGES = [
  { key: '5m', label: 'Last 5 minutes', durationMs: 5 * MINUTE_MS },
  { key: '15m', label: 'Last 15 minutes', durationMs: 15 * MINUTE_MS },
  { key: '1h', label: 'Last hour', durationMs: HOUR_MS },
  { key: '6h', label: 'Last 6 hours', durationMs: 6 * HOUR_MS },
  { key: '24h', label: 'Last 24 hours', durationMs: 24 * HOUR_MS },
] as const satisfies readonly TimeRange[]

export type TimeRangeKey = (typeof TIME_RANGES)[number]['key']

export const DEFAULT_TIME_RANGE: TimeRangeKey = '15m'

export function isTimeRangeKey(key: string): key is TimeRangeKey {
  return TIME_RANGES.some((range) => range.key === key)
}

export function timeRangeOf(key: TimeRangeKey): TimeRange {
  const range = TIME_RANGES.find((candidate) => candidate.key === key)
  if (range === undefined) throw new Error(`unknown time range ${key}`)
  return range
}

/** The query window of a preset ending now, in Unix milliseconds. */
export function timeWindow(key: TimeRangeKey, nowMs: number): { from: number; to: number } {
  return { from: nowMs - timeRangeOf(key).durationMs, to: nowMs }
}
