import { describe, expect, it } from 'vitest'
import type { FlameNode } from '@kiln/wire'
import { toDiffLevels, toLevels } from '../src/pyroscope/flamegraph-levels.js'
import { decodeLevels, plainTree, type PlainNode } from './helpers/flame-levels.js'

/*
 * Pyroscope's levels encodings of trees Kiln builds: gauge averages (fractional) and sibling
 * frames that share a name.
 */

const node = (
  name: string,
  self: number,
  children: FlameNode[] = [],
  file?: string,
): FlameNode => ({
  name,
  ...(file === undefined ? {} : { file }),
  self,
  value: children.reduce((sum, c) => sum + c.value, self),
  children,
})

/** Every node's children inside it, and its total its self plus theirs. */
function expectConsistent(n: PlainNode): void {
  expect(n.value, n.name).toBe(n.children.reduce((sum, c) => sum + c.value, n.self))
  n.children.forEach(expectConsistent)
}

describe("Pyroscope's levels encodings", () => {
  it('keeps a fractional tree (heap averages) whole and consistent, each node near its value', () => {
    const tree = node('total', 0, [
      node('main', 0.4, [node('a', 0.5), node('b', 0.5), node('c', 0.5), node('d', 0.5)]),
      node('gc', 2.6),
    ])
    const graph = toLevels(tree)
    const decoded = decodeLevels(
      graph.names,
      graph.levels.map((l) => l.values.map(Number)),
    )
    expectConsistent(decoded)
    expect(decoded.children.map((c) => c.name).sort()).toEqual(['gc', 'main'])
    expect(Number(graph.total)).toBe(decoded.value)
    // Each self rounded: no node is off by more than its own rounding and its children's.
    expect(Math.abs(decoded.value - tree.value)).toBeLessThanOrEqual(6 * 0.5)
  })

  it('diffs sibling frames of one name in different files as two frames', () => {
    const side = (a: number, b: number) =>
      node('total', 0, [
        node('main', 0, [node('(anonymous)', a, [], 'a.js'), node('(anonymous)', b, [], 'b.js')]),
      ])
    const diff = toDiffLevels(side(70, 30), side(10, 90))
    const levels = diff.levels.map((l) => l.values.map(Number))
    const left = decodeLevels(diff.names, levels, 7, 0)
    const right = decodeLevels(diff.names, levels, 7, 3)
    expect(plainTree(left)).toEqual(plainTree(side(70, 30)))
    expect(plainTree(right)).toEqual(plainTree(side(10, 90)))
    expect([Number(diff.leftTicks), Number(diff.rightTicks)]).toEqual([100, 100])
  })
})
