import { describe, expect, it } from 'vitest'
import { MAX_TIME_MS, TimeSyntaxError, parseTime } from './time.js'

const NOW = Date.UTC(2026, 11, 1, 9, 30, 0)

describe('parseTime', () => {
  it('reads Unix time in seconds, milliseconds, microseconds and nanoseconds by magnitude', () => {
    const ms = Date.UTC(2026, 11, 1, 9, 0, 0, 250)
    expect(parseTime(String(Math.floor(ms / 1000)), NOW)).toBe(ms - 250)
    expect(parseTime(String(ms), NOW)).toBe(ms)
    expect(parseTime(`${ms}123`, NOW)).toBe(ms)
    expect(parseTime(`${ms}123456`, NOW)).toBe(ms)
    expect(parseTime('0', NOW)).toBe(0)
  })

  it('reads RFC 3339 with a zone, fractions included', () => {
    expect(parseTime('2026-12-01T09:00:00Z', NOW)).toBe(Date.UTC(2026, 11, 1, 9))
    expect(parseTime('2026-12-01T10:00:00.250+01:00', NOW)).toBe(
      Date.UTC(2026, 11, 1, 9, 0, 0, 250),
    )
    expect(parseTime('2026-12-01 09:00:00z', NOW)).toBe(Date.UTC(2026, 11, 1, 9))
  })

  it('reads times relative to now', () => {
    expect(parseTime('now', NOW)).toBe(NOW)
    expect(parseTime('now-15m', NOW)).toBe(NOW - 15 * 60_000)
    expect(parseTime('now-1h', NOW)).toBe(NOW - 3_600_000)
    expect(parseTime('now-7d', NOW)).toBe(NOW - 7 * 86_400_000)
    expect(parseTime('now+30s', NOW)).toBe(NOW + 30_000)
    expect(parseTime('now-2w', NOW)).toBe(NOW - 14 * 86_400_000)
    expect(parseTime('now-500ms', NOW)).toBe(NOW - 500)
  })

  it.each([
    '',
    ' ',
    'yesterday',
    'now-',
    'now-1',
    'now-1y',
    'now - 1h',
    'now-1H',
    'nowhere',
    '0x10',
    '1e3',
    '-5',
    '12.5',
    '2026-12-01',
    '2026-12-01T09:00:00',
    '2026-02-30T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-12-01T24:00:00Z',
    '+275760-09-13T00:00:00Z',
    '999999999999999999999',
    'now-999999999999w',
  ])('refuses %j', (input) => {
    expect(() => parseTime(input, NOW)).toThrow(TimeSyntaxError)
  })

  it('refuses times past what a Date holds', () => {
    const weeks = Math.ceil(MAX_TIME_MS / 604_800_000)
    expect(() => parseTime(`now+${weeks}w`, NOW)).toThrow(TimeSyntaxError)
    expect(parseTime(`now+${weeks - 100}w`, 0)).toBe((weeks - 100) * 604_800_000)
  })
})
