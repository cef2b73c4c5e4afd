import type { FlameNode } from '@kiln/wire'

export interface StackValue {
  /** Root first. */
  functions: string[]
  files: string[]
  value: number
}

export const ROOT_NAME = 'total'
export const OTHER_NAME = 'other'

interface MutableNode extends FlameNode {
  index: Map<string, MutableNode>
}

/**
 * Build a flame graph from (stack, value) pairs. Frames are the same node when both function
 * name and file match. `remainder` (value of stacks not fetched) becomes an "other" child of
 * the root, so the root always carries the window's full total. Children are sorted by value.
 */
export function buildTree(stacks: StackValue[], remainder = 0): FlameNode {
  const root = newNode(ROOT_NAME, '')
  for (const stack of stacks) {
    root.value += stack.value
    let node = root
    stack.functions.forEach((name, i) => {
      const file = stack.files[i] ?? ''
      const key = `${name}\u0000${file}`
      let child = node.index.get(key)
      if (!child) {
        child = newNode(name, file)
        node.index.set(key, child)
        node.children.push(child)
      }
      child.value += stack.value
      node = child
    })
    node.self += stack.value
  }
  if (remainder > 0) {
    const other = newNode(OTHER_NAME, '')
    other.value = other.self = remainder
    root.value += remainder
    root.children.push(other)
  }
  return finish(root)
}

function newNode(name: string, file: string): MutableNode {
  return { name, ...(file ? { file } : {}), value: 0, self: 0, children: [], index: new Map() }
}

function finish(node: MutableNode): FlameNode {
  const children = node.children
    .map((c) => finish(c as MutableNode))
    .sort((a, b) => b.value - a.value || a.name.localeCompare(b.name))
  const out: FlameNode = { name: node.name, value: node.value, self: node.self, children }
  if (node.file) out.file = node.file
  return out
}
