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
 * without building a key per lookup: ingest asks about every stack of every profile.
 */
export class ScopedKnownKeys {
  readonly #scopes = new Map<string, Map<string, number>>()
  readonly #maxEntries: number
  readonly #ttlMs: number
  #size = 0

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
    if (entries.delete(key)) this.#size--
    entries.set(key, now + this.#ttlMs)
    this.#size++
    if (this.#size > this.#maxEntries) {
      // The scope's least recently added key (Map iterates in insertion order).
      const oldest = entries.keys().next().value
      if (oldest !== undefined) {
        entries.delete(oldest)
        this.#size--
      }
      if (entries.size === 0) this.#scopes.delete(scope)
    }
  }

  get size(): number {
    return this.#size
  }
}
