import type { RolledHours } from '../store/hourly-rollup.js'
import { ROLLUP } from '../store/schema.js'

/** `[from, to)` in Unix ms. */
export interface TimeRange {
  from: number
  to: number
}

/** Where a window's samples are read: whole hours from the rollup, the rest from `samples`. */
export interface WindowSplit {
  /** The parts of the window read from `samples`, in order; empty when the rollup has it all. */
  raw: TimeRange[]
  /**
   * The whole hours of the window that the rollup answers for: the range from the first to the
   * last, and the run of each (hours in between without one are in `raw`).
   */
  rolled: (TimeRange & { runs: string[] }) | undefined
}

const HOUR = ROLLUP.bucketMs

/**
 * Cut `[from, to)` into the whole hours that have a current run in the rollup (`rolled`, from
 * `HourlyRollup.rolledHours`) and the rest, read raw. Without `rolled`, or when no such hour
 * fits, the window is read raw, as one range.
 */
export function splitWindow(window: TimeRange, rolled: RolledHours | undefined): WindowSplit {
  const { from, to } = window
  const whole = { raw: [{ from, to }], rolled: undefined }
  if (rolled === undefined || rolled.size === 0) return whole
  const raw: TimeRange[] = []
  const runs: string[] = []
  let first: number | undefined
  let last = from
  let cursor = from
  for (let hour = Math.ceil(from / HOUR) * HOUR; hour + HOUR <= to; hour += HOUR) {
    const run = rolled.get(hour)
    if (run === undefined) continue
    if (cursor < hour) raw.push({ from: cursor, to: hour })
    first ??= hour
    last = hour + HOUR
    cursor = hour + HOUR
    runs.push(run)
  }
  if (first === undefined) return whole
  if (cursor < to) raw.push({ from: cursor, to })
  return { raw, rolled: { from: first, to: last, runs } }
}
