import type { DiffNode } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import { DIFF_SCALE_TICKS, diffScaleGradient, diffScaleStops, largestChanges } from './diff-scale'
import { SAME_THRESHOLD, diffChartTree, diffColor, diffValues } from './diff-tree'

function node(name: string, base: number, comp: number, children: DiffNode[] = []): DiffNode {
  return {
    name,
    baseTotal: base + children.reduce((sum, c) => sum + c.baseTotal, 0),
    baseSelf: base,
    compTotal: comp + children.reduce((sum, c) => sum + c.compTotal, 0),
    compSelf: comp,
    children,
  }
}

describe('diffScaleStops', () => {
  const stops = diffScaleStops()
  const at = (offset: number) => stops.find((stop) => Math.abs(stop.offset - offset) < 1e-12)

  it('runs from the colour of a vanished frame through grey to that of a new one', () => {
    expect(stops[0]).toEqual({ offset: 0, color: diffColor({ relative: -1, kind: 'shrank' }) })
    expect(stops.at(-1)).toEqual({ offset: 1, color: diffColor({ relative: 1, kind: 'grew' }) })
    expect(at(0.5)?.color).toBe(diffColor({ relative: 0, kind: 'same' }))
    const offsets = stops.map((stop) => stop.offset)
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b))
  })

  it('has the colour a frame with each sampled change is drawn in', () => {
    const totals = { base: 1000, comp: 1000 }
    for (const [base, comp] of [
      [100, 50],
      [100, 200],
      [100, 0],
      [0, 100],
      [100, 100],
      [100, 80],
      [80, 100],
    ] as const) {
      const values = diffValues(node('f', base, comp), totals, 'absolute')
      const stop = at((values.relative + 1) / 2)
      expect(stop?.color, `${base} -> ${comp}`).toBe(diffColor(values))
    }
  })

  it('jumps from grey at the threshold under which changes are drawn neutral', () => {
    const grey = diffColor({ relative: 0, kind: 'same' })
    const inside = stops.filter((stop) => Math.abs(stop.offset * 2 - 1) < SAME_THRESHOLD)
    expect(inside.length).toBeGreaterThan(1)
    for (const stop of inside) expect(stop.color).toBe(grey)
    expect(at((1 + SAME_THRESHOLD) / 2)?.color).not.toBe(grey)
    expect(at((1 - SAME_THRESHOLD) / 2)?.color).not.toBe(grey)
  })

  it('makes a CSS gradient of every stop', () => {
    const gradient = diffScaleGradient(stops)
    expect(gradient.startsWith('linear-gradient(to right, ')).toBe(true)
    expect(gradient.split('%,').length).toBe(stops.length)
  })
})

describe('DIFF_SCALE_TICKS', () => {
  it('puts a halving and a doubling where their relative change is', () => {
    const totals = { base: 1000, comp: 1000 }
    const relative = (base: number, comp: number) =>
      diffValues(node('f', base, comp), totals, 'absolute').relative
    const offset = (label: string) => DIFF_SCALE_TICKS.find((t) => t.label === label)?.offset
    expect(offset('×½')).toBeCloseTo((relative(100, 50) + 1) / 2, 9)
    expect(offset('×2')).toBeCloseTo((relative(100, 200) + 1) / 2, 9)
    expect(offset('gone')).toBeCloseTo((relative(100, 0) + 1) / 2, 9)
    expect(offset('new')).toBeCloseTo((relative(0, 100) + 1) / 2, 9)
  })
})

describe('largestChanges', () => {
  // Baseline 600, comparison 1000: parse 200 -> 600, hash 100 -> 60, a new gc of 40.
  const diff = node('total', 0, 0, [
    node('main', 0, 0, [node('parse', 200, 600), node('render', 300, 300), node('hash', 100, 60)]),
    node('gc', 0, 40),
  ])
  const response = {
    service: 's',
    type: 'cpu',
    unit: 'nanoseconds' as const,
    aggregation: 'cumulative' as const,
    baseline: { from: 0, to: 1, query: '{}', total: 600, stacks: 1, coverageMs: 0 },
    comparison: { from: 0, to: 1, query: '{}', total: 1000, stacks: 1, coverageMs: 0 },
    comparisonScale: 1,
    root: diff,
    changes: {
      rankBy: 'share' as const,
      self: { grew: [], shrank: [] },
      total: { grew: [], shrank: [] },
    },
  }

  it('finds the largest growth and shrinking below the root, in the mode’s units', () => {
    const absolute = largestChanges(diffChartTree(response, 'absolute'))
    // parse: 200 -> 600 (more than main, 600 -> 960); hash: 100 -> 60.
    expect(absolute).toEqual({ grew: 600 - 200, shrank: 60 - 100 })
    const normalized = largestChanges(diffChartTree(response, 'normalized'))
    // parse: 200/600 -> 600/1000; render: 300/600 -> 300/1000.
    expect(normalized.grew).toBeCloseTo(600 / 1000 - 200 / 600, 12)
    expect(normalized.shrank).toBeCloseTo(300 / 1000 - 300 / 600, 12)
  })
})
