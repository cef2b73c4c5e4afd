import { describe, expect, it } from 'vitest'
import { KnownKeys, ScopedKnownKeys } from './known-keys.js'

describe('KnownKeys', () => {
  it('forgets keys after their ttl', () => {
    const keys = new KnownKeys(10, 1000)
    keys.add('a', 0)
    expect(keys.has('a', 999)).toBe(true)
    expect(keys.has('a', 1000)).toBe(false)
  })

  it('evicts the oldest key beyond its bound', () => {
    const keys = new KnownKeys(3, 1000)
    for (const k of ['a', 'b', 'c', 'd']) keys.add(k, 0)
    expect(keys.size).toBe(3)
    expect(keys.has('a', 1)).toBe(false)
    expect(keys.has('d', 1)).toBe(true)
  })
})

describe('ScopedKnownKeys', () => {
  it('keeps scopes apart, forgets after the ttl and stays within its bound', () => {
    const keys = new ScopedKnownKeys(3, 1000)
    keys.add('svc-a', 'h1', 0)
    keys.add('svc-b', 'h1', 0)
    expect(keys.reader('svc-a', 999)('h1')).toBe(true)
    expect(keys.reader('svc-a', 1000)('h1')).toBe(false)
    expect(keys.reader('svc-c', 0)('h1')).toBe(false)
    keys.add('svc-a', 'h2', 0)
    keys.add('svc-a', 'h3', 0)
    expect(keys.size).toBe(3)
    // The oldest of all goes, whatever scope grew: a new scope still keeps its keys.
    expect(keys.has('svc-a', 'h1', 1)).toBe(false)
    expect(keys.has('svc-b', 'h1', 1)).toBe(true)
    expect(keys.has('svc-a', 'h3', 1)).toBe(true)
    keys.add('svc-new', 'h1', 2)
    expect(keys.has('svc-new', 'h1', 3)).toBe(true)
    expect(keys.has('svc-b', 'h1', 3)).toBe(false)
    expect(keys.size).toBe(3)
  })
})
