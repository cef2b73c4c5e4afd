import { describe, expect, it } from 'vitest'
import { splitWindow } from './rollup.js'

const MIN = 60_000
const HOUR = 60 * MIN
const H0 = Date.UTC(2026, 10, 1, 12)

/** Every hour from `from` for `n` hours rolled up, run `r<index>`. */
const hours = (from: number, n: number): Map<number, string> =>
  new Map(Array.from({ length: n }, (_, i) => [from + i * HOUR, `r${i}`]))

describe('splitWindow', () => {
  const ragged = { from: H0 + 7 * MIN, to: H0 + 3 * HOUR + 53 * MIN }
  const aligned = { from: H0, to: H0 + 4 * HOUR }
  const all = hours(H0 - 24 * HOUR, 48)

  it('reads whole rolled-up hours from the rollup and the ragged edges raw', () => {
    expect(splitWindow(ragged, all)).toEqual({
      raw: [
        { from: ragged.from, to: H0 + HOUR },
        { from: H0 + 3 * HOUR, to: ragged.to },
      ],
      rolled: { from: H0 + HOUR, to: H0 + 3 * HOUR, runs: ['r25', 'r26'] },
    })
    expect(splitWindow(aligned, all)).toEqual({
      raw: [],
      rolled: { ...aligned, runs: ['r24', 'r25', 'r26', 'r27'] },
    })
    expect(splitWindow({ from: H0 + 1, to: H0 + HOUR + 1 }, all)).toEqual({
      raw: [{ from: H0 + 1, to: H0 + HOUR + 1 }],
      rolled: undefined,
    })
  })

  it('reads hours without a current run raw, wherever they are', () => {
    const gaps = new Map([
      [H0 + HOUR, 'a'],
      [H0 + 3 * HOUR, 'b'],
    ])
    expect(splitWindow(aligned, gaps)).toEqual({
      raw: [
        { from: H0, to: H0 + HOUR },
        { from: H0 + 2 * HOUR, to: H0 + 3 * HOUR },
      ],
      rolled: { from: H0 + HOUR, to: H0 + 4 * HOUR, runs: ['a', 'b'] },
    })
    // Only hours after the window rolled up: all raw.
    expect(splitWindow(aligned, hours(H0 + 4 * HOUR, 3))).toEqual({
      raw: [aligned],
      rolled: undefined,
    })
  })

  it('reads everything raw without a rollup', () => {
    expect(splitWindow(aligned, undefined)).toEqual({ raw: [aligned], rolled: undefined })
    expect(splitWindow(aligned, new Map())).toEqual({ raw: [aligned], rolled: undefined })
  })
})
