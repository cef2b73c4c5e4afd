import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import { KilnError } from '../errors.js'

/** The latest time a JavaScript Date holds (8.64e15 ms, year 275760): later is not a time. */
export const MAX_UNIX_MS = 8_640_000_000_000_000

/**
 * A query-string time in Unix milliseconds. Bounded, so a time of 2^53 or more is a 400 here,
 * not a store error later.
 */
export function unixMs(description: string) {
  return Type.Integer({ minimum: 0, maximum: MAX_UNIX_MS, description })
}

const TIME_PARAMS = ['from', 'to', 'baseFrom', 'baseTo', 'compFrom', 'compTo'] as const
const DIGITS = /^\d{1,16}$/

/**
 * A hook that refuses a time parameter written other than in decimal digits: the schema's
 * coercion would read `0x10` as 16 and `1e3` as 1000, silently.
 */
export async function strictTimes(request: FastifyRequest): Promise<void> {
  const query = request.query as Record<string, unknown>
  for (const name of TIME_PARAMS) {
    const value = query[name]
    if (value === undefined) continue
    if (typeof value !== 'string' || !DIGITS.test(value)) {
      throw new KilnError(
        'KILN_ERR_BAD_REQUEST',
        `\`${name}\` must be Unix milliseconds in decimal digits, got ${JSON.stringify(value).slice(0, 40)}`,
      )
    }
  }
}
