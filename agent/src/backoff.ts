const BASE_BACKOFF_MS = 500
const MAX_BACKOFF_MS = 30_000

/** Full-jitter exponential backoff: random in [0, min(cap, base * 2^attempt)). */
export function backoffMs(attempt: number, baseMs = BASE_BACKOFF_MS, random = Math.random): number {
  return Math.floor(random() * Math.min(MAX_BACKOFF_MS, baseMs * 2 ** attempt))
}
