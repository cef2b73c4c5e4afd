import { writeFileSync } from 'node:fs'
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

/**
 * A `KILN_*` variable; empty counts as unset, as a CI job writes an absent secret
 * (`KILN_TOKEN: ${{ secrets.KILN_TOKEN }}`).
 */
export function env(name: 'KILN_SERVER_URL' | 'KILN_TOKEN' | 'KILN_TENANT'): string | undefined {
  const value = process.env[name]
  return value === undefined || value === '' ? undefined : value
}

export function client(values: { server?: string; token?: string; tenant?: string }): KilnClient {
  const [flag, baseUrl] =
    values.server !== undefined
      ? ['--server', values.server]
      : ['KILN_SERVER_URL', env('KILN_SERVER_URL') ?? 'http://localhost:4040']
  if (!/^https?:\/\/[^/]/.test(baseUrl)) {
    throw new UsageError(`${flag} ${JSON.stringify(baseUrl)}: not an http(s) URL`)
  }
  return new KilnClient({
    baseUrl,
    token: values.token ?? env('KILN_TOKEN'),
    tenant: values.tenant ?? env('KILN_TENANT'),
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

/**
 * A time flag, read here into Unix ms against one `now` for the whole command: a typo is one
 * clear line before any request, and `now-15m` means the same instant in every request of the
 * command (`kiln diff` asks twice).
 */
export function time(raw: string | undefined, flag: string, now: number): number | undefined {
  if (raw === undefined) return undefined
  try {
    return parseTime(raw, now)
  } catch (error) {
    if (error instanceof TimeSyntaxError) throw new UsageError(`${flag}: ${error.message}`)
    throw error
  }
}

/** Write an output file; a path that cannot be written is one line, not a stack. */
export function writeOutput(path: string, bytes: Uint8Array): void {
  try {
    writeFileSync(path, bytes)
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException
    throw new UsageError(`cannot write ${path} (${code ?? message})`)
  }
}

export const print = (text: string) => process.stdout.write(`${text}\n`)
