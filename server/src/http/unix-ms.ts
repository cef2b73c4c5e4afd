import { Type } from '@sinclair/typebox'

/** The latest time a JavaScript Date holds (8.64e15 ms, year 275760): later is not a time. */
export const MAX_UNIX_MS = 8_640_000_000_000_000

/**
 * A query-string time in Unix milliseconds. Bounded, so a time of 2^53 or more is a 400 here,
 * not a store error later.
 */
export function unixMs(description: string) {
  return Type.Integer({ minimum: 0, maximum: MAX_UNIX_MS, description })
}
