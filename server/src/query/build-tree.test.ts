import { describe, expect, it } from 'vitest'
import type { FlameNode } from '@kiln/wire'
import { buildDiffTree, buildTree, OTHER_NAME, type StackValue } from './build-tree.js'

describe('buildTree', () => {
  const stacks = [
    { functions: ['main', 'a', 'b'], files: ['m.js', 'a.js', 'b.js'], value: 5 },
    { functions: ['main', 'a'], files: ['m.js', 'a.js'], value: 3 },
    { functions: ['main', 'c'], files: ['m.js', 'c.js'], value: 7 },
    { functions: ['main', 'a'], files: ['m.js', 'other-a.js'], value: 2 },
  ]

  it('sums totals and selfs from the stacks', () => {
    const root = buildTree(stacks)
    const sum = stacks.reduce((s, x) => s + x.value, 0)
    expect(root.value).toBe(sum)
    const main = root.children[0]!
    expect(main).toMatchObject({ name: 'main', value: sum, self: 0 })
    expect(main.children.map((c) => [c.name, c.file, c.value, c.self])).toEqual(
      [
        ['a', 'a.js', 5 + 3, 3],
        ['c', 'c.js', 7, 7],
        ['a', 'other-a.js', 2, 2],
      ].sort((x, y) => (y[2] as number) - (x[2] as number)),
    )
  })

  it('puts the remainder under other', () => {
    const root = buildTree(stacks.slice(0, 1), 11)
    expect(root.value).toBe(5 + 11)
    expect(root.children.find((c) => c.name === OTHER_NAME)).toMatchObject({ value: 11, self: 11 })
  })
})

describe('buildTree with maxNodes', () => {
  // A deterministic pseudo-random generator, so a failure reproduces.
  const random = (seed: number) => () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }
  const randomStacks = (seed: number, count: number): StackValue[] => {
    const next = random(seed)
    return Array.from({ length: count }, () => {
      const depth = 1 + Math.floor(next() * 6)
      const functions = Array.from({ length: depth }, () => `f${Math.floor(next() * 5)}`)
      return {
        functions,
        files: functions.map((f) => `${f}.js`),
        value: 1 + Math.floor(next() * 100),
      }
    })
  }
  const count = (n: FlameNode): number => 1 + n.children.reduce((s, c) => s + count(c), 0)
  const walk = (n: FlameNode, path: string[], visit: (n: FlameNode, path: string[]) => void) => {
    visit(n, path)
    for (const c of n.children) walk(c, [...path, c.name], visit)
  }

  it.each([2, 3, 5, 10, 40, 100, 1000])('keeps at most %i nodes with exact totals', (maxNodes) => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const stacks = randomStacks(seed, 60)
      const full = buildTree(stacks, 17)
      const cut = buildTree(stacks, 17, maxNodes)
      expect(count(cut)).toBeLessThanOrEqual(Math.max(maxNodes, 2))
      expect(cut.value).toBe(full.value)
      const fullByPath = new Map<string, FlameNode>()
      walk(full, [], (n, path) => fullByPath.set(path.join('/'), n))
      walk(cut, [], (n, path) => {
        // Every node is whole: its own value plus its children's.
        expect(n.value).toBe(n.self + n.children.reduce((s, c) => s + c.value, 0))
        expect(
          n.children.filter((c) => c.name === OTHER_NAME && !c.file).length,
        ).toBeLessThanOrEqual(1)
        if (n.name === OTHER_NAME) return
        // A kept node has the value of the same node in the full tree.
        expect(fullByPath.get(path.join('/'))).toMatchObject({ value: n.value, self: n.self })
      })
      if (maxNodes >= count(full)) expect(cut).toEqual(full)
    }
  })

  it('folds the lightest children of a parent into other', () => {
    const s = (fn: string, value: number) => ({
      functions: ['main', fn],
      files: ['m.js', 'x.js'],
      value,
    })
    const root = buildTree([s('a', 50), s('b', 30), s('c', 15), s('d', 5)], 0, 5)
    // total, main, a, b, other(c+d): five nodes.
    expect(root.children[0]!.children.map((c) => [c.name, c.value, c.self])).toEqual([
      ['a', 50, 50],
      ['b', 30, 30],
      [OTHER_NAME, 20, 20],
    ])
  })

  it('merges the unfetched remainder with folded root children', () => {
    const root = buildTree(
      [
        { functions: ['a'], files: ['a.js'], value: 10 },
        { functions: ['b'], files: ['b.js'], value: 3 },
      ],
      4,
      3,
    )
    expect(root.value).toBe(17)
    expect(root.children.map((c) => [c.name, c.value])).toEqual([
      ['a', 10],
      [OTHER_NAME, 7],
    ])
  })
})

describe('buildDiffTree', () => {
  it('carries both windows and keeps what matters in either', () => {
    const stack = (fn: string, base: number, comp: number) => ({
      functions: ['main', fn],
      files: ['m.js', `${fn}.js`],
      values: [base, comp],
    })
    const stacks = [stack('a', 70, 10), stack('b', 20, 0), stack('c', 0, 80), stack('d', 10, 10)]
    const full = buildDiffTree(stacks, [100, 100], [0, 0])
    expect(full).toMatchObject({ baseTotal: 100, compTotal: 100, baseSelf: 0, compSelf: 0 })
    expect(full.children[0]!.children.map((c) => c.name)).toEqual(['c', 'a', 'b', 'd'])
    // total, main, c (80% of the comparison), a (70% of the baseline), other(b, d).
    const cut = buildDiffTree(stacks, [100, 100], [0, 0], 5)
    expect(
      cut.children[0]!.children.map((c) => [c.name, c.baseTotal, c.compTotal, c.baseSelf]),
    ).toEqual([
      ['c', 0, 80, 0],
      ['a', 70, 10, 70],
      [OTHER_NAME, 30, 10, 30],
    ])
  })
})
