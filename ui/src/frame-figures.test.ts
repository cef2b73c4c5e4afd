import { describe, expect, it } from 'vitest'
import { diffValues, type ChartNode } from './diff-tree'
import { formatValue } from './format'
import { formatChange, formatPoints, frameFigures } from './frame-figures'

const MS = 1e6

describe('frameFigures', () => {
  const node: ChartNode = { name: 'parse', value: 25 * MS, self: 5 * MS, children: [] }

  it('gives total and self with their shares of the total', () => {
    expect(frameFigures(node, 'nanoseconds', 100 * MS)).toEqual([
      { label: 'Total', value: `${formatValue(25 * MS, 'nanoseconds')} (25%)` },
      { label: 'Self', value: `${formatValue(5 * MS, 'nanoseconds')} (5%)` },
    ])
  })

  it('gives both windows and the change as the mode measures it in a diff', () => {
    // Baseline 20 of 100 ms, comparison 60 of 200 ms: share 20% -> 30%, value +40 ms.
    const raw = { baseTotal: 20 * MS, baseSelf: 2 * MS, compTotal: 60 * MS, compSelf: 6 * MS }
    const totals = { base: 100 * MS, comp: 200 * MS }
    for (const mode of ['normalized', 'absolute'] as const) {
      const diffNode: ChartNode = { ...node, diff: diffValues(raw, totals, mode) }
      const figures = frameFigures(diffNode, 'nanoseconds', 2, mode)
      expect(figures.map((f) => f.label)).toEqual(['Baseline', 'Comparison', 'Change', 'Self'])
      expect(figures[0]?.value).toBe(`${formatValue(20 * MS, 'nanoseconds')} (20%)`)
      expect(figures[1]?.value).toBe(`${formatValue(60 * MS, 'nanoseconds')} (30%)`)
      expect(figures[2]).toEqual({
        label: 'Change',
        value:
          mode === 'normalized'
            ? `${formatPoints(0.3 - 0.2)} of total`
            : formatChange(40 * MS, 'nanoseconds'),
        change: 'grew',
      })
    }
  })

  it('ignores diff values without a mode (a side of a split view)', () => {
    const raw = { baseTotal: 1, baseSelf: 1, compTotal: 2, compSelf: 2 }
    const diffNode = { ...node, diff: diffValues(raw, { base: 1, comp: 2 }, 'absolute') }
    expect(frameFigures(diffNode, 'nanoseconds', 100 * MS).map((f) => f.label)).toEqual([
      'Total',
      'Self',
    ])
  })
})

describe('formatPoints and formatChange', () => {
  it('sign the change', () => {
    expect(formatPoints(0.012)).toBe('+1.2 pp')
    expect(formatPoints(-0.5)).toBe('−50 pp')
    expect(formatChange(-2.5 * MS, 'nanoseconds')).toBe(`−${formatValue(2.5 * MS, 'nanoseconds')}`)
  })
})
