/**
 * Times as people write them, for every time parameter of the query API and the CLI:
 *
 * - Unix time in decimal digits, its unit told by magnitude as ingest does (Pyroscope clients
 *   send any of them): below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds,
 *   else nanoseconds. Any time after March 1973 reads right; `0` is the epoch.
 * - RFC 3339: `2026-12-01T09:30:00Z`, `2026-12-01T10:30:00.250+01:00` (a zone is required).
 * - Relative to now: `now`, `now-15m`, `now-1h`, `now+30s`, `now-7d` (units `ms`, `s`, `m`, `h`,
 *   `d`, `w`), as Grafana and Pyroscope write them.
 *
 * Anything else is refused: `parseTime` throws a {@link TimeSyntaxError}, which the server turns
 * into a 400 and the CLI into one line.
 */

export class TimeSyntaxError extends Error {
  constructor(input: string) {
    super(
      `${JSON.stringify(input.slice(0, 64))} is not a time: write Unix seconds, milliseconds or ` +
        'nanoseconds, RFC 3339 (2026-12-01T09:30:00Z), or now, now-15m, now-1h, now-7d',
    )
    this.name = 'TimeSyntaxError'
  }
}

/** The latest time a JavaScript Date holds (8.64e15 ms, year 275760). */
export const MAX_TIME_MS = 8_640_000_000_000_000

const DIGITS = /^\d{1,20}$/
const RELATIVE = /^now(?:([+-])(\d{1,12})(ms|s|m|h|d|w))?$/
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/** Unix time in digits, by magnitude (see the module comment), in whole milliseconds. */
export function unixDigitsToMs(digits: string): number {
  const n = Number(digits)
  if (n < 1e11) return n * 1000
  if (n < 1e14) return n
  if (n < 1e17) return Math.floor(n / 1e3)
  return Math.floor(n / 1e6)
}

/** Parse a time (see the module comment) into Unix milliseconds; `now` is Unix ms. */
export function parseTime(input: string, now: number): number {
  const text = input.trim()
  let ms: number | undefined
  if (DIGITS.test(text)) {
    ms = unixDigitsToMs(text)
  } else if (text.startsWith('now')) {
    const m = RELATIVE.exec(text)
    if (m !== null) {
      const offset = m[1] === undefined ? 0 : Number(m[2]) * UNIT_MS[m[3]!]!
      ms = m[1] === '-' ? now - offset : now + offset
    }
  } else {
    const m = RFC3339.exec(text)
    if (m !== null && validDate(Number(m[1]), Number(m[2]), Number(m[3]), m.slice(4, 7))) {
      const parsed = Date.parse(text.replace(' ', 'T'))
      if (Number.isFinite(parsed)) ms = parsed
    }
  }
  if (ms === undefined || !Number.isFinite(ms) || ms < 0 || ms > MAX_TIME_MS) {
    throw new TimeSyntaxError(input)
  }
  return Math.floor(ms)
}

/** Whether the fields are a real calendar date and time (Date.parse rolls 02-30 over). */
function validDate(year: number, month: number, day: number, time: string[]): boolean {
  const [h, min, s] = time.map(Number) as [number, number, number]
  if (month < 1 || month > 12 || day < 1 || h > 23 || min > 59 || s > 60) return false
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate()
  return day <= days
}
