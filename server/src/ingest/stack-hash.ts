/*
 * 64-bit hashes of frames and stacks, computed on the bytes of a pprof's string table without
 * decoding them: most stacks of a profile are stacks Kiln stored before, which only need their
 * hash. Two 32-bit lanes of MurmurHash3's mixing (x86_32), fed the same words with different
 * seeds and each lane's state folded into the other at every step, so the 64 bits do not split
 * into two independent halves. Not a cryptographic hash: stacks are keyed per tenant and service,
 * so a crafted collision can only mix up the sender's own frames.
 *
 * A stack's hash is a function of its frames (function name, file, line; root first) and
 * nothing else: the same stack from two profiles, two agents or two servers has one hash.
 */

const SEED_1 = 0x9747b28c
const SEED_2 = 0x2f1a6b3d

/** The two halves of the last hash computed (unsigned 32-bit values). */
export const lastHash = { hi: 0, lo: 0 }

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, 0x1b873593)
  h ^= k
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

function finish(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** Hash `bytes[start, end)` into {@link lastHash}. */
export function hashBytes(bytes: Uint8Array, start: number, end: number): void {
  let h1 = SEED_1
  let h2 = SEED_2
  let i = start
  for (; i + 4 <= end; i += 4) {
    const k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)
    h1 = mix(h1, k)
    h2 = mix(h2, k ^ h1)
  }
  if (i < end) {
    let k = bytes[i]!
    if (i + 1 < end) k |= bytes[i + 1]! << 8
    if (i + 2 < end) k |= bytes[i + 2]! << 16
    h1 = mix(h1, k)
    h2 = mix(h2, k ^ h1)
  }
  const length = end - start
  lastHash.hi = finish(h1 ^ length)
  lastHash.lo = finish(h2 ^ length ^ h1)
}

const encoder = new TextEncoder()

/** Hash a string's UTF-8 bytes into {@link lastHash}: the same as {@link hashBytes} of them. */
export function hashString(s: string): void {
  const bytes = encoder.encode(s)
  hashBytes(bytes, 0, bytes.length)
}

/** A running hash of a sequence of 64-bit words (two halves each). */
export class HashFold {
  h1 = SEED_1
  h2 = SEED_2
  n = 0

  reset(): void {
    this.h1 = SEED_1
    this.h2 = SEED_2
    this.n = 0
  }

  add(hi: number, lo: number): void {
    this.h1 = mix(this.h1, hi)
    this.h2 = mix(this.h2, lo ^ this.h1)
    this.h1 = mix(this.h1, this.h2)
    this.n++
  }

  /** The hash of what was added, into {@link lastHash}. */
  finish(): void {
    lastHash.hi = finish(this.h1 ^ this.n)
    lastHash.lo = finish(this.h2 ^ this.n ^ this.h1)
  }
}

const fold = new HashFold()

/** The hash of a frame (its name's and file's hashes, its line) into {@link lastHash}. */
export function hashFrame(
  nameHi: number,
  nameLo: number,
  fileHi: number,
  fileLo: number,
  line: number,
): void {
  fold.reset()
  fold.add(nameHi, nameLo)
  fold.add(fileHi, fileLo)
  fold.add(Math.floor(line / 4294967296) | 0, line | 0)
  fold.finish()
}

/** A 64-bit hash as the decimal string of its unsigned value (0 is reserved: it becomes 1). */
export function decimal64(hi: number, lo: number): string {
  if (hi === 0) return lo === 0 ? '1' : String(lo >>> 0)
  if (hi < 0x200000) return String((hi >>> 0) * 4294967296 + (lo >>> 0)) // below 2^53: exact
  return ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString()
}
