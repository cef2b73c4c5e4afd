import { KilnError } from '../errors.js'

/**
 * Pyroscope's `from`/`until` are Unix seconds, but clients send ms, µs or ns too. The unit is
 * told by magnitude: any time after 1973 in seconds is below 1e11, in ms below 1e14, and so on.
 * Returns Unix milliseconds, or undefined when absent.
 */
export function parseTimeParam(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined
  if (!/^\d{1,20}$/.test(raw))
    throw new KilnError('KILN_ERR_TIME_INVALID', `${name}=${raw.slice(0, 32)}`)
  const n = Number(raw)
  if (n < 1e11) return n * 1000
  if (n < 1e14) return n
  if (n < 1e17) return Math.floor(n / 1e3)
  return Math.floor(n / 1e6)
}
