import type { FlameNode } from '@kiln/wire'
import { frameKey } from './flame-tree'
import { sameFunction } from './top-functions'
import type { FunctionRef } from './url-state'

/** A function's callers and callees, merged over every call path it is on. */
export interface Sandwich {
  /** Rooted at the function; below it the function's callers, then theirs, up to the top frame. */
  callers: FlameNode
  /** Rooted at the function; below it what it calls, merged over all its call paths. */
  callees: FlameNode
  /** Value of every stack the function is in, counted once under recursion. */
  total: number
  /** Value where the function is the leaf. */
  self: number
  /** Call paths (outermost calls) the function is on. */
  paths: number
}

function emptyNode(node: FlameNode): FlameNode {
  return node.file === undefined
    ? { name: node.name, value: 0, self: 0, children: [] }
    : { name: node.name, file: node.file, value: 0, self: 0, children: [] }
}

/** The child of `parent` for `like`'s function, added if missing. */
function childFor(parent: FlameNode, like: FlameNode): FlameNode {
  const key = frameKey(like)
  let child = parent.children.find((candidate) => frameKey(candidate) === key)
  if (child === undefined) {
    child = emptyNode(like)
    parent.children.push(child)
  }
  return child
}

function mergeInto(target: FlameNode, source: FlameNode): void {
  target.value += source.value
  target.self += source.self
  for (const child of source.children) mergeInto(childFor(target, child), child)
}

/**
 * The sandwich of `fn` in a flame graph (whose root is the synthetic "total" frame). Only the
 * outermost call of a recursion counts, so no sample is counted twice; deeper calls stay inside
 * the callees. `null` when the tree does not have the function.
 */
export function sandwich(root: FlameNode, fn: FunctionRef): Sandwich | null {
  const occurrences: { ancestors: FlameNode[]; node: FlameNode }[] = []
  let self = 0
  const path: FlameNode[] = []
  const visit = (node: FlameNode, inside: boolean): void => {
    const matches = sameFunction(node, fn)
    if (matches) self += node.self
    if (matches && !inside) occurrences.push({ ancestors: [...path], node })
    path.push(node)
    for (const child of node.children) visit(child, inside || matches)
    path.pop()
  }
  for (const child of root.children) visit(child, false)
  const first = occurrences[0]
  if (first === undefined) return null

  const callees = emptyNode(first.node)
  const callers = emptyNode(first.node)
  for (const { ancestors, node } of occurrences) {
    mergeInto(callees, node)
    callers.value += node.value
    let current = callers
    for (let i = ancestors.length - 1; i >= 0; i--) {
      current = childFor(current, ancestors[i]!)
      current.value += node.value
    }
    // The caller path ends here: its value is this frame's own in the callers tree.
    current.self += node.value
  }
  return { callers, callees, total: callees.value, self, paths: occurrences.length }
}
