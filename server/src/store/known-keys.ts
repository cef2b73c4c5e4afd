/**
 * A bounded set of keys already stored, with an expiry, so a stack or series that every profile
 * repeats is written once per expiry period rather than once per profile. Entries expire so that
 * `last_seen` (and with it the table TTL) is refreshed for keys still in use.
 */
export class KnownKeys {
  readonly #entries = new Map<string, number>()
  readonly #maxEntries: number
  readonly #ttlMs: number

  constructor(maxEntries: number, ttlMs: number) {
    this.#maxEntries = maxEntries
    this.#ttlMs = ttlMs
  }

  has(key: string, now = Date.now()): boolean {
    const expiry = this.#entries.get(key)
    if (expiry === undefined) return false
    if (expiry > now) return true
    this.#entries.delete(key)
    return false
  }

  add(key: string, now = Date.now()): void {
    this.#entries.delete(key)
    this.#entries.set(key, now + this.#ttlMs)
    if (this.#entries.size > this.#maxEntries) {
      // Map iterates in insertion order: the first key is the least recently added.
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
  }

  get size(): number {
    return this.#entries.size
  }
}

/**
 * {@link KnownKeys} by scope (a tenant's service), so that the keys of one scope are read
 * without building a key per lookup: ingest asks about every stack of every profile. The bound
 * is global: beyond it the least recently added key of any scope goes.
 */
export class ScopedKnownKeys {
  readonly #scopes = new Map<string, Map<string, number>>()
  /** Every entry in the order added (`scope\0key`), for the global eviction. */
  readonly #order = new Map<string, { scope: string; key: string }>()
  readonly #maxEntries: number
  readonly #ttlMs: number

  constructor(maxEntries: number, ttlMs: number) {
    this.#maxEntries = maxEntries
    this.#ttlMs = ttlMs
  }

  /** Whether `key` of `scope` is known as of `now`, for many keys of one scope. */
  reader(scope: string, now = Date.now()): (key: string) => boolean {
    const entries = this.#scopes.get(scope)
    if (entries === undefined) return () => false
    return (key) => {
      const expiry = entries.get(key)
      return expiry !== undefined && expiry > now
    }
  }

  has(scope: string, key: string, now = Date.now()): boolean {
    const expiry = this.#scopes.get(scope)?.get(key)
    return expiry !== undefined && expiry > now
  }

  add(scope: string, key: string, now = Date.now()): void {
    let entries = this.#scopes.get(scope)
    if (entries === undefined) {
      entries = new Map()
      this.#scopes.set(scope, entries)
    }
    entries.set(key, now + this.#ttlMs)
    const id = `${scope}\u0000${key}`
    this.#order.delete(id)
    this.#order.set(id, { scope, key })
    while (this.#order.size > this.#maxEntries) {
      const [oldest, entry] = this.#order.entries().next().value!
      this.#order.delete(oldest)
      const scoped = this.#scopes.get(entry.scope)
      scoped?.delete(entry.key)
      if (scoped?.size === 0) this.#scopes.delete(entry.scope)
    }
  }

  get size(): number {
    return this.#order.size
  }
}
