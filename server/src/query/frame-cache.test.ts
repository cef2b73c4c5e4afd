import { describe, expect, it } from 'vitest'
import { FrameCache } from './frame-cache.js'

const frames = (name: string) => ({
  functions: ['main', name],
  files: ['a.js', 'b.js'],
  lines: [1, 2],
})

describe('FrameCache', () => {
  it('keys stacks by tenant, service and hash', () => {
    const cache = new FrameCache()
    cache.set('t1', 's', '7', frames('x'))
    expect(cache.get('t1', 's', '7')?.functions).toEqual(['main', 'x'])
    expect(cache.get('t2', 's', '7')).toBeUndefined()
    expect(cache.get('t1', 'other', '7')).toBeUndefined()
  })

  it('drops the least recently used stack beyond its bound', () => {
    const cache = new FrameCache(2)
    cache.set('t', 's', '1', frames('one'))
    cache.set('t', 's', '2', frames('two'))
    cache.get('t', 's', '1')
    cache.set('t', 's', '3', frames('three'))
    expect(cache.size).toBe(2)
    expect(cache.get('t', 's', '2')).toBeUndefined()
    expect(cache.get('t', 's', '1')?.functions[1]).toBe('one')
    expect(cache.get('t', 's', '3')?.functions[1]).toBe('three')
  })

  it('keeps lines as numbers, whatever the store sent', () => {
    const cache = new FrameCache()
    const kept = cache.set('t', 's', '1', {
      ...frames('x'),
      lines: ['3', 4] as unknown as number[],
    })
    expect(kept.lines).toEqual([3, 4])
  })
})
