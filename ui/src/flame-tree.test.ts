import type { FlameNode } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import {
  findFrame,
  frameKey,
  framePath,
  matchesSearch,
  summarizeMatches,
  type Frame,
} from './flame-tree'

interface TestFrame extends Frame {
  readonly data: FlameNode
  parent: TestFrame | null
  children: TestFrame[]
}

function node(name: string, self: number, children: FlameNode[] = [], file?: string): FlameNode {
  const value = self + children.reduce((sum, child) => sum + child.value, 0)
  return file === undefined
    ? { name, value, self, children }
    : { name, file, value, self, children }
}

/** Builds the parent/children shape d3-hierarchy gives d3-flame-graph. */
function layout(data: FlameNode, parent: TestFrame | null = null): TestFrame {
  const frame: TestFrame = { data, parent, children: [] }
  frame.children = data.children.map((child) => layout(child, frame))
  return frame
}

const handlerA = node('handler', 5, [node('parse', 20)], 'a.js')
const handlerB = node('handler', 7, [node('render', 30, [node('parse', 4)])], 'b.js')
const root = layout(node('total', 0, [handlerA, handlerB]))

function at(...indexes: number[]): TestFrame {
  let frame = root
  for (const index of indexes) {
    const child = frame.children[index]
    if (child === undefined) throw new Error(`no child ${index}`)
    frame = child
  }
  return frame
}

describe('frameKey', () => {
  it('tells apart same-named functions by file', () => {
    expect(frameKey(handlerA)).not.toBe(frameKey(handlerB))
    expect(frameKey(handlerA)).toContain(handlerA.name)
    expect(frameKey(root.data)).toBe(root.data.name)
  })
})

describe('framePath / findFrame', () => {
  it('finds every frame again by its path', () => {
    for (const frame of [root, at(0), at(0, 0), at(1, 0, 0)]) {
      expect(findFrame(root, framePath(frame))).toBe(frame)
    }
  })

  it('finds the same function in a refreshed tree', () => {
    const refreshed = layout(structuredClone(root.data))
    const path = framePath(at(1, 0))
    expect(findFrame(refreshed, path)?.data).toEqual(at(1, 0).data)
  })

  it('gives undefined for a path the tree no longer has', () => {
    expect(findFrame(root, [...framePath(at(0)), 'gone'])).toBeUndefined()
    expect(findFrame(root, ['other-root'])).toBeUndefined()
  })
})

describe('matchesSearch', () => {
  it('matches name or file, ignoring case and surrounding space', () => {
    expect(matchesSearch(handlerA, ' HANDL ')).toBe(true)
    expect(matchesSearch(handlerA, 'a.js')).toBe(true)
    expect(matchesSearch(handlerA, 'b.js')).toBe(false)
  })

  it('matches nothing for an empty term, and treats regex characters literally', () => {
    expect(matchesSearch(handlerA, '  ')).toBe(false)
    expect(matchesSearch(node('f(', 1), 'f(')).toBe(true)
  })
})

describe('summarizeMatches', () => {
  it('counts nested matches once in the value', () => {
    const parses = [at(0, 0), at(1, 0, 0)]
    expect(summarizeMatches(parses)).toEqual({
      matches: parses.length,
      value: parses.reduce((sum, frame) => sum + frame.data.value, 0),
    })
    const nested = [at(1), at(1, 0, 0)]
    expect(summarizeMatches(nested)).toEqual({ matches: nested.length, value: at(1).data.value })
  })
})
