import type { DiffNode, FlameNode } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import { packageChanges, packageTotals } from './package-totals'

const EXPRESS = '/app/node_modules/express/lib/router/index.js'
const SCOPED = '/app/node_modules/.pnpm/@scope+lib@1.0.0/node_modules/@scope/lib/index.js'
const OWN = '/app/src/orders.js'

/** A frame: `[name, file, baseSelf, compSelf, children]`; totals are derived. */
type Spec = [name: string, file: string | undefined, base: number, comp: number, Spec[]?]

/** Which group each fixture file is in, as the reader expects it (not as the code reads it). */
const GROUP_OF_FILE = new Map<string | undefined, string>([
  [EXPRESS, 'express'],
  [SCOPED, '@scope/lib'],
  [OWN, ':own'],
  ['node:internal/timers', ':node'],
  [undefined, ':unknown'],
])
const groupOf = ([name, file]: Spec): string =>
  name === '(garbage collector)' ? ':runtime' : GROUP_OF_FILE.get(file)!

// Own code called by express and express called by own code: self goes to the frame's own group,
// never to its callers'. `handle` recurses and appears under two parents.
const TREE: Spec = [
  'total',
  undefined,
  0,
  0,
  [
    [
      'main',
      OWN,
      5,
      5,
      [
        [
          'handle',
          EXPRESS,
          30,
          60,
          [
            ['handleOrder', OWN, 200, 200],
            ['validate', SCOPED, 100, 100, [['handle', EXPRESS, 10, 40]]],
          ],
        ],
        ['listOnTimeout', 'node:internal/timers', 25, 5],
      ],
    ],
    ['(garbage collector)', undefined, 45, 20],
    ['other', undefined, 7, 0],
  ],
]

function flame([name, file, base, , children = []]: Spec): FlameNode {
  const kids = children.map(flame)
  const node: FlameNode = {
    name,
    value: base + kids.reduce((sum, c) => sum + c.value, 0),
    self: base,
    children: kids,
  }
  if (file !== undefined) node.file = file
  return node
}

function diff([name, file, base, comp, children = []]: Spec): DiffNode {
  const kids = children.map(diff)
  const node: DiffNode = {
    name,
    baseSelf: base,
    compSelf: comp,
    baseTotal: base + kids.reduce((sum, c) => sum + c.baseTotal, 0),
    compTotal: comp + kids.reduce((sum, c) => sum + c.compTotal, 0),
    children: kids,
  }
  if (file !== undefined) node.file = file
  return node
}

/** Expected sums per group, by a plain walk over the spec. */
function expectedSums(spec: Spec): Map<string, [number, number]> {
  const sums = new Map<string, [number, number]>()
  const walk = (s: Spec) => {
    const [base, comp] = sums.get(groupOf(s)) ?? [0, 0]
    sums.set(groupOf(s), [base + s[2], comp + s[3]])
    for (const child of s[4] ?? []) walk(child)
  }
  walk(spec)
  return sums
}

describe('packageTotals', () => {
  const root = flame(TREE)
  const expected = expectedSums(TREE)

  it("sums each frame's self into its group, adding up to the root's total", () => {
    const rows = packageTotals(root, root.value)
    const sums = new Map(rows.map((r) => [r.key, r.self]))
    for (const [key, [base]] of expected) {
      if (base > 0) expect(sums.get(key)).toBe(base)
    }
    expect(rows.reduce((sum, r) => sum + r.self, 0)).toBe(root.value)
    for (const row of rows) expect(row.share).toBeCloseTo(row.self / root.value, 12)
  })

  it('ranks the groups by self, largest first, and leaves out empty ones', () => {
    const rows = packageTotals(root, root.value)
    const order = [...expected]
      .filter(([, [base]]) => base > 0)
      .sort((a, b) => b[1][0] - a[1][0])
      .map(([key]) => key)
    expect(rows.map((r) => r.key)).toEqual(order)
    expect(packageTotals(flame(['total', undefined, 0, 0]), 0)).toEqual([])
  })
})

describe('packageChanges', () => {
  const root = diff(TREE)
  const totals = { base: root.baseTotal, comp: root.compTotal }
  const expected = expectedSums(TREE)

  it('sums base and comparison self per group, with shares of each window', () => {
    const rows = packageChanges(root, totals)
    expect(rows.map((r) => r.key).sort()).toEqual([...expected.keys()].sort())
    for (const row of rows) {
      const [base, comp] = expected.get(row.key)!
      expect([row.baseSelf, row.compSelf]).toEqual([base, comp])
      expect(row.baseShare).toBeCloseTo(base / totals.base, 12)
      expect(row.compShare).toBeCloseTo(comp / totals.comp, 12)
      expect(row.change).toBeCloseTo(comp / totals.comp - base / totals.base, 12)
    }
    expect(rows.reduce((sum, r) => sum + r.baseSelf, 0)).toBe(totals.base)
    expect(rows.reduce((sum, r) => sum + r.compSelf, 0)).toBe(totals.comp)
  })

  it('ranks by change of share, the group that grew most first', () => {
    const change = (key: string) => {
      const [base, comp] = expected.get(key)!
      return comp / totals.comp - base / totals.base
    }
    const order = [...expected.keys()].sort((a, b) => change(b) - change(a))
    const rows = packageChanges(root, totals)
    expect(rows.map((r) => r.key)).toEqual(order)
    // The fixture is built so that express grows most.
    expect(rows[0]?.key).toBe('express')
  })

  it('reads an empty window as no share', () => {
    const rows = packageChanges(root, { base: 0, comp: totals.comp })
    for (const row of rows) expect(row.baseShare).toBe(0)
  })
})
