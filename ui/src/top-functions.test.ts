import type { TopFunction } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import { filterFunctions, functionLocation, functionRef, sameFunction } from './top-functions'

const fns: TopFunction[] = [
  { name: 'parse', file: '/app/parse.js', line: 3, self: 10, total: 50 },
  { name: 'render', file: '/app/view.js', line: 9, self: 30, total: 30 },
  { name: 'main', file: '/app/main.js', self: 0, total: 100 },
  { name: 'Parser', self: 10, total: 20 },
]

describe('filterFunctions', () => {
  it('sorts by the chosen column, heaviest first', () => {
    expect(filterFunctions(fns, '', 'self').map((f) => f.name)).toEqual([
      'render',
      'parse',
      'Parser',
      'main',
    ])
    expect(filterFunctions(fns, '', 'total').map((f) => f.name)).toEqual([
      'main',
      'parse',
      'render',
      'Parser',
    ])
  })

  it('filters by name or file, ignoring case', () => {
    expect(filterFunctions(fns, 'PARSE', 'self').map((f) => f.name)).toEqual(['parse', 'Parser'])
    expect(filterFunctions(fns, 'view.js', 'self').map((f) => f.name)).toEqual(['render'])
  })

  it('does not reorder its input', () => {
    const copy = [...fns]
    filterFunctions(fns, '', 'total')
    expect(fns).toEqual(copy)
  })
})

describe('functions', () => {
  it('are the same by name and file', () => {
    expect(sameFunction({ name: 'a', file: 'x' }, { name: 'a', file: 'x' })).toBe(true)
    expect(sameFunction({ name: 'a', file: 'x' }, { name: 'a', file: 'y' })).toBe(false)
    expect(sameFunction({ name: 'a' }, { name: 'a', file: '' })).toBe(true)
  })

  it('drop an empty file from their reference', () => {
    expect(functionRef({ name: 'a', file: '' })).toEqual({ name: 'a' })
    expect(functionRef({ name: 'a', file: 'x', line: 3 } as never)).toEqual({
      name: 'a',
      file: 'x',
    })
  })

  it('show where they are', () => {
    expect(functionLocation({ file: '/a.js', line: 3 })).toBe('/a.js:3')
    expect(functionLocation({ file: '/a.js' })).toBe('/a.js')
    expect(functionLocation({})).toBe('')
  })
})
