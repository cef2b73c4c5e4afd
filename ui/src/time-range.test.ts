import { describe, expect, it } from 'vitest'
import {
  DEFAULT_TIME_RANGE,
  TIME_RANGES,
  isTimeRangeKey,
  timeRangeOf,
  timeWindow,
} from './time-range'

describe('time ranges', () => {
  it('recognises every preset key and nothing else', () => {
    for (const range of TIME_RANGES) expect(isTimeRangeKey(range.key)).toBe(true)
    expect(isTimeRangeKey('7d')).toBe(false)
    expect(isTimeRangeKey('')).toBe(false)
  })

  it('defaults to a preset', () => {
    expect(isTimeRangeKey(DEFAULT_TIME_RANGE)).toBe(true)
  })

  it('orders presets from shortest to longest', () => {
    const durations = TIME_RANGES.map((range) => range.durationMs)
    expect(durations).toEqual([...durations].sort((a, b) => a - b))
  })

  it('gives a window of the preset duration ending now', () => {
    const nowMs = Date.UTC(2025, 0, 1, 12)
    for (const range of TIME_RANGES) {
      const window = timeWindow(range.key, nowMs)
      expect(window.to).toBe(nowMs)
      expect(window.to - window.from).toBe(timeRangeOf(range.key).durationMs)
    }
  })
})
