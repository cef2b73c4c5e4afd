import { parseServiceRules } from '../hooks/service-rules.js'
import { Value } from '@sinclair/typebox/value'
import type { TSchema } from '@sinclair/typebox'
import { ConfigSchema, type KilnConfig, type KilnOptions } from './config-schema.js'

export class ConfigError extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(`Invalid Kiln server configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/** The environment variable of each setting, read from the schema. */
export function configEnvVars(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, schema] of Object.entries(ConfigSchema.properties)) {
    const env = (schema as TSchema & { env?: string }).env
    if (env) out[key] = env
  }
  return out
}

function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, name] of Object.entries(configEnvVars())) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    const schema = ConfigSchema.properties[key as keyof typeof ConfigSchema.properties]
    if (schema.type === 'integer' || schema.type === 'number') out[key] = Number(raw)
    else if (schema.type === 'boolean')
      out[key] = ['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())
    else out[key] = raw
  }
  return out
}

/**
 * Resolve the server configuration. Precedence: explicit options, then environment variables
 * (`KILN_*`), then defaults. All problems are reported at once; the result is frozen.
 */
export function resolveConfig(options: KilnOptions = {}, env: NodeJS.ProcessEnv = {}): KilnConfig {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))
  const merged = Value.Default(ConfigSchema, { ...fromEnv(env), ...defined })
  const problems = [...Value.Errors(ConfigSchema, merged)].map((e) => {
    const key = e.path.replace(/^\//, '')
    const envName = configEnvVars()[key]
    return `${key}${envName ? ` (${envName})` : ''}: ${e.message}, got ${JSON.stringify(e.value)}`
  })
  const config = merged as KilnConfig
  if (problems.length === 0 && config.scheduleMinShare > config.scheduleMaxShare) {
    problems.push(
      `scheduleMinShare (KILN_SCHEDULE_MIN_SHARE) ${config.scheduleMinShare} is above ` +
        `scheduleMaxShare (KILN_SCHEDULE_MAX_SHARE) ${config.scheduleMaxShare}`,
    )
  }
  if (problems.length === 0) {
    try {
      parseServiceRules(config.alertServiceLabels)
    } catch (error) {
      problems.push(`alertServiceLabels (KILN_ALERT_SERVICE_LABELS): ${(error as Error).message}`)
    }
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return Object.freeze(config)
}
