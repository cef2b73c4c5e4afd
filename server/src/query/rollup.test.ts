import { describe, expect, it } from 'vitest'
import { splitWindow } from './rollup.js'

const MIN = 60_000
const HOUR = 60 * MIN
const H0 = Date.UTC(2026, 10, 1, 12)

describe('splitWindow', () => {
  const ragged = { from: H0 + 7 * MIN, to: H0 + 3 * HOUR + 53 * MIN }
  const aligned = { from: H0, to: H0 + 4 * HOUR }

  it('reads whole hours from the rollup and the ragged edges raw', () => {
    expect(splitWindow(ragged, 0)).toEqual({
      raw: [
        { from: ragged.from, to: H0 + HOUR },
        { from: H0 + 3 * HOUR, to: ragged.to },
      ],
      rolled: { from: H0 + HOUR, to: H0 + 3 * HOUR },
    })
    expect(splitWindow(aligned, 0)).toEqual({ raw: [], rolled: aligned })
    expect(splitWindow({ from: H0 + 1, to: H0 + HOUR + 1 }, 0)).toEqual({
      raw: [{ from: H0 + 1, to: H0 + HOUR + 1 }],
      rolled: undefined,
    })
  })

  it('reads hours before the rollup is complete raw', () => {
    expect(splitWindow(aligned, H0 + 2 * HOUR + 1)).toEqual({
      raw: [{ from: H0, to: H0 + 3 * HOUR }],
      rolled: { from: H0 + 3 * HOUR, to: H0 + 4 * HOUR },
    })
    expect(splitWindow(aligned, H0 + 4 * HOUR)).toEqual({ raw: [aligned], rolled: undefined })
  })

  it('reads everything raw without a rollup', () => {
    expect(splitWindow(aligned, undefined)).toEqual({ raw: [aligned], rolled: undefined })
  })
})
