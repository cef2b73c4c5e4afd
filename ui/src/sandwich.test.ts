import type { FlameNode } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import { sandwich } from './sandwich'

function node(name: string, self: number, children: FlameNode[] = []): FlameNode {
  const value = self + children.reduce((sum, child) => sum + child.value, 0)
  return { name, file: `${name}.js`, value, self, children }
}

function expectConsistent(n: FlameNode): void {
  expect(n.value).toBe(n.self + n.children.reduce((sum, c) => sum + c.value, 0))
  n.children.forEach(expectConsistent)
}

const child = (n: FlameNode, name: string): FlameNode => {
  const found = n.children.find((c) => c.name === name)
  if (found === undefined) throw new Error(`no ${name} under ${n.name}`)
  return found
}

// main -> handle -> parse(5) -> json(10)
// main -> load -> parse(2) -> parse(3) -> json(1)     (recursion)
// worker -> parse(4)
const tree = node('total', 0, [
  node('main', 1, [
    node('handle', 0, [node('parse', 5, [node('json', 10)])]),
    node('load', 0, [node('parse', 2, [node('parse', 3, [node('json', 1)])])]),
  ]),
  node('worker', 0, [node('parse', 4)]),
])
const parse = { name: 'parse', file: 'parse.js' }

describe('sandwich', () => {
  const s = sandwich(tree, parse)!

  it('counts every sample of the function once', () => {
    expect(s.total).toBe(15 + 6 + 4)
    expect(s.self).toBe(5 + 2 + 3 + 4)
    expect(s.paths).toBe(3)
  })

  it('merges the callees of every call path', () => {
    expect(s.callees.value).toBe(s.total)
    expect(child(s.callees, 'json').value).toBe(10)
    expect(child(child(s.callees, 'parse'), 'json').value).toBe(1)
    expectConsistent(s.callees)
  })

  it('lists callers up to the top frame, weighted by the calls through them', () => {
    expect(s.callers.value).toBe(s.total)
    const handle = child(s.callers, 'handle')
    expect(handle.value).toBe(15)
    expect(child(handle, 'main')).toMatchObject({ value: 15, self: 15 })
    expect(child(s.callers, 'worker')).toMatchObject({ value: 4, self: 4 })
    expectConsistent(s.callers)
  })

  it('tells functions apart by file', () => {
    expect(sandwich(tree, { name: 'parse', file: 'other.js' })).toBeNull()
  })

  it('takes a function called from the top frame as its own caller path', () => {
    const top = sandwich(tree, { name: 'main', file: 'main.js' })!
    expect(top.callers).toMatchObject({ value: tree.children[0]!.value, self: top.total })
    expect(top.callers.children).toEqual([])
  })
})
