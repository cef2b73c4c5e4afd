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
