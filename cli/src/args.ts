import { parseArgs, type ParseArgsConfig } from 'node:util'
import { KilnClient, TimeSyntaxError, parseTime } from '@kiln/wire'

/** Flags, the client and output shared by the commands. */

export class UsageError extends Error {}

export const COMMON = {
  server: { type: 'string' },
  token: { type: 'string' },
  tenant: { type: 'string' },
  type: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  query: { type: 'string' },
  json: { type: 'boolean' },
  limit: { type: 'string' },
  service: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options']

export function parse<O extends ParseArgsConfig['options']>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: false })
      .values
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

export function client(values: { server?: string; token?: string; tenant?: string }): KilnClient {
  const baseUrl = values.server ?? process.env.KILN_SERVER_URL ?? 'http://localhost:4040'
  if (!/^https?:\/\/[^/]/.test(baseUrl))
    throw new UsageError(`--server ${baseUrl}: not an http(s) URL`)
  return new KilnClient({
    baseUrl,
    token: values.token ?? process.env.KILN_TOKEN,
    tenant: values.tenant ?? process.env.KILN_TENANT,
  })
}

export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`)
  return value
}

export function limitOf(raw: string | undefined, fallback = 20): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--limit ${raw}: a whole number from 1`)
  return n
}

/** A time flag checked here, so a typo is one clear line before any request. */
export function time(raw: string | undefined, flag: string): string | undefined {
  if (raw === undefined) return undefined
  try {
    parseTime(raw, Date.now())
  } catch (error) {
    if (error instanceof TimeSyntaxError) throw new UsageError(`${flag}: ${error.message}`)
    throw error
  }
  return raw
}

export const print = (text: string) => process.stdout.write(`${text}\n`)
