import type { FlameNode } from '@kiln/wire'

/**
 * Self value of every function name, summed over all the places it appears in the tree; with
 * `keep`, of the nodes it keeps only.
 */
export function selfByName(
  root: FlameNode,
  keep: (node: FlameNode) => boolean = () => true,
): Map<string, number> {
  const out = new Map<string, number>()
  const visit = (node: FlameNode): void => {
    if (node.self > 0 && keep(node)) out.set(node.name, (out.get(node.name) ?? 0) + node.self)
    node.children.forEach(visit)
  }
  root.children.forEach(visit)
  return out
}

/** Function names ranked by self value, heaviest first (`keep` as in {@link selfByName}). */
export function rankBySelf(
  root: FlameNode,
  keep?: (node: FlameNode) => boolean,
): [string, number][] {
  return [...selfByName(root, keep)].sort((a, b) => b[1] - a[1])
}
