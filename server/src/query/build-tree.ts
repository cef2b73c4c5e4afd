import { OTHER_NODE_NAME, type DiffNode, type FlameNode } from '@kiln/wire'

export interface StackValue {
  /** Root first. */
  functions: string[]
  files: string[]
  value: number
}

/** A stack with one value per window (one for a flame graph, two for a diff). */
export interface StackValues {
  /** Root first. */
  functions: string[]
  files: string[]
  values: readonly number[]
}

export const ROOT_NAME = 'total'
export const OTHER_NAME = OTHER_NODE_NAME

/** A call tree with `width` values per node, before truncation. */
interface TreeNode {
  name: string
  file: string
  total: number[]
  self: number[]
  children: TreeNode[]
  index: Map<string, TreeNode>
}

/** A node of a truncated tree. */
interface TruncatedNode {
  name: string
  file: string
  total: number[]
  self: number[]
  children: TruncatedNode[]
}

/**
 * Build a flame graph from (stack, value) pairs. Frames are the same node when both function
 * name and file match. `remainder` (value of stacks not fetched) goes to an "other" child of the
 * root, so the root always carries the window's full total. The tree keeps at most `maxNodes`
 * nodes (see {@link truncateTree}). Children are sorted by value, heaviest first.
 */
export function buildTree(stacks: StackValue[], remainder = 0, maxNodes = Infinity): FlameNode {
  const tree = buildValueTree(
    stacks.map((s) => ({ functions: s.functions, files: s.files, values: [s.value] })),
    [remainder],
  )
  return toFlameNode(truncateTree(tree, maxNodes, (n) => n.total[0]!))
}

/**
 * Build the merged tree of two windows. Truncation keeps the nodes with the largest share of
 * either window, so what matters in only one of them stays visible.
 */
export function buildDiffTree(
  stacks: StackValues[],
  totals: readonly [number, number],
  remainders: readonly [number, number],
  maxNodes = Infinity,
): DiffNode {
  const tree = buildValueTree(stacks, remainders)
  const share = (v: number, t: number): number => (t > 0 ? v / t : 0)
  const weight = (n: { total: number[] }): number =>
    Math.max(share(n.total[0]!, totals[0]), share(n.total[1]!, totals[1]))
  return toDiffNode(truncateTree(tree, maxNodes, weight))
}

/**
 * The call tree of `stacks`, each carrying `remainders.length` values. The remainders are not
 * attributed to any stack: they count in the root's total and become its "other" child.
 */
function buildValueTree(
  stacks: StackValues[],
  remainders: readonly number[],
): TreeNode & {
  remainders: readonly number[]
} {
  const width = remainders.length
  const root = { ...newNode(ROOT_NAME, '', width), remainders }
  remainders.forEach((r, i) => (root.total[i]! += r))
  for (const stack of stacks) {
    add(root.total, stack.values)
    let node: TreeNode = root
    stack.functions.forEach((name, i) => {
      const file = stack.files[i] ?? ''
      const key = `${name}\u0000${file}`
      let child = node.index.get(key)
      if (!child) {
        child = newNode(name, file, width)
        node.index.set(key, child)
        node.children.push(child)
      }
      add(child.total, stack.values)
      node = child
    })
    add(node.self, stack.values)
  }
  return root
}

/**
 * Keep at most `maxNodes` nodes (at least 2: the root and one "other"), the heaviest by `weight`
 * first, counting the "other" nodes. Every kept node whose children are not all kept gets one
 * child named "other" holding the sum of the left-out children, so `total === self +
 * sum(children.total)` stays exact at every node and the root keeps the window's total.
 *
 * Greedy best-first from the root: taking a node costs 1, plus 1 for the "other" it needs while
 * none of its children is taken, minus the "other" its parent no longer needs once its last child
 * is taken. It stops at the first node that does not fit, so no lighter node is shown while a
 * heavier one is folded.
 */
