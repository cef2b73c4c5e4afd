import type { FlameNode } from '@kiln/wire'

/** A laid-out frame: the d3-hierarchy node d3-flame-graph builds around each `FlameNode`. */
export interface Frame {
  readonly data: FlameNode
  readonly parent: Frame | null
  readonly children?: readonly Frame[]
}

/** Siblings can share a name (two `anonymous` functions), so a frame is named with its file. */
export function frameKey(node: FlameNode): string {
  return node.file ? `${node.name} (${node.file})` : node.name
}

/** Keys from the root down to `frame`, to find the same frame in a refreshed tree. */
export function framePath(frame: Frame): string[] {
  const path: string[] = []
  for (let current: Frame | null = frame; current !== null; current = current.parent) {
    path.push(frameKey(current.data))
  }
  return path.reverse()
}

/** The frame at `path` below `root`, if the refreshed tree still has it. */
export function findFrame<F extends Frame>(root: F, path: readonly string[]): F | undefined {
  if (path[0] !== frameKey(root.data)) return undefined
  let current: Frame = root
  for (const key of path.slice(1)) {
    const next: Frame | undefined = current.children?.find((child) => frameKey(child.data) === key)
    if (next === undefined) return undefined
    current = next
  }
  return current as F
}

/** Case-insensitive match of the search term against a frame's name or file. */
export function matchesSearch(node: FlameNode, term: string): boolean {
  const needle = term.trim().toLowerCase()
  if (needle === '') return false
  return (
    node.name.toLowerCase().includes(needle) || (node.file?.toLowerCase().includes(needle) ?? false)
  )
}

export interface SearchSummary {
  /** Frames that matched. */
  matches: number
  /** Total of the matching frames, each sample counted once even when matches nest. */
  value: number
}

export function summarizeMatches(matches: readonly Frame[]): SearchSummary {
  const matched = new Set(matches)
  let value = 0
  for (const frame of matches) {
    let ancestor = frame.parent
    while (ancestor !== null && !matched.has(ancestor)) ancestor = ancestor.parent
    if (ancestor === null) value += frame.data.value
  }
  return { matches: matches.length, value }
}
