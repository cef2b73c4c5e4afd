import type { DiffNode, FlameNode } from '@kiln/wire'
import { classifyFunction, groupKey, groupLabel, type PackageGroup } from './packages'

/** A group's self value in one window. */
export interface PackageTotal {
  key: string
  group: PackageGroup
  label: string
  self: number
  /** `self` as a share of the window's total (0 when it is empty). */
  share: number
}

/** A group's self value in both windows of a diff. */
export interface PackageChange {
  key: string
  group: PackageGroup
  label: string
  baseSelf: number
  compSelf: number
  baseShare: number
  compShare: number
  /** `compShare - baseShare`, as a fraction (0.05 is 5 points). */
  change: number
}

interface TreeNode<N> {
  name: string
  file?: string | undefined
  children: readonly N[]
}

/**
 * Sums `values(node)` per group over every node of the tree. Each node's self is counted once,
 * at the node, so the groups' sums add up to the root's total. The walk keeps its own stack: call
 * trees of deep recursion nest thousands of frames.
 */
function sumByGroup<N extends TreeNode<N>>(
  root: N,
  width: number,
  values: (node: N) => readonly number[],
): Map<string, { group: PackageGroup; sums: number[] }> {
  const groups = new Map<string, { group: PackageGroup; sums: number[] }>()
  // Frames of one function recur across the tree; classify each name and file once.
  const classified = new Map<string, PackageGroup>()
  const stack: N[] = [root]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const id = `${node.name}\u0000${node.file ?? ''}`
    let group = classified.get(id)
    if (group === undefined) {
      group = classifyFunction(node)
      classified.set(id, group)
    }
    const key = groupKey(group)
    let entry = groups.get(key)
    if (entry === undefined) {
      entry = { group, sums: new Array<number>(width).fill(0) }
      groups.set(key, entry)
    }
    const own = values(node)
    for (let i = 0; i < width; i++) entry.sums[i]! += own[i] ?? 0
    stack.push(...node.children)
  }
  return groups
}

const shareOf = (value: number, total: number): number => (total > 0 ? value / total : 0)

const byLabel = (a: { label: string }, b: { label: string }): number =>
  a.label < b.label ? -1 : a.label > b.label ? 1 : 0

/** Self value per group in a flame graph tree, largest first; groups with nothing left out. */
export function packageTotals(root: FlameNode, total: number): PackageTotal[] {
  const groups = sumByGroup(root, 1, (node) => [node.self])
  const out: PackageTotal[] = []
  for (const [key, { group, sums }] of groups) {
    const self = sums[0] ?? 0
    if (self === 0) continue
    out.push({ key, group, label: groupLabel(group), self, share: shareOf(self, total) })
  }
  return out.sort((a, b) => b.self - a.self || byLabel(a, b))
}

/**
 * Self value per group in both windows of a diff tree, the one whose share grew most first
 * (and the one that shrank most last); groups empty in both windows left out.
 */
export function packageChanges(
  root: DiffNode,
  totals: { base: number; comp: number },
): PackageChange[] {
  const groups = sumByGroup(root, 2, (node) => [node.baseSelf, node.compSelf])
  const out: PackageChange[] = []
  for (const [key, { group, sums }] of groups) {
    const [baseSelf = 0, compSelf = 0] = sums
    if (baseSelf === 0 && compSelf === 0) continue
    const baseShare = shareOf(baseSelf, totals.base)
    const compShare = shareOf(compSelf, totals.comp)
    out.push({
      key,
      group,
      label: groupLabel(group),
      baseSelf,
      compSelf,
      baseShare,
      compShare,
      change: compShare - baseShare,
    })
  }
  return out.sort((a, b) => b.change - a.change || b.compShare - a.compShare || byLabel(a, b))
}
