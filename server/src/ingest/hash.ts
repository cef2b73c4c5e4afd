import { createHash } from 'node:crypto'
import type { UInt64String } from '../store/rows.js'

/** A 64-bit id of a string: the first 8 bytes of its MD5, as an unsigned decimal string. */
export function hash64(input: string): UInt64String {
  return createHash('md5').update(input).digest().readBigUInt64LE(0).toString()
}
