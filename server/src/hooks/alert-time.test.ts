import { describe, expect, it } from 'vitest'
import { GO_ZERO_TIME, parseAlertTime, parseRfc3339 } from './alert-time.js'

describe('parseRfc3339', () => {
  it.each([
    // Alertmanager writes nanoseconds and the local offset.
    ['2018-08-03T09:52:26.739266876+02:00', Date.UTC(2018, 7, 3, 7, 52, 26, 739)],
    // Grafana, microseconds.
    ['2021-10-12T09:51:03.157076+02:00', Date.UTC(2021, 9, 12, 7, 51, 3, 157)],
    ['2023-02-06T13:08:45.828Z', Date.UTC(2023, 1, 6, 13, 8, 45, 828)],
    ['2023-02-06T13:08:45Z', Date.UTC(2023, 1, 6, 13, 8, 45)],
    ['2023-02-06T13:08:45.5-05:30', Date.UTC(2023, 1, 6, 18, 38, 45, 500)],
  ])('reads %s', (text, ms) => {
    expect(parseRfc3339(text)).toBe(ms)
  })

  it('keeps year 1 as year 1', () => {
    expect(new Date(parseRfc3339(GO_ZERO_TIME)!).getUTCFullYear()).toBe(1)
  })

  it.each(['yesterday', '2023-02-06', '2023-02-06T13:08:45', ''])('refuses %j', (text) => {
    expect(parseRfc3339(text)).toBeUndefined()
  })
})

describe('parseAlertTime', () => {
  it('reads Unix ms and s, as numbers or strings', () => {
    const ms = Date.UTC(2026, 10, 1, 12)
    expect(parseAlertTime(ms)).toBe(ms)
    expect(parseAlertTime(ms / 1000)).toBe(ms)
    expect(parseAlertTime(String(ms))).toBe(ms)
  })

  it("reads Go's zero time and absence as not set", () => {
    for (const value of [GO_ZERO_TIME, undefined, null, '']) {
      expect(parseAlertTime(value)).toBeUndefined()
    }
  })
})
