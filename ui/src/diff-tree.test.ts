import type { DiffNode, DiffResponse, FlameNode } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import {
  SAME_THRESHOLD,
  defaultDiffMode,
  diffChartTree,
  diffColor,
  diffValues,
  sideTree,
  type ChartNode,
} from './diff-tree'

function node(name: string, base: number, comp: number, children: DiffNode[] = []): DiffNode {
  const baseChildren = children.reduce((sum, c) => sum + c.baseTotal, 0)
  const compChildren = children.reduce((sum, c) => sum + c.compTotal, 0)
  return {
    name,
    file: `${name}.js`,
    baseTotal: base + baseChildren,
    baseSelf: base,
    compTotal: comp + compChildren,
    compSelf: comp,
    children,
  }
}

// Baseline 600 (render 300, parse 200, hash 100); comparison 1000 with parse tripled and a new gc.
const parse = node('parse', 200, 600)
const render = node('render', 300, 300)
const hash = node('hash', 100, 60)
const gc = node('gc', 0, 40)
const root = node('total', 0, 0, [node('main', 0, 0, [parse, render, hash]), gc])

function response(tree: DiffNode): DiffResponse {
  const window = (total: number) => ({
    from: 0,
    to: 1,
    query: '{}',
    total,
    stacks: 1,
    coverageMs: 0,
  })
  const empty = { grew: [], shrank: [] }
  return {
    service: 's',
    type: 'cpu',
    unit: 'nanoseconds',
    aggregation: 'cumulative',
    baseline: window(tree.baseTotal),
    comparison: window(tree.compTotal),
    comparisonScale: 1,
    root: tree,
    changes: { rankBy: 'share', self: empty, total: empty },
  }
}

function find(tree: ChartNode, name: string): ChartNode {
  const stack = [tree]
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    if (n.name === name) return n
    stack.push(...n.children)
  }
  throw new Error(`no ${name}`)
}

function expectConsistent(n: FlameNode): void {
  const children = n.children.reduce((sum, c) => sum + c.value, 0)
  expect(n.value).toBeCloseTo(n.self + children, 9)
  n.children.forEach(expectConsistent)
}

describe('diffValues', () => {
  const totals = { base: root.baseTotal, comp: root.compTotal }

  it('marks a function whose share grew as grown, in both modes', () => {
    for (const mode of ['normalized', 'absolute'] as const) {
      expect(diffValues(parse, totals, mode).kind).toBe('grew')
    }
  })

  it('tells a smaller share from a smaller value', () => {
    // Same time in a busier window: a smaller share, the same value.
    expect(diffValues(render, totals, 'normalized').kind).toBe('shrank')
    expect(diffValues(render, totals, 'absolute').kind).toBe('same')
  })

  it('gives +1 to what appeared and -1 to what vanished', () => {
    expect(diffValues(gc, totals, 'absolute').relative).toBe(1)
    expect(diffValues(node('x', 5, 0), totals, 'absolute').relative).toBe(-1)
  })

  it('computes shares and changes from the window totals', () => {
    const v = diffValues(parse, totals, 'normalized')
    expect(v.baseShare).toBeCloseTo(parse.baseTotal / totals.base)
    expect(v.compShare).toBeCloseTo(parse.compTotal / totals.comp)
    expect(v.change).toBeCloseTo(v.compShare - v.baseShare)
    expect(diffValues(parse, totals, 'absolute').change).toBe(parse.compTotal - parse.baseTotal)
  })

  it('puts the comparison at the baseline coverage in absolute mode', () => {
    // The comparison collected a quarter of the instance-seconds with the same load per instance.
    const same = node('work', 1200, 300)
    const scaled = diffValues(same, { base: 2000, comp: 500, scale: 4 }, 'absolute')
    expect(scaled).toMatchObject({ change: 300 * 4 - 1200, kind: 'same' })
    expect(diffValues(same, { base: 2000, comp: 500 }, 'absolute').kind).toBe('shrank')
  })

  it('treats changes under the threshold as the same', () => {
    const tiny = node('t', 1000, 1000 * (1 + SAME_THRESHOLD / 2))
    expect(diffValues(tiny, { base: 1, comp: 1 }, 'absolute').kind).toBe('same')
  })

  it('does not divide by empty windows', () => {
    const v = diffValues(parse, { base: 0, comp: 0 }, 'normalized')
    expect(v).toMatchObject({ baseShare: 0, compShare: 0, relative: 0, kind: 'same' })
  })
})

describe('diffChartTree', () => {
  it('keeps value === self + children in both modes', () => {
    for (const mode of ['normalized', 'absolute'] as const) {
      expectConsistent(diffChartTree(response(root), mode))
    }
  })

  it('sizes frames by both values (absolute) or both shares (normalized)', () => {
    const absolute = diffChartTree(response(root), 'absolute')
    expect(find(absolute, 'parse').value).toBe(parse.baseTotal + parse.compTotal)
    const normalized = diffChartTree(response(root), 'normalized')
    expect(normalized.value).toBeCloseTo(2)
    expect(find(normalized, 'parse').value).toBeCloseTo(
      parse.baseTotal / root.baseTotal + parse.compTotal / root.compTotal,
    )
  })

  it('keeps names and files, and attaches the diff values', () => {
    const tree = diffChartTree(response(root), 'normalized')
    expect(find(tree, 'gc')).toMatchObject({ file: 'gc.js', diff: { kind: 'grew' } })
    expect(find(tree, 'hash').diff?.kind).toBe('shrank')
  })
})

describe('sideTree', () => {
  it('gives each window its own values and leaves out what it lacks', () => {
    const base = sideTree(root, 'base')
    const comp = sideTree(root, 'comp')
    expect(base.value).toBe(root.baseTotal)
    expect(comp.value).toBe(root.compTotal)
    expect(base.children.map((c) => c.name)).toEqual(['main'])
    expect(comp.children.map((c) => c.name)).toEqual(['main', 'gc'])
    expectConsistent(base)
    expectConsistent(comp)
  })
})

describe('diffColor', () => {
  it('is red for growth, blue for shrinkage and grey for none', () => {
    const rgb = (color: string) => color.match(/\d+/g)!.map(Number) as [number, number, number]
    const [r1, , b1] = rgb(diffColor({ kind: 'grew', relative: 0.8 }))
    expect(r1).toBeGreaterThan(b1)
    const [r2, , b2] = rgb(diffColor({ kind: 'shrank', relative: -0.8 }))
    expect(b2).toBeGreaterThan(r2)
    expect(diffColor({ kind: 'same', relative: 0.01 })).toBe(
      diffColor({ kind: 'same', relative: -0.01 }),
    )
  })

  it('is stronger for larger changes', () => {
    const green = (relative: number) =>
      Number(diffColor({ kind: 'grew', relative }).match(/\d+/g)![1])
    expect(green(1)).toBeLessThan(green(0.2))
  })
})

describe('defaultDiffMode', () => {
  it('compares heap in use by bytes and the rest by share', () => {
    expect(defaultDiffMode('gauge')).toBe('absolute')
    expect(defaultDiffMode('cumulative')).toBe('normalized')
  })
})
