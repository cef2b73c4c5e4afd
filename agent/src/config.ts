import { hostname } from 'node:os'
import { LABEL_NAME_PATTERN, TENANT_PATTERN } from '@kiln/wire'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { AgentLogger } from './logger.js'
import { AGENT_VERSION } from './version.js'

const ConfigSchema = Type.Object(
  {
    serverUrl: Type.String({ pattern: '^https?://', default: 'http://localhost:4040' }),
    service: Type.String({
      minLength: 1,
      maxLength: 256,
      pattern: '^[A-Za-z0-9][A-Za-z0-9._\\-/:]*$',
    }),
    version: Type.Optional(Type.String({ maxLength: 256 })),
    labels: Type.Record(Type.String({ pattern: LABEL_NAME_PATTERN }), Type.String(), {
      default: {},
    }),
    token: Type.Optional(Type.String()),
    // The server's grammar for X-Scope-OrgID: a value it would refuse is reported at start.
    tenant: Type.Optional(Type.String({ pattern: TENANT_PATTERN })),
    // When the time profiler runs (README, "When the agent collects"): `server` follows the
    // plan of the server's schedule and falls back to `local` without one; `local` collects in
    // `dutyCycle` of the `windowMs` windows; `always` never stops, a profile every
    // `uploadIntervalMs`.
    schedule: Type.Union([Type.Literal('server'), Type.Literal('local'), Type.Literal('always')], {
      default: 'server',
    }),
    // 1/8: the server's default largest share too (`scheduleMaxShare`), so an instance pays
    // about as much with or without the server's plan. `local` collects in one window of
    // round(1 / dutyCycle).
    dutyCycle: Type.Number({ minimum: 0.001, maximum: 1, default: 0.125 }),
    windowMs: Type.Integer({ minimum: 1000, maximum: 600_000, default: 10_000 }),
    uploadIntervalMs: Type.Integer({ minimum: 1000, maximum: 600_000, default: 10_000 }),
    uploadTimeoutMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
    // 50 Hz and 1 MiB: what fits the 1 % budget on a service saturating one core (see
    // bench/README.md, "Agent overhead"; 100 Hz and 512 KiB cost about twice as much).
    samplingIntervalMicros: Type.Integer({ minimum: 100, maximum: 1_000_000, default: 20_000 }),
    heapSamplingIntervalBytes: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
    heapStackDepth: Type.Integer({ minimum: 1, maximum: 1024, default: 64 }),
    wall: Type.Boolean({ default: true }),
    // With OpenTelemetry in the process, CPU and wall samples carry the local root span's trace
    // and span ids and its endpoint (README, "Traces and endpoints").
    traces: Type.Boolean({ default: true }),
    heap: Type.Boolean({ default: true }),
    maxQueueProfiles: Type.Integer({ minimum: 1, default: 30 }),
    maxQueueBytes: Type.Integer({ minimum: 1024, default: 16 * 1024 * 1024 }),
    maxRetries: Type.Integer({ minimum: 0, default: 5 }),
    sourceMaps: Type.Boolean({ default: true }),
    sourceMapDirs: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    overheadBudgetPercent: Type.Number({ exclusiveMinimum: 0, maximum: 100, default: 1 }),
    debug: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
)

export type AgentConfig = Readonly<Static<typeof ConfigSchema>> & { logger?: AgentLogger }
export type AgentOptions = Partial<Static<typeof ConfigSchema>> & { logger?: AgentLogger }

/** Environment variables of each option; KILN_* first, then the ecosystem's conventions. */
export const ENV_VARS = {
  serverUrl: 'KILN_SERVER_URL',
  service: 'KILN_SERVICE',
  version: 'KILN_VERSION',
  labels: 'KILN_LABELS',
  token: 'KILN_TOKEN',
  tenant: 'KILN_TENANT',
  schedule: 'KILN_SCHEDULE',
  dutyCycle: 'KILN_DUTY_CYCLE',
  windowMs: 'KILN_WINDOW_MS',
  uploadIntervalMs: 'KILN_UPLOAD_INTERVAL_MS',
  uploadTimeoutMs: 'KILN_UPLOAD_TIMEOUT_MS',
  samplingIntervalMicros: 'KILN_SAMPLING_INTERVAL_MICROS',
  heapSamplingIntervalBytes: 'KILN_HEAP_SAMPLING_INTERVAL_BYTES',
  heapStackDepth: 'KILN_HEAP_STACK_DEPTH',
  wall: 'KILN_WALL',
  traces: 'KILN_TRACES',
  heap: 'KILN_HEAP',
  maxQueueProfiles: 'KILN_MAX_QUEUE_PROFILES',
  maxQueueBytes: 'KILN_MAX_QUEUE_BYTES',
  maxRetries: 'KILN_MAX_RETRIES',
  sourceMaps: 'KILN_SOURCE_MAPS',
  sourceMapDirs: 'KILN_SOURCE_MAP_DIRS',
  overheadBudgetPercent: 'KILN_OVERHEAD_BUDGET_PERCENT',
  debug: 'KILN_DEBUG',
} as const satisfies Record<keyof Static<typeof ConfigSchema>, string>

export class AgentConfigError extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(`Invalid Kiln agent configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'AgentConfigError'
    this.problems = problems
  }
}

/** `k=v,k2=v2` (KILN_LABELS, OTEL_RESOURCE_ATTRIBUTES) into a record. */
export function parseLabelList(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of (raw ?? '').split(',')) {
    const eq = pair.indexOf('=')
    if (eq <= 0) continue
    out[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim())
  }
  return out
}

function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const otel = parseLabelList(env.OTEL_RESOURCE_ATTRIBUTES)
  const service = env.KILN_SERVICE || env.OTEL_SERVICE_NAME || otel['service.name']
  if (service) out.service = service
  const version = env.KILN_VERSION || otel['service.version']
  if (version) out.version = version
  const labels = parseLabelList(env.KILN_LABELS)
  const environment = otel['deployment.environment.name'] ?? otel['deployment.environment']
  if (environment && labels.env === undefined) labels.env = environment
  if (Object.keys(labels).length > 0) out.labels = labels
  for (const [key, name] of Object.entries(ENV_VARS)) {
    if (key === 'service' || key === 'version' || key === 'labels') continue
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    const schema = ConfigSchema.properties[key as keyof typeof ConfigSchema.properties]
    if (schema.type === 'integer' || schema.type === 'number') out[key] = Number(raw)
    else if (schema.type === 'array') out[key] = raw.split(',').filter(Boolean)
    else if (schema.type === 'boolean')
      out[key] = !['0', 'false', 'no', 'off'].includes(raw.toLowerCase())
    else out[key] = raw
  }
  return out
}

/**
 * Resolve the agent configuration: options, then environment variables, then defaults. Every
 * problem is collected into one `AgentConfigError`; the result is frozen.
 */
export function resolveAgentConfig(
  options: AgentOptions = {},
  env: NodeJS.ProcessEnv = {},
): AgentConfig {
  const { logger, ...rest } = options
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined))
  const merged = Value.Default(ConfigSchema, { ...fromEnv(env), ...defined }) as Record<
    string,
    unknown
  >
  const problems = [...Value.Errors(ConfigSchema, merged)].map((e) => {
    const key = e.path.split('/')[1] ?? ''
    const envName = (ENV_VARS as Record<string, string>)[key]
    return `${e.path.replace(/^\//, '') || key}${envName ? ` (${envName})` : ''}: ${e.message}`
  })
  const urlProblem = serverUrlProblem(merged.serverUrl)
  if (urlProblem && !problems.some((p) => p.startsWith('serverUrl'))) {
    problems.push(`serverUrl (${ENV_VARS.serverUrl}): ${urlProblem}`)
  }
  if (problems.length > 0) throw new AgentConfigError(problems)
  return Object.freeze({
    ...(merged as Static<typeof ConfigSchema>),
    ...(logger ? { logger } : {}),
  })
}

/**
 * Why `serverUrl` cannot be sent to, or undefined when it can. The schema's pattern only sees
 * the scheme: `http://` matches it, yet `new URL` refuses it, and a URL the uploads cannot be
 * built from must stop the agent at start, not fail every upload.
 */
function serverUrlProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined // the schema has said so already
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return `not a URL: ${JSON.stringify(value.slice(0, 200))}`
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be http:// or https://'
  if (!url.hostname) return `has no host: ${JSON.stringify(value.slice(0, 200))}`
  return undefined
}

/** Labels sent with every profile: the user's, the version, and where the process runs. */
export function staticLabels(config: AgentConfig): Record<string, string> {
  return {
    host: hostname(),
    pid: String(process.pid),
    runtime: 'nodejs',
    runtime_version: process.version,
    agent_version: AGENT_VERSION,
    ...(config.version ? { service_version: config.version } : {}),
    ...config.labels,
  }
}
