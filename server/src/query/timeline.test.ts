import { describe, expect, it } from 'vitest'
import { chooseStep, TARGET_POINTS } from './timeline.js'

describe('chooseStep', () => {
  const MIN = 60_000
  it.each([
    [5 * MIN, 10_000],
    [15 * MIN, 10_000],
    [60 * MIN, 15_000],
    [6 * 60 * MIN, 2 * MIN],
    [24 * 60 * MIN, 5 * MIN],
    [7 * 24 * 60 * MIN, 60 * MIN],
    [30 * 24 * 60 * MIN, 3 * 60 * MIN],
  ])('cuts %i ms into at most 300 buckets of a readable size', (span, step) => {
    expect(chooseStep(0, span)).toBe(step)
    expect(Math.ceil(span / step)).toBeLessThanOrEqual(TARGET_POINTS)
  })

  it('never goes below 10 s, and falls back to span/300 beyond a week per bucket', () => {
    expect(chooseStep(0, 1000)).toBe(10_000)
    const years = 10 * 365 * 24 * 60 * MIN
    expect(Math.ceil(years / chooseStep(0, years))).toBeLessThanOrEqual(TARGET_POINTS)
  })
})
