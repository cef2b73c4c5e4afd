/**
 * RFC 3339 times as alerting tools write them, to Unix ms. Go writes up to nanoseconds and any
 * offset: Alertmanager `2018-08-03T09:52:26.739266876+02:00`, Grafana
 * `2021-10-12T09:51:03.157076+02:00`; `Date.parse` does not promise to read more than three
 * fraction digits, so the fraction is cut to milliseconds here.
 */
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/

/** Go's zero `time.Time`, which Alertmanager and Grafana send as the `endsAt` of a firing alert. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z'

const YEAR_1000 = Date.UTC(1000, 0, 1)

/** Unix ms of an RFC 3339 time, `undefined` when it is not one. */
export function parseRfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text.trim())
  if (!m) return undefined
  const [, y, mo, d, h, mi, s, fraction = '', , sign, oh, om] = m
  const ms = Number(fraction.slice(0, 3).padEnd(3, '0'))
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms)
  // Date.UTC maps years 0..99 to 1900..1999; Go's zero time (year 1) must stay year 1.
  const date = new Date(utc)
  if (Number(y) < 100) date.setUTCFullYear(Number(y))
  const offset = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000 : 0
  const out = date.getTime() - offset
  return Number.isFinite(out) ? out : undefined
}

/**
 * An alert time: RFC 3339, or a number of Unix ms (or s, when below 1e11: nobody alerts on
 * 1973). `undefined` when absent, unreadable, or Go's zero time (year < 1000).
 */
export function parseAlertTime(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined
  let ms: number | undefined
  if (typeof value === 'number') ms = value < 1e11 ? value * 1000 : value
  else if (typeof value === 'string') {
    ms = /^\d+(\.\d+)?$/.test(value.trim()) ? parseAlertTime(Number(value)) : parseRfc3339(value)
  }
  if (ms === undefined || !Number.isFinite(ms)) return undefined
  // Go's zero time, and anything before year 1000, means "not set".
  if (ms < YEAR_1000) return undefined
  return Math.round(ms)
}
