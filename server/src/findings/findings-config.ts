import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { DEFAULT_SERVICE_RULES } from '../hooks/service-rules.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE

/**
 * Settings of the alerting hooks and of Kiln's detectors, in the style of `ConfigSchema`
 * (`config/config-schema.ts`), which spreads these properties into its own.
 */
export const FINDINGS_CONFIG_PROPERTIES = {
  publicUrl: Type.String({
    default: 'http://localhost:4040',
    env: 'KILN_PUBLIC_URL',
    pattern: '^https?://[^\\s]+$',
    description: 'base URL of links in alert answers and findings',
  }),
  alertServiceLabels: Type.String({
    default: DEFAULT_SERVICE_RULES,
    env: 'KILN_ALERT_SERVICE_LABELS',
    minLength: 1,
    description:
      'ordered rules naming an alert\'s service: label names, or `label=~"regex"` (first group); the first that names a profiled service wins',
  }),
  alertMaxPerRequest: Type.Integer({
    default: 10_000,
    minimum: 1,
    maximum: 100_000,
    env: 'KILN_ALERT_MAX_PER_REQUEST',
    description: 'alerts stored from one hook request; the rest are reported as dropped (200)',
  }),
  webhookUrls: Type.Optional(
    Type.String({
      env: 'KILN_WEBHOOK_URLS',
      pattern: '^\\s*https?://[^\\s,]+(\\s*,\\s*https?://[^\\s,]+)*\\s*$',
      description: 'comma-separated URLs that receive findings (JSON with a Slack `text`)',
    }),
  ),
  webhookTimeoutMs: Type.Integer({
    default: 5000,
    minimum: 1,
    env: 'KILN_WEBHOOK_TIMEOUT_MS',
    description: 'timeout of one webhook call',
  }),
  webhookRetries: Type.Integer({
    default: 3,
    minimum: 0,
    maximum: 10,
    env: 'KILN_WEBHOOK_RETRIES',
    description: 'retries of a failed webhook call (backoff 0.25 s, 0.5 s, ...)',
  }),
  detectorIntervalMs: Type.Integer({
    default: 5 * MINUTE,
    minimum: 0,
    env: 'KILN_DETECTOR_INTERVAL_MS',
    description: 'how often the detectors run; 0 disables them',
  }),
  regressionLookbackMs: Type.Integer({
    default: 24 * HOUR,
    minimum: MINUTE,
    env: 'KILN_REGRESSION_LOOKBACK_MS',
    description: 'versions first seen in this window are compared',
  }),
  regressionSettleMs: Type.Integer({
    default: 5 * MINUTE,
    minimum: 0,
    env: 'KILN_REGRESSION_SETTLE_MS',
    description:
      'a new version is judged once its first profile is this old: its first profiles hold the warm-up (JIT compilation, a rollout under way)',
  }),
  regressionThreshold: Type.Number({
    default: 0.05,
    exclusiveMinimum: 0,
    maximum: 1,
    env: 'KILN_REGRESSION_THRESHOLD',
    description: "increase of a function's share of CPU (0.05: 5 points) that is a regression",
  }),
  heapGrowthWindowMs: Type.Integer({
    default: HOUR,
    minimum: MINUTE,
    env: 'KILN_HEAP_GROWTH_WINDOW_MS',
    description: 'window over which heap in use must keep growing',
  }),
  heapGrowthMinR2: Type.Number({
    default: 0.8,
    minimum: 0,
    maximum: 1,
    env: 'KILN_HEAP_GROWTH_MIN_R2',
    description: 'fit (R²) a linear growth needs to count as steady',
  }),
  heapGrowthMinRatio: Type.Number({
    default: 0.1,
    exclusiveMinimum: 0,
    env: 'KILN_HEAP_GROWTH_MIN_RATIO',
    description: 'growth over the window relative to its start (0.1: 10%) to report',
  }),
  alertmanagerUrl: Type.Optional(
    Type.String({
      env: 'KILN_ALERTMANAGER_URL',
      pattern: '^\\s*https?://[^\\s,]+(\\s*,\\s*https?://[^\\s,]+)*\\s*$',
      description:
        'comma-separated base URLs of Alertmanagers (`http://am:9093`) that receive findings as alerts',
    }),
  ),
}

export const FindingsConfigSchema = Type.Object(FINDINGS_CONFIG_PROPERTIES, {
  additionalProperties: false,
})

export type FindingsConfig = Readonly<Static<typeof FindingsConfigSchema>>

/**
 * These settings with their defaults, for tests and for code that runs without the full server
 * configuration. Throws on an invalid value.
 */
export function findingsConfig(
  options: Partial<Static<typeof FindingsConfigSchema>> = {},
): FindingsConfig {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))
  const merged = Value.Default(FindingsConfigSchema, defined)
  const problems = [...Value.Errors(FindingsConfigSchema, merged)].map(
    (e) => `${e.path.replace(/^\//, '')}: ${e.message}`,
  )
  if (problems.length > 0) throw new Error(`Invalid findings settings: ${problems.join('; ')}`)
  return Object.freeze(merged as FindingsConfig)
}

/** `a, b ,c` -> `['a', 'b', 'c']`. */
export function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}
