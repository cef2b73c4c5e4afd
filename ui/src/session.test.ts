import { TENANT_HEADER } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import {
  TENANT_STORAGE_KEY,
  TOKEN_STORAGE_KEY,
  createSessionStore,
  sessionHeaders,
  type KeyValueStorage,
} from './session'

/** A `Storage` over a Map, and the map to look into. */
function memoryStorage(initial: Record<string, string> = {}) {
  const map = new Map(Object.entries(initial))
  const storage: KeyValueStorage = {
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, value),
    removeItem: (key) => void map.delete(key),
  }
  return { map, storage }
}

describe('createSessionStore', () => {
  it('starts from what the tab stored', () => {
    const { storage } = memoryStorage({ [TOKEN_STORAGE_KEY]: 'r-1', [TENANT_STORAGE_KEY]: 'acme' })
    expect(createSessionStore(storage).get()).toMatchObject({ token: 'r-1', tenant: 'acme' })
  })

  it('writes the token and tenant through, and clears both on sign-out', () => {
    const { map, storage } = memoryStorage()
    const store = createSessionStore(storage)
    store.setToken('r-1')
    store.setTenant('acme')
    expect(Object.fromEntries(map)).toEqual({
      [TOKEN_STORAGE_KEY]: 'r-1',
      [TENANT_STORAGE_KEY]: 'acme',
    })
    store.signOut()
    expect(map.size).toBe(0)
    expect(store.get()).toMatchObject({ token: null, tenant: null })
  })

  it('keeps one snapshot until something changes, and tells listeners when it does', () => {
    const store = createSessionStore(memoryStorage().storage)
    let calls = 0
    const unsubscribe = store.subscribe(() => calls++)
    const first = store.get()
    store.setTenant(null)
    expect(store.get()).toBe(first)
    expect(calls).toBe(0)
    store.setToken('r-1')
    expect(store.get()).not.toBe(first)
    expect(store.get().signIns).toBe(first.signIns + 1)
    expect(calls).toBe(1)
    unsubscribe()
    store.setTenant('acme')
    expect(calls).toBe(1)
  })

  it('treats empty strings as nothing', () => {
    const { map, storage } = memoryStorage({ [TOKEN_STORAGE_KEY]: '' })
    const store = createSessionStore(storage)
    expect(store.get().token).toBeNull()
    store.setTenant('')
    expect(map.has(TENANT_STORAGE_KEY)).toBe(false)
  })

  it('works from memory when there is no storage or it refuses writes', () => {
    const alone = createSessionStore(null)
    alone.setToken('r-1')
    expect(alone.get().token).toBe('r-1')

    const refusing: KeyValueStorage = {
      getItem: () => null,
      setItem: () => {
        throw new Error('QuotaExceededError')
      },
      removeItem: () => undefined,
    }
    const store = createSessionStore(refusing)
    store.setTenant('acme')
    expect(store.get().tenant).toBe('acme')
  })
})

describe('sessionHeaders', () => {
  it('sends the token as a bearer credential and the tenant in its header', () => {
    expect(sessionHeaders({ token: 'r-1', tenant: 'acme' })).toEqual({
      authorization: 'Bearer r-1',
      [TENANT_HEADER]: 'acme',
    })
  })

  it('sends nothing it does not hold', () => {
    expect(sessionHeaders({ token: null, tenant: null })).toEqual({})
    expect(Object.keys(sessionHeaders({ token: null, tenant: 'acme' }))).toEqual([TENANT_HEADER])
  })
})
