import type { DiffNode, FlameNode } from '@kiln/wire'

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

export interface Flamebearer {
  names: string[]
  /** Per depth, 4 numbers per node: x offset from the previous node's end, total, self, name. */
  levels: number[][]
  numTicks: number
  maxSelf: number
}

/**
 * The tree in whole numbers, as Pyroscope's encodings hold them: a gauge's averages (heap in use)
 * are fractional, and rounding each number on its own would let children overrun their parent.
 * Each node's self is rounded and its total rebuilt from its children's, bottom up; a tree of
 * whole numbers is returned as it is.
 */
export function wholeTree(root: FlameNode): FlameNode {
  const fractional = (n: FlameNode): boolean =>
    !Number.isInteger(n.value) || !Number.isInteger(n.self) || n.children.some(fractional)
  if (!fractional(root)) return root
  const whole = (n: FlameNode): FlameNode => {
    const children = n.children.map(whole)
    const self = Math.round(n.self)
    return { ...n, self, value: children.reduce((sum, c) => sum + c.value, self), children }
  }
  return whole(root)
}

interface Side {
  total: number
  self: number
}

/** A node on one or more sides (one for a flame graph, two for a diff). */
interface LaidNode {
  name: string
  sides: Side[]
  children: LaidNode[]
}

/**
 * Pyroscope's levels of a tree: per node, for each side, its x as the gap from the end of the
 * previous node of its level on that side, its total and self; then its name's index. On each
 * side a node's own self comes first, then its children left to right (Pyroscope's layout).
 */
function layOut(root: LaidNode): { names: string[]; levels: number[][]; maxSelf: number } {
  const names: string[] = []
  const index = new Map<string, number>()
  const nameOf = (name: string): number => {
    let i = index.get(name)
    if (i === undefined) {
      index.set(name, (i = names.length))
      names.push(name)
    }
    return i
  }
  const levels: number[][] = []
  /** Per level and side, where its previous node ends. */
  const ends: number[][] = []
  let maxSelf = 0
  const stack = [{ node: root, depth: 0, xs: root.sides.map(() => 0) }]
  // Depth first, children left to right: each level's nodes come in x order on every side.
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { node, depth, xs } = item
    const level = (levels[depth] ??= [])
    const end = (ends[depth] ??= node.sides.map(() => 0))
    node.sides.forEach((side, s) => {
      level.push(xs[s]! - end[s]!, side.total, side.self)
      end[s] = xs[s]! + side.total
      maxSelf = Math.max(maxSelf, side.self)
    })
    level.push(nameOf(node.name))
    const next = node.sides.map((side, s) => xs[s]! + side.self)
    const placed = node.children.map((child) => {
      const at = { node: child, depth: depth + 1, xs: [...next] }
      child.sides.forEach((side, s) => (next[s]! += side.total))
      return at
    })
    for (let i = placed.length - 1; i >= 0; i--) stack.push(placed[i]!)
  }
  return { names, levels, maxSelf }
}

/** A flame tree in Pyroscope's "single" flamebearer encoding (root `total` at x = 0). */
export function toFlamebearer(tree: FlameNode): Flamebearer {
  const root = wholeTree(tree)
  const laid = (n: FlameNode): LaidNode => ({
    name: n.name,
    sides: [{ total: n.value, self: n.self }],
    children: n.children.map(laid),
  })
  const { names, levels, maxSelf } = layOut(laid(root))
  return { names, levels, numTicks: root.value, maxSelf }
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

const EMPTY: Side = { total: 0, self: 0 }

/**
 * Two trees on one shape: a node wherever either has one (zero on the other side), children in
 * byte order of their names, as Pyroscope lays out a diff.
 */
function pair(left: FlameNode | undefined, right: FlameNode | undefined, name: string): LaidNode {
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
    sides: [
      left ? { total: left.value, self: left.self } : EMPTY,
      right ? { total: right.value, self: right.self } : EMPTY,
    ],
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
  const { names, levels, maxSelf } = layOut(pair(left, right, 'total'))
  return {
    names,
    levels: levels.map((level) => ({ values: level.map(int) })),
    total: int(left.value + right.value),
    maxSelf: int(maxSelf),
    leftTicks: int(left.value),
    rightTicks: int(right.value),
  }
}

/**
 * The two sides of one of Kiln's diff trees (`buildDiffTree`) as flame trees, for
 * {@link toDiffLevels}: a node only one side has is at 0 on the other.
 */
export function diffSides(root: DiffNode): [FlameNode, FlameNode] {
  const side = (node: DiffNode, base: boolean): FlameNode => ({
    name: node.name,
    ...(node.file === undefined ? {} : { file: node.file }),
    value: base ? node.baseTotal : node.compTotal,
    self: base ? node.baseSelf : node.compSelf,
    children: node.children.map((c) => side(c, base)),
  })
  return [side(root, true), side(root, false)]
}
