import type { FlameNode } from '@kiln/wire'

/** Self value of every function name, summed over all the places it appears in the tree. */
export function selfByName(root: FlameNode): Map<string, number> {
  const out = new Map<string, number>()
  const visit = (node: FlameNode): void => {
    if (node.self > 0) out.set(node.name, (out.get(node.name) ?? 0) + node.self)
    node.children.forEach(visit)
  }
  root.children.forEach(visit)
  return out
}

/** Function names ranked by self value, heaviest first. */
export function rankBySelf(root: FlameNode): [string, number][] {
  return [...selfByName(root)].sort((a, b) => b[1] - a[1])
}
