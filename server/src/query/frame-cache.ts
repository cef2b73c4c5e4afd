/** The frames of one stack, root first. */
export interface Frames {
  functions: string[]
  files: string[]
  lines: number[]
}

/**
 * Frames of stacks by (tenant, service, stack hash), kept across queries. A flame graph of
 * thousands of stacks otherwise reads megabytes of frames from `stacks` on every query (the
 * function and file names of every frame of every stack), which costs more than aggregating an
 * hour of samples. A hash is of the frames it names, so an entry never goes stale. Bounded: the
 * least recently used stacks go first; names are interned, as stacks share most of theirs.
 */
export class FrameCache {
  readonly #entries = new Map<string, Frames>()
  readonly #names = new Map<string, string>()
  readonly #maxStacks: number

  constructor(maxStacks = 100_000) {
    this.#maxStacks = maxStacks
  }

  get size(): number {
    return this.#entries.size
  }

  get(tenant: string, service: string, hash: string): Frames | undefined {
    const key = cacheKey(tenant, service, hash)
    const frames = this.#entries.get(key)
    if (frames) {
      // Map keeps insertion order: moving a hit to the end makes the first key the LRU one.
      this.#entries.delete(key)
      this.#entries.set(key, frames)
    }
    return frames
  }

  set(tenant: string, service: string, hash: string, frames: Frames): Frames {
    // Interned names are dropped with the whole table when it outgrows what the stacks can use.
    if (this.#names.size > this.#maxStacks * 8) this.#names.clear()
    const intern = (name: string): string => {
      const known = this.#names.get(name)
      if (known !== undefined) return known
      this.#names.set(name, name)
      return name
    }
    const kept = {
      functions: frames.functions.map(intern),
      files: frames.files.map(intern),
      lines: frames.lines.map(Number),
    }
    this.#entries.set(cacheKey(tenant, service, hash), kept)
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxStacks) break
      this.#entries.delete(key)
    }
    return kept
  }
}

const cacheKey = (tenant: string, service: string, hash: string): string =>
  `${tenant}\u0000${service}\u0000${hash}`
