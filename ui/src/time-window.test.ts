import { describe, expect, it } from 'vitest'
import {
  HOUR_MS,
  MINUTE_MS,
  formatDuration,
  formatSpan,
  formatWindow,
  fromDateTimeLocal,
  padWindow,
  previousWindow,
  roundWindow,
  shiftWindow,
  toDateTimeLocal,
  unionWindow,
} from './time-window'

const T0 = Date.UTC(2026, 2, 1, 12)

describe('windows', () => {
  const w = { from: T0, to: T0 + 10 * MINUTE_MS }

  it('shift, precede, join and widen', () => {
    expect(shiftWindow(w, -HOUR_MS)).toEqual({ from: T0 - HOUR_MS, to: w.to - HOUR_MS })
    expect(previousWindow(w)).toEqual({ from: T0 - 10 * MINUTE_MS, to: T0 })
    expect(unionWindow(w, previousWindow(w))).toEqual({ from: T0 - 10 * MINUTE_MS, to: w.to })
    expect(padWindow(w, 0.1)).toEqual({ from: T0 - MINUTE_MS, to: w.to + MINUTE_MS })
  })

  it('round outwards to whole seconds, never empty', () => {
    expect(roundWindow({ from: T0 + 1500, to: T0 + 2500 })).toEqual({
      from: T0 + 1000,
      to: T0 + 3000,
    })
    expect(roundWindow({ from: T0, to: T0 })).toEqual({ from: T0, to: T0 + 1000 })
  })
})

describe('datetime-local values', () => {
  it('round-trip whole seconds in local time', () => {
    const ms = T0 + 37_000
    expect(fromDateTimeLocal(toDateTimeLocal(ms))).toBe(ms)
    expect(toDateTimeLocal(ms)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/)
  })

  it('accept values without seconds and refuse others', () => {
    expect(fromDateTimeLocal('2026-03-01T12:05')).toBe(new Date(2026, 2, 1, 12, 5).getTime())
    expect(fromDateTimeLocal('')).toBeNull()
    expect(fromDateTimeLocal('yesterday')).toBeNull()
  })
})

describe('formatDuration', () => {
  it('gives the two largest units', () => {
    expect(formatDuration(90 * MINUTE_MS)).toBe('1 h 30 min')
    expect(formatDuration(10 * MINUTE_MS)).toBe('10 min')
    expect(formatDuration(30_000)).toBe('30 s')
    expect(formatDuration(26 * HOUR_MS)).toBe('1 d 2 h')
    expect(formatDuration(0)).toBe('0 s')
  })
})

describe('formatSpan', () => {
  it('prints one time for an instant and a window otherwise', () => {
    const t = Date.UTC(2026, 2, 1, 12)
    expect(formatSpan(t, t)).not.toContain('–')
    expect(formatSpan(t, t + 5000)).toBe(formatWindow({ from: t, to: t + 5000 }))
  })
})
