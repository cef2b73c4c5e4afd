import { describe, expect, it } from 'vitest'
import { linearFit } from './linear-fit.js'

describe('linearFit', () => {
  it('recovers an exact line with R² = 1, at Unix-ms scale', () => {
    const t0 = Date.UTC(2026, 10, 1)
    const xs = [0, 1, 2, 3, 4].map((i) => t0 + i * 60_000)
    const ys = xs.map((x) => 5000 + (x - t0) * 0.25)
    const fit = linearFit(xs, ys)
    expect(fit.slope).toBeCloseTo(0.25, 12)
    expect(fit.r2).toBeCloseTo(1, 12)
    expect(fit.intercept + fit.slope * t0).toBeCloseTo(5000, 3)
  })

  it('matches the textbook formulas on noisy data', () => {
    const xs = [1, 2, 3, 4, 5]
    const ys = [2, 4, 5, 4, 5]
    // slope = Sxy / Sxx = 6 / 10; R² = Sxy² / (Sxx Syy) = 36 / (10 * 6).
    const fit = linearFit(xs, ys)
    expect(fit.slope).toBeCloseTo(0.6, 12)
    expect(fit.intercept).toBeCloseTo(2.2, 12)
    expect(fit.r2).toBeCloseTo(0.6, 12)
  })

  it('gives no fit to a flat series or a single point', () => {
    expect(linearFit([1, 2, 3], [7, 7, 7])).toEqual({ slope: 0, intercept: 7, r2: 0 })
    expect(linearFit([1], [7])).toEqual({ slope: 0, intercept: 7, r2: 0 })
  })
})
