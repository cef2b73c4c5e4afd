import type { FlameNode } from '@kiln/wire'

/*
 * Pyroscope's flame graph levels read back into trees, independently of the server's encoder:
 * a node's x is the end of the previous node of its level plus its gap, and its parent is the
 * node of the level above whose span holds that x.
 */

export interface PlainNode {
  name: string
  value: number
  self: number
  children: PlainNode[]
}

interface Placed {
  name: string
  value: number
  self: number
  children: Placed[]
  x: number
}

/**
 * One side of levels with `width` numbers per node: `[gap, total, self]` at `offset` of each
 * node, its name index last. Nodes whose total is 0 on this side are left out (a diff's other side).
 */
export function decodeLevels(
  names: readonly string[],
  levels: readonly (readonly number[])[],
  width = 4,
  offset = 0,
): PlainNode {
  const byLevel: Placed[][] = levels.map((level) => {
    const nodes: Placed[] = []
    let end = 0
    for (let i = 0; i < level.length; i += width) {
      const x = end + level[i + offset]!
      const value = level[i + offset + 1]!
      end = x + value
      if (value === 0) continue
      const name = names[level[i + width - 1]!]!
      nodes.push({ name, value, self: level[i + offset + 2]!, children: [], x })
    }
    return nodes
  })
  for (let d = 1; d < byLevel.length; d++) {
    for (const child of byLevel[d]!) {
      const parent = byLevel[d - 1]!.find((p) => child.x >= p.x && child.x < p.x + p.value)
      if (!parent) throw new Error(`no parent for ${child.name} at depth ${d}, x ${child.x}`)
      parent.children.push(child)
    }
  }
  const strip = (n: Placed): PlainNode => ({
    name: n.name,
    value: n.value,
    self: n.self,
    children: n.children.map(strip),
  })
  return strip(byLevel[0]![0]!)
}

/** A flame tree with its children sorted by name, as plain data (for `toEqual`). */
export function plainTree(n: FlameNode | PlainNode): PlainNode {
  return {
    name: n.name,
    value: n.value,
    self: n.self,
    children: n.children
      .map(plainTree)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  }
}
