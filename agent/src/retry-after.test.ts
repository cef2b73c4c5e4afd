import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from './retry-after.js'

// RFC 9110 §5.6.7's sample instant, written in each of the three HTTP-date forms.
const SAMPLE_MS = Date.UTC(1994, 10, 6, 8, 49, 37)
const IMF_FIXDATE = 'Sun, 06 Nov 1994 08:49:37 GMT'
const RFC850_DATE = 'Sunday, 06-Nov-94 08:49:37 GMT'
const ASCTIME_DATE = 'Sun Nov  6 08:49:37 1994'

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 10, 30, 12, 0, 0)

  it('reads delta-seconds as milliseconds from now', () => {
    for (const seconds of [0, 1, 7, 120, 86_400]) {
      expect(parseRetryAfter(String(seconds), now)).toBe(seconds * 1000)
    }
    expect(parseRetryAfter(' 7 ', now)).toBe(7000)
  })

  it('takes a delta-seconds too large to represent as 2^31 seconds (RFC 9111 §1.2.2)', () => {
    expect(parseRetryAfter('9'.repeat(400), now)).toBe(2 ** 31 * 1000)
  })

  it('reads an HTTP-date in each of its three forms as the time left until it', () => {
    const before = SAMPLE_MS - 7000
    for (const date of [IMF_FIXDATE, RFC850_DATE, ASCTIME_DATE]) {
      expect(parseRetryAfter(date, before), date).toBe(SAMPLE_MS - before)
    }
    const ahead = now + 5000
    expect(parseRetryAfter(new Date(ahead).toUTCString(), now)).toBe(ahead - now)
  })

  it('reads a two-digit year as at most 50 years ahead (RFC 9110 §5.6.7)', () => {
    const soon = Date.UTC(2030, 0, 1, 0, 0, 10)
    expect(parseRetryAfter('Tuesday, 01-Jan-30 00:00:10 GMT', now)).toBe(soon - now)
    // 2099 would be more than 50 years ahead of 2026: it is 1999, in the past.
    expect(parseRetryAfter('Friday, 31-Dec-99 23:59:59 GMT', now)).toBe(0)
  })

  it('asks for no wait when the date is already past', () => {
    expect(parseRetryAfter(new Date(now - 60_000).toUTCString(), now)).toBe(0)
    expect(parseRetryAfter(IMF_FIXDATE, now)).toBe(0)
  })

  it('ignores negative numbers', () => {
    for (const value of ['-1', '-30', '-0.5'])
      expect(parseRetryAfter(value, now), value).toBe(undefined)
  })

  it('ignores garbage, including what Date.parse would take', () => {
    for (const value of [
      '',
      'soon',
      '1.5',
      '+5',
      '5s',
      '0x10',
      '1e3',
      'foo 12',
      '2026-12-01T00:00:00Z',
      'Sun, 31 Feb 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 24:00:00 GMT',
      'Sun, 06 Nov 1994 08:49:37 UTC',
      'Sun, 6 Nov 1994 08:49:37 GMT',
      `${IMF_FIXDATE} trailing`,
    ]) {
      expect(parseRetryAfter(value, now), value).toBe(undefined)
    }
    expect(parseRetryAfter(undefined, now)).toBe(undefined)
  })
})

it('documents the cap on Retry-After in the README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  expect(readme).toContain(`at most ${MAX_RETRY_AFTER_MS / 60_000} minutes`)
})
