import { describe, expect, it } from 'vitest'
import {
  TIMELINE_STEPS_MS,
  brushWindow,
  linearScale,
  niceCeiling,
  seriesPaths,
  timeTicks,
  timelineStep,
} from './timeline-geometry'
import { HOUR_MS, MINUTE_MS } from './time-window'

const T0 = Date.UTC(2026, 2, 1, 12)

describe('linearScale', () => {
  it('maps the domain onto the range and back', () => {
    const x = linearScale([T0, T0 + 1000], [10, 110])
    expect(x(T0)).toBe(10)
    expect(x(T0 + 500)).toBe(60)
    expect(x.invert(60)).toBe(T0 + 500)
  })

  it('does not divide by an empty domain', () => {
    const x = linearScale([5, 5], [0, 100])
    expect(x(5)).toBe(0)
    expect(x.invert(50)).toBe(5)
  })
})

describe('timelineStep', () => {
  it('uses multiples of the 10 s upload interval', () => {
    for (const step of TIMELINE_STEPS_MS) expect(step % 10_000).toBe(0)
  })

  it('keeps the number of buckets at or under the limit', () => {
    for (const windowMs of [5 * MINUTE_MS, 15 * MINUTE_MS, HOUR_MS, 24 * HOUR_MS]) {
      const step = timelineStep(windowMs, 150)
      expect(windowMs / step).toBeLessThanOrEqual(150)
      const smaller = TIMELINE_STEPS_MS.filter((s) => s < step)
      for (const s of smaller) expect(windowMs / s).toBeGreaterThan(150)
    }
  })
})

describe('timeTicks', () => {
  it('puts at most maxTicks round times inside the window', () => {
    const window = { from: T0 + 7_000, to: T0 + HOUR_MS }
    const { step, ticks } = timeTicks(window, 8)
    expect(ticks.length).toBeLessThanOrEqual(8)
    expect(ticks.length).toBeGreaterThan(1)
    for (const t of ticks) {
      expect(t).toBeGreaterThanOrEqual(window.from)
      expect(t).toBeLessThanOrEqual(window.to)
      expect(new Date(t).getSeconds()).toBe(0)
    }
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(step)
  })
})

describe('niceCeiling', () => {
  it('rounds up to 1, 2, 2.5 or 5 times a power of ten', () => {
    expect(niceCeiling(0.8)).toBe(1)
    expect(niceCeiling(1)).toBe(1)
    expect(niceCeiling(1.2)).toBe(2)
    expect(niceCeiling(2.2)).toBe(2.5)
    expect(niceCeiling(730)).toBe(1000)
    expect(niceCeiling(4.1e9)).toBe(5e9)
    expect(niceCeiling(0)).toBe(1)
  })
})

describe('seriesPaths', () => {
  const window = { from: 0, to: 100 }
  const x = linearScale([0, 100], [0, 100])
  const y = linearScale([0, 10], [50, 0])

  it('draws one step line across contiguous buckets', () => {
    const { line, area } = seriesPaths(
      { timestamps: [0, 10, 20], values: [2, 4, 2], step: 10 },
      window,
      x,
      y,
    )
    expect(line).toBe('M0,40V40H10V30H20V40H30')
    expect(area).toBe('M0,50V40H10V30H20V40H30V50Z')
  })

  it('leaves gaps for empty buckets and clips buckets to the window', () => {
    const { line } = seriesPaths(
      { timestamps: [-5, 5, 15, 25, 95], values: [1, 1, null, 1, 1], step: 10 },
      window,
      x,
      y,
    )
    expect(line.match(/M/g)).toHaveLength(3)
    expect(line.startsWith('M0,')).toBe(true)
    expect(line.endsWith('H100')).toBe(true)
  })

  it('draws nothing without values', () => {
    expect(seriesPaths({ timestamps: [0], values: [null], step: 10 }, window, x, y)).toEqual({
      line: '',
      area: '',
    })
  })
})

describe('brushWindow', () => {
  const x = linearScale([T0, T0 + 1000], [0, 100])
  const bounds = { from: T0, to: T0 + 1000 }

  it('gives the window between the two positions, in either order', () => {
    expect(brushWindow(60, 20, x, bounds)).toEqual({ from: T0 + 200, to: T0 + 600 })
  })

  it('clamps to the chart and ignores clicks', () => {
    expect(brushWindow(-50, 50, x, bounds)).toEqual({ from: T0, to: T0 + 500 })
    expect(brushWindow(50, 52, x, bounds)).toBeNull()
  })
})