function truncateTree(
  root: TreeNode & { remainders?: readonly number[] },
  maxNodes: number,
  weight: (node: { total: number[] }) => number,
): TruncatedNode {
  const rootExtra = (root.remainders ?? []).some((r) => r !== 0)
  const kept = new Set<TreeNode>([root])
  const keptChildren = new Map<TreeNode, number>()
  let count = 1 + (root.children.length > 0 || rootExtra ? 1 : 0)
  const heap = new MaxHeap<{ node: TreeNode; parent: TreeNode; w: number }>((a, b) =>
    a.w !== b.w ? a.w - b.w : compareNodes(b.node, a.node),
  )
  const pushChildren = (parent: TreeNode): void => {
    for (const node of parent.children) heap.push({ node, parent, w: weight(node) })
  }
  pushChildren(root)
  for (let next = heap.pop(); next; next = heap.pop()) {
    const { node, parent } = next
    const siblingsKept = (keptChildren.get(parent) ?? 0) + 1
    const parentDone = siblingsKept === parent.children.length && !(parent === root && rootExtra)
    const delta = 1 + (node.children.length > 0 ? 1 : 0) - (parentDone ? 1 : 0)
    if (count + delta > maxNodes) break
    count += delta
    kept.add(node)
    keptChildren.set(parent, siblingsKept)
    pushChildren(node)
  }

  const emit = (node: TreeNode, extra: readonly number[] | undefined): TruncatedNode => {
    const width = node.total.length
    const children: TruncatedNode[] = []
    const folded = new Array<number>(width).fill(0)
    if (extra) add(folded, extra)
    for (const child of node.children) {
      if (kept.has(child)) children.push(emit(child, undefined))
      else add(folded, child.total)
    }
    if (folded.some((v) => v !== 0)) {
      children.push({
        name: OTHER_NAME,
        file: '',
        total: folded,
        self: [...folded],
        children: [],
      })
    }
    children.sort((a, b) => weight(b) - weight(a) || compareNodes(a, b))
    return {
      name: node.name,
      file: node.file,
      total: node.total,
      self: node.self,
      children,
    }
  }
  return emit(root, root.remainders)
}

function toFlameNode(node: TruncatedNode): FlameNode {
  const out: FlameNode = {
    name: node.name,
    value: node.total[0]!,
    self: node.self[0]!,
    children: node.children.map(toFlameNode),
  }
  if (node.file) out.file = node.file
  return out
}

function toDiffNode(node: TruncatedNode): DiffNode {
  return {
    name: node.name,
    ...(node.file ? { file: node.file } : {}),
    baseTotal: node.total[0]!,
    baseSelf: node.self[0]!,
    compTotal: node.total[1]!,
    compSelf: node.self[1]!,
    children: node.children.map(toDiffNode),
  }
}

function newNode(name: string, file: string, width: number): TreeNode {
  return {
    name,
    file,
    total: new Array<number>(width).fill(0),
    self: new Array<number>(width).fill(0),
    children: [],
    index: new Map(),
  }
}

function add(into: number[], values: readonly number[]): void {
  for (let i = 0; i < into.length; i++) into[i]! += values[i] ?? 0
}

function compareNodes(
  a: { name: string; file: string },
  b: { name: string; file: string },
): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.file < b.file ? -1 : a.file > b.file ? 1 : 0
}

/** A binary max-heap by `compare` (positive when `a` ranks above `b`). */
class MaxHeap<T> {
  readonly #items: T[] = []
  readonly #compare: (a: T, b: T) => number

  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare
  }

  push(item: T): void {
    const items = this.#items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.#compare(items[i]!, items[parent]!) <= 0) break
      ;[items[i], items[parent]] = [items[parent]!, items[i]!]
      i = parent
    }
  }

  pop(): T | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last !== undefined) {
      items[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let best = i
        if (l < items.length && this.#compare(items[l]!, items[best]!) > 0) best = l
        if (r < items.length && this.#compare(items[r]!, items[best]!) > 0) best = r
        if (best === i) break
        ;[items[i], items[best]] = [items[best]!, items[i]!]
        i = best
      }
    }
    return top
  }
}
