import { describe, expect, it } from 'vitest'
import { buildTree, OTHER_NAME } from './build-tree.js'

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
