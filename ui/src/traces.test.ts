import { describe, expect, it } from 'vitest'
import {
  DEFAULT_TRACE_LOOKBACK_MS,
  MAX_TRACE_IDS,
  TRACE_WINDOW_PAD_AFTER_MS,
  TRACE_WINDOW_PAD_BEFORE_MS,
  linkTimeMs,
  normalizeTraceId,
  parseTraceIds,
  shortTraceId,
  traceQueryWindow,
  traceSampleWindow,
} from './traces'

const T0 = Date.UTC(2026, 2, 1, 12)
const ID = '0af7651916cd43dd8448eb211c80319c'

describe('trace ids', () => {
  it('lowercases, and pads a 128-bit id that lost its leading zero', () => {
    expect(normalizeTraceId(` ${ID.toUpperCase()} `)).toBe(ID)
    expect(normalizeTraceId(ID.slice(1))).toBe(ID)
    // 64-bit ids stay as they are.
    expect(normalizeTraceId('00f067aa0ba902b7')).toBe('00f067aa0ba902b7')
  })

  it('reads comma-separated lists, and refuses what is not hex', () => {
    expect(parseTraceIds(`${ID},abc,,ABC`)).toEqual([ID, 'abc'])
    expect(parseTraceIds('xyz')).toBeNull()
    expect(parseTraceIds('')).toBeNull()
    expect(parseTraceIds('a'.repeat(33))).toBeNull()
    const many = Array.from({ length: MAX_TRACE_IDS + 1 }, (_, i) => i.toString(16)).join(',')
    expect(parseTraceIds(many)).toBeNull()
  })

  it('shortens long ids for tight places', () => {
    expect(shortTraceId(ID)).toBe('0af76519…80319c')
    expect(shortTraceId('abc')).toBe('abc')
  })
})

describe('linkTimeMs', () => {
  it('reads ms, and µs or ns as tracing UIs write them', () => {
    expect(linkTimeMs(String(T0), 'down')).toBe(T0)
    expect(linkTimeMs(String(T0 * 1000 + 999), 'down')).toBe(T0)
    expect(linkTimeMs(String(T0 * 1000 + 1), 'up')).toBe(T0 + 1)
    expect(linkTimeMs(`${T0}000000`, 'down')).toBe(T0)
    for (const bad of [null, '', '-1', '1.5', 'now', '1'.repeat(20)]) {
      expect(linkTimeMs(bad, 'down')).toBeNull()
    }
  })
})

describe('traceQueryWindow', () => {
  it("widens the link's window by the longest profile before it and a minute after", () => {
    // A 10-minute profile that started 9 minutes before the span holds its samples at its start.
    expect(TRACE_WINDOW_PAD_BEFORE_MS).toBeGreaterThanOrEqual(10 * 60_000)
    expect(traceQueryWindow({ from: T0, to: T0 + 250 }, T0 + 5000)).toEqual({
      window: { from: T0 - TRACE_WINDOW_PAD_BEFORE_MS, to: T0 + 1000 + TRACE_WINDOW_PAD_AFTER_MS },
      defaulted: false,
    })
  })

  it('shows the last hour when the link names no window', () => {
    expect(traceQueryWindow(null, T0)).toEqual({
      window: { from: T0 - DEFAULT_TRACE_LOOKBACK_MS, to: T0 },
      defaulted: true,
    })
  })

  it("spans a listed trace's samples", () => {
    expect(traceSampleWindow({ first: T0, last: T0 })).toEqual({ from: T0, to: T0 + 1 })
  })
})
