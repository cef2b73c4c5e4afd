/**
 * Limits for benchmarks that call `normalizeProfile` directly: high enough that no corpus or
 * generated profile meets them, so they measure the work, not a refusal.
 */
export const NORMALIZE_LIMITS = {
  maxSamplesPerProfile: 1e9,
  maxStackDepth: 1024,
  maxLabels: 64,
  maxLabelNameLength: 128,
  maxLabelValueLength: 1024,
}
