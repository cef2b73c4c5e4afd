/*
 * `Retry-After` (RFC 9110 §10.2.3): how long a server that answered 429 or 503 asks its clients
 * to wait, as delta-seconds (`Retry-After: 120`) or as an HTTP-date
 * (`Retry-After: Fri, 31 Dec 1999 23:59:59 GMT`).
 */

/**
 * The longest a server's `Retry-After` may hold the agent's uploads back. Past it the agent
 * tries again anyway, so a hostile or broken server cannot stall it for good; the queue stays
 * bounded (oldest dropped) while it waits.
 */
export const MAX_RETRY_AFTER_MS = 10 * 60_000

/** RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31 seconds. */
const MAX_DELTA_SECONDS = 2 ** 31

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const MONTH = `(${MONTHS.join('|')})`
const DAY_NAME = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const DAY_NAME_LONG = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)'
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'

// The three forms of HTTP-date a recipient must accept (RFC 9110 §5.6.7):
//   IMF-fixdate   Sun, 06 Nov 1994 08:49:37 GMT
//   rfc850-date   Sunday, 06-Nov-94 08:49:37 GMT   (obsolete)
//   asctime-date  Sun Nov  6 08:49:37 1994         (obsolete)
// Date.parse is not used: it takes almost anything (`Date.parse('foo 12')` is December 2001).
const IMF_FIXDATE = new RegExp(`^${DAY_NAME}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`)
const RFC850_DATE = new RegExp(`^${DAY_NAME_LONG}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`)
const ASCTIME_DATE = new RegExp(`^${DAY_NAME} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`)

/**
 * Milliseconds to wait from `nowMs` that a `Retry-After` value asks for; 0 for a date already
 * past, undefined when the value is absent or not valid (negative, fractional, not a date).
 * Not capped: the caller applies its own limit (`MAX_RETRY_AFTER_MS`).
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Math.min(Number(text), MAX_DELTA_SECONDS) * 1000
  const dateMs = parseHttpDate(text, nowMs)
  return dateMs === undefined ? undefined : Math.max(0, dateMs - nowMs)
}

/** An HTTP-date in any of its three forms, as epoch milliseconds. */
function parseHttpDate(text: string, nowMs: number): number | undefined {
  let m = IMF_FIXDATE.exec(text)
  if (m) {
    const [, day = '', month = '', year = '', hh = '', mm = '', ss = ''] = m
    return utcMs(Number(year), month, Number(day), hh, mm, ss)
  }
  m = RFC850_DATE.exec(text)
  if (m) {
    const [, day = '', month = '', year = '', hh = '', mm = '', ss = ''] = m
    return utcMs(fullYear(Number(year), nowMs), month, Number(day), hh, mm, ss)
  }
  m = ASCTIME_DATE.exec(text)
  if (m) {
    const [, month = '', day = '', hh = '', mm = '', ss = '', year = ''] = m
    return utcMs(Number(year), month, Number(day.trim()), hh, mm, ss)
  }
  return undefined
}

/**
 * RFC 9110 §5.6.7: a two-digit year that would be more than 50 years ahead is the most recent
 * past year with the same last two digits.
 */
function fullYear(twoDigits: number, nowMs: number): number {
  const thisYear = new Date(nowMs).getUTCFullYear()
  const year = thisYear - (thisYear % 100) + twoDigits
  return year > thisYear + 50 ? year - 100 : year
}

function utcMs(
  year: number,
  month: string,
  day: number,
  hh: string,
  mm: string,
  ss: string,
): number | undefined {
  const [hours, minutes, seconds] = [Number(hh), Number(mm), Number(ss)]
  // 60 seconds is a leap second, which the grammar allows.
  if (hours > 23 || minutes > 59 || seconds > 60) return undefined
  // setUTCFullYear, not Date.UTC, which reads years 0 to 99 as 1900 to 1999.
  const midnight = new Date(0).setUTCFullYear(year, MONTHS.indexOf(month), day)
  // 31 Feb or day 00 rolls over into another month: not a date.
  if (new Date(midnight).getUTCDate() !== day) return undefined
  return midnight + ((hours * 60 + minutes) * 60 + seconds) * 1000
}
