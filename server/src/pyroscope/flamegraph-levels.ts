import type { FlameNode } from '@kiln/wire'
import { toFlamebearer, wholeTree } from '../query/pyroscope-render.js'

/*
 * Flame graphs in the levels encoding of Pyroscope's querier API (`querier.v1.FlameGraph`,
 * `FlameGraphDiff`): one array of numbers per depth, the root `total` first at x = 0, each node's
 * x as the gap from the end of the previous node of its level. See
 * docs/design/grafana-pyroscope-api-notes.md, section 3.
 */

export interface LevelsGraph {
  names: string[]
  levels: { values: bigint[] }[]
  total: bigint
  maxSelf: bigint
}

export interface LevelsDiff extends LevelsGraph {
  leftTicks: bigint
  rightTicks: bigint
}

const int = (n: number) => BigInt(Math.round(n))

/** A tree as `FlameGraph` (4 numbers per node: x gap, total, self, name). */
export function toLevels(root: FlameNode): LevelsGraph {
  const graph = toFlamebearer({ ...root, name: 'total' })
  return {
    names: graph.names,
    levels: graph.levels.map((level) => ({ values: level.map(int) })),
    total: int(graph.numTicks),
    maxSelf: int(graph.maxSelf),
  }
}

interface Side {
  total: number
  self: number
}

interface PairNode {
  name: string
  left: Side
  right: Side
  children: PairNode[]
}

const EMPTY: Side = { total: 0, self: 0 }

/**
 * Two trees on one shape: a node wherever either has one (zero on the other side), children in
 * byte order of their names, as Pyroscope lays out a diff.
 */
function pair(left: FlameNode | undefined, right: FlameNode | undefined, name: string): PairNode {
  // Siblings are told apart by name and file, as Kiln's trees keep them (two `(anonymous)`
  // functions of different files are two frames).
  const key = (n: FlameNode) => `${n.name}\u0000${n.file ?? ''}`
  const byKey = new Map<string, { name: string; left?: FlameNode; right?: FlameNode }>()
  for (const child of left?.children ?? []) byKey.set(key(child), { name: child.name, left: child })
  for (const child of right?.children ?? []) {
    byKey.set(key(child), { name: child.name, ...byKey.get(key(child)), right: child })
  }
  const keys = [...byKey.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  return {
    name,
    left: left ? { total: left.value, self: left.self } : EMPTY,
    right: right ? { total: right.value, self: right.self } : EMPTY,
    children: keys.map((k) => {
      const c = byKey.get(k)!
      return pair(c.left, c.right, c.name)
    }),
  }
}

/**
 * Two trees as `FlameGraphDiff`: 7 numbers per node (left x gap, left total, left self, right x
 * gap, right total, right self, name); `total` is both sides', `leftTicks`/`rightTicks` each one's.
 */
export function toDiffLevels(leftTree: FlameNode, rightTree: FlameNode): LevelsDiff {
  const left = wholeTree(leftTree)
  const right = wholeTree(rightTree)
  const names: string[] = []
  const index = new Map<string, number>()
  const nameOf = (name: string) => {
    let i = index.get(name)
    if (i === undefined) {
      index.set(name, (i = names.length))
      names.push(name)
    }
    return i
  }
  const levels: number[][] = []
  const ends: { left: number; right: number }[] = []
  let maxSelf = 0
  const root = pair(left, right, 'total')
  const stack = [{ node: root, depth: 0, lx: 0, rx: 0 }]
  // Depth first, children left to right: each level's nodes come in x order on both sides.
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { node, depth, lx, rx } = item
    const level = (levels[depth] ??= [])
    const end = (ends[depth] ??= { left: 0, right: 0 })
    level.push(
      lx - end.left,
      node.left.total,
      node.left.self,
      rx - end.right,
      node.right.total,
      node.right.self,
      nameOf(node.name),
    )
    end.left = lx + node.left.total
    end.right = rx + node.right.total
    maxSelf = Math.max(maxSelf, node.left.self, node.right.self)
    // A node's own self comes first, then its children.
    let childL = lx + node.left.self
    let childR = rx + node.right.self
    const placed = node.children.map((child) => {
      const at = { node: child, depth: depth + 1, lx: childL, rx: childR }
      childL += child.left.total
      childR += child.right.total
      return at
    })
    for (let i = placed.length - 1; i >= 0; i--) stack.push(placed[i]!)
  }
  return {
    names,
    levels: levels.map((level) => ({ values: level.map(int) })),
    total: int(left.value + right.value),
    maxSelf: int(maxSelf),
    leftTicks: int(left.value),
    rightTicks: int(right.value),
  }
}
