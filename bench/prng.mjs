// The benchmarks' seeded random numbers: the same seed gives the same sequence, so generated
// workloads and fleets are reproducible run after run.

/** mulberry32: a small, fast, seedable PRNG returning numbers in [0, 1). */
export function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
