import { MAX_TIME_MS, parseTime, TimeSyntaxError } from '@kiln/wire'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import { KilnError } from '../errors.js'

/** The latest time a JavaScript Date holds (8.64e15 ms, year 275760): later is not a time. */
export const MAX_UNIX_MS = MAX_TIME_MS

/** How every time parameter may be written (`parseTime` in `@kiln/wire`). */
const FORMATS =
  'Unix seconds, ms or ns (by magnitude), RFC 3339 (2026-12-01T09:30:00Z), or now, now-15m, now-1h, now-7d'

/**
 * A query-string time, in Unix milliseconds once {@link strictTimes} has read it. Bounded, so a
 * time past what a Date holds is a 400 here, not a store error later.
 */
export function unixMs(description: string) {
  return Type.Integer({
    minimum: 0,
    maximum: MAX_UNIX_MS,
    description: `${description}. Written as ${FORMATS}`,
  })
}

const TIME_PARAMS = ['from', 'to', 'baseFrom', 'baseTo', 'compFrom', 'compTo'] as const

/**
 * A hook that reads each time parameter as people write it (`parseTime`: Unix time in any unit,
 * RFC 3339, `now-1h`) and puts it back in Unix milliseconds for the schema, all relative times
 * of one request against the same now. Anything else is a 400 (`0x10` and `1e3` too: the schema's
 * own coercion would read them as numbers, silently).
 */
export async function strictTimes(request: FastifyRequest): Promise<void> {
  const query = request.query as Record<string, unknown>
  const now = Date.now()
  for (const name of TIME_PARAMS) {
    const value = query[name]
    if (value === undefined) continue
    if (typeof value !== 'string') {
      throw new KilnError('KILN_ERR_TIME_INVALID', `\`${name}\` is given more than once`)
    }
    query[name] = String(timeParam(name, value, now))
  }
}

/**
 * The time parameter `name` in Unix ms, read by `parse` (`parseTime`, or a reader that adds
 * forms of its own); a time it cannot read is a 400 `KILN_ERR_TIME_INVALID` naming the parameter.
 */
export function timeParam(
  name: string,
  value: string,
  now: number,
  parse: (input: string, now: number) => number = parseTime,
): number {
  try {
    return parse(value, now)
  } catch (error) {
    if (!(error instanceof TimeSyntaxError)) throw error
    throw new KilnError('KILN_ERR_TIME_INVALID', `\`${name}\`: ${error.message}`)
  }
}
