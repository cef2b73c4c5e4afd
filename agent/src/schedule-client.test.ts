import type { SchedulePlan } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import { instanceId, readAnswer } from './schedule-client.js'

const NOW = Date.UTC(2026, 10, 30, 12)

const PLAN: SchedulePlan = {
  windowMs: 10_000,
  period: 8,
  slot: 3,
  instances: 5,
  rank: 2,
  concurrent: 0.625,
  serverTimeMs: NOW,
  checkinMs: 30_000,
}

const answer = (status: number, body: string, retryAfter?: string) =>
  readAnswer({ status, body, retryAfter }, NOW)

describe('readAnswer', () => {
  it('takes a plan, ignoring fields it does not know', () => {
    expect(answer(200, JSON.stringify({ ...PLAN, later: true }))).toEqual({
      kind: 'plan',
      plan: { ...PLAN, later: true },
    })
  })

  it('says a server without schedules (Pyroscope, older Kiln) has none', () => {
    expect(answer(404, '{"error":"not found"}')).toEqual({ kind: 'unsupported', status: 404 })
    expect(answer(405, '')).toEqual({ kind: 'unsupported', status: 405 })
  })

  it("fails on other statuses, with a 429's or 503's Retry-After", () => {
    expect(answer(500, 'boom')).toMatchObject({ kind: 'failed', retryAfterMs: undefined })
    expect(answer(401, '{"code":"KILN_ERR_UNAUTHORIZED"}')).toMatchObject({ kind: 'failed' })
    expect(answer(429, '', '7')).toMatchObject({ kind: 'failed', retryAfterMs: 7000 })
    expect(answer(503, '', 'soon')).toMatchObject({ kind: 'failed', retryAfterMs: undefined })
  })

  it('refuses garbage as a plan', () => {
    const bad: [string, string][] = [
      ['not JSON', '<html>welcome</html>'],
      ['not an object', '[]'],
      ['a field missing', JSON.stringify({ ...PLAN, period: undefined })],
      ['a window under a second', JSON.stringify({ ...PLAN, windowMs: 10 })],
      ['a slot past the period', JSON.stringify({ ...PLAN, slot: PLAN.period })],
      ['a period of zero', JSON.stringify({ ...PLAN, period: 0, slot: 0 })],
      ['a fractional period', JSON.stringify({ ...PLAN, period: 2.5 })],
      ['a string for a number', JSON.stringify({ ...PLAN, serverTimeMs: String(NOW) })],
    ]
    for (const [what, body] of bad) expect(answer(200, body).kind, what).toBe('failed')
  })
})

describe('instanceId', () => {
  it('names the host and pid in the characters the server accepts', () => {
    expect(instanceId('web-1.eu', 42)).toBe('web-1.eu:42')
    const odd = instanceId('höst name\n', 7)
    expect(odd).toMatch(/^[\x21-\x7e]+$/)
    expect(odd.endsWith(':7')).toBe(true)
    expect(instanceId('h'.repeat(400), 7)).toHaveLength(256)
  })
})
