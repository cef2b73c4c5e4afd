import { describe, expect, it } from 'vitest'
import { KnownKeys } from './known-keys.js'

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
