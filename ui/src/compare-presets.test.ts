import type { VersionSummary } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_DIFF_WINDOW_MS,
  VERSION_WINDOW_MAX_MS,
  isFixedDiff,
  resolveDiffWindows,
  comparisonState,
  deployComparison,
  deployMarkers,
  shiftedComparison,
  versionLabel,
  versionSelector,
  versionsComparison,
} from './compare-presets'
import { DAY_MS, HOUR_MS, MINUTE_MS } from './time-window'

const T0 = Date.UTC(2026, 2, 1, 12)
const version = (name: string, firstSeen: number, lastSeen: number): VersionSummary => ({
  version: name,
  firstSeen,
  lastSeen,
  profiles: 10,
})
// 1.0 for two hours, 1.1 for 30 minutes, 1.2 until now (T0 + 3 h).
const v10 = version('1.0', T0, T0 + 2 * HOUR_MS)
const v11 = version('1.1', T0 + 2 * HOUR_MS, T0 + 2.5 * HOUR_MS)
const v12 = version('1.2', T0 + 2.5 * HOUR_MS, T0 + 3 * HOUR_MS)
const versions = [v12, v10, v11] // any order in, oldest first out

describe('versionLabel / versionSelector', () => {
  it('prefers service_version and falls back to version', () => {
    expect(versionLabel(['env', 'service_version', 'version'])).toBe('service_version')
    expect(versionLabel(['env', 'version'])).toBe('version')
    expect(versionLabel([])).toBe('service_version')
  })

  it('quotes the version as a selector string', () => {
    expect(versionSelector('service_version', '1.4.2')).toBe('{service_version="1.4.2"}')
    expect(versionSelector('version', 'a"b\\c')).toBe('{version="a\\"b\\\\c"}')
  })
})

describe('deployMarkers', () => {
  it('marks each version after the first where it was first seen, inside the window', () => {
    const all = { from: T0 - HOUR_MS, to: T0 + 4 * HOUR_MS }
    expect(deployMarkers(versions, all)).toEqual([
      { version: '1.1', previous: '1.0', at: v11.firstSeen },
      { version: '1.2', previous: '1.1', at: v12.firstSeen },
    ])
    const late = { from: T0 + 2.25 * HOUR_MS, to: T0 + 4 * HOUR_MS }
    expect(deployMarkers(versions, late).map((m) => m.version)).toEqual(['1.2'])
  })

  it('ignores series without a version', () => {
    const unnamed = version('', T0 + HOUR_MS, T0 + 2 * HOUR_MS)
    const marked = deployMarkers([...versions, unnamed], { from: T0, to: T0 + 4 * HOUR_MS })
    expect(marked.every((m) => m.version !== '' && m.previous !== '')).toBe(true)
  })
})

describe('deployComparison', () => {
  const label = 'service_version'

  it('compares the window after the first sighting with the one before, by version', () => {
    const length = 15 * MINUTE_MS
    expect(deployComparison(versions, '1.1', length, label)).toEqual({
      baseline: { from: v11.firstSeen - length, to: v11.firstSeen },
      comparison: { from: v11.firstSeen, to: v11.firstSeen + length },
      baseQuery: versionSelector(label, '1.0'),
      compQuery: versionSelector(label, '1.1'),
    })
  })

  it('keeps the label filter on both sides, with each version', () => {
    const c = deployComparison(versions, '1.1', 15 * MINUTE_MS, label, '{pod="b"}')!
    expect(c.baseQuery).toBe('{pod="b", service_version="1.0"}')
    expect(c.compQuery).toBe('{pod="b", service_version="1.1"}')
  })

  it('shortens each window to the life of its version', () => {
    const length = 2 * HOUR_MS
    const c = deployComparison(versions, '1.2', length, label)!
    expect(c.baseline).toEqual({ from: v11.firstSeen, to: v12.firstSeen })
    expect(c.comparison).toEqual({ from: v12.firstSeen, to: v12.lastSeen })
  })

  it('has nothing to compare for the first or an unknown version', () => {
    expect(deployComparison(versions, '1.0', HOUR_MS, label)).toBeNull()
    expect(deployComparison(versions, '9.9', HOUR_MS, label)).toBeNull()
  })
})

describe('shiftedComparison', () => {
  const window = { from: T0, to: T0 + 10 * MINUTE_MS }

  it('compares with the same window an hour or a day earlier', () => {
    for (const shift of [HOUR_MS, DAY_MS]) {
      expect(shiftedComparison(window, shift)).toEqual({
        baseline: { from: window.from - shift, to: window.to - shift },
        comparison: window,
      })
    }
  })

  it('compares with the window just before, keeping the selector on both sides', () => {
    const query = '{env="prod"}'
    expect(shiftedComparison(window, 'previous', query)).toEqual({
      baseline: { from: T0 - 10 * MINUTE_MS, to: T0 },
      comparison: window,
      baseQuery: query,
      compQuery: query,
    })
  })
})

describe('versionsComparison', () => {
  it('reads each version over its life, by its label', () => {
    const c = versionsComparison(versions, '1.1', '1.2', 'version')!
    expect(c).toEqual({
      baseline: { from: v11.firstSeen, to: v11.lastSeen },
      comparison: { from: v12.firstSeen, to: v12.lastSeen },
      baseQuery: '{version="1.1"}',
      compQuery: '{version="1.2"}',
    })
  })

  it('reads at most the last day of a long-lived version', () => {
    const old = version('0.9', T0 - 10 * DAY_MS, T0)
    const c = versionsComparison([old, ...versions], '0.9', '1.0', 'version')!
    expect(c.baseline).toEqual({ from: T0 - VERSION_WINDOW_MAX_MS, to: T0 })
  })

  it('is null for an unknown version', () => {
    expect(versionsComparison(versions, '1.0', 'nope', 'version')).toBeNull()
  })
})

describe('comparisonState', () => {
  it('names both windows and selectors as a diff link does', () => {
    const c = deployComparison(versions, '1.1', HOUR_MS, 'service_version')!
    expect(comparisonState(c, { service: 's', type: 'cpu' })).toMatchObject({
      view: 'diff',
      service: 's',
      type: 'cpu',
      baseFrom: c.baseline.from,
      baseTo: c.baseline.to,
      compFrom: c.comparison.from,
      compTo: c.comparison.to,
      baseQuery: c.baseQuery,
      compQuery: c.compQuery,
    })
  })
})

describe('resolveDiffWindows', () => {
  const none = { baseFrom: null, baseTo: null, compFrom: null, compTo: null }

  it('fills in the last 15 minutes against the 15 before, like the server', () => {
    expect(resolveDiffWindows(none, T0)).toEqual({
      baseline: { from: T0 - 2 * DEFAULT_DIFF_WINDOW_MS, to: T0 - DEFAULT_DIFF_WINDOW_MS },
      comparison: { from: T0 - DEFAULT_DIFF_WINDOW_MS, to: T0 },
    })
    expect(isFixedDiff(none)).toBe(false)
  })

  it('keeps the times it is given', () => {
    const given = { baseFrom: 1, baseTo: 2, compFrom: 3, compTo: 5 }
    expect(resolveDiffWindows(given, T0)).toEqual({
      baseline: { from: 1, to: 2 },
      comparison: { from: 3, to: 5 },
    })
    expect(isFixedDiff(given)).toBe(true)
  })

  it('gives the baseline the comparison length when only the comparison is given', () => {
    const w = resolveDiffWindows({ ...none, compFrom: T0, compTo: T0 + HOUR_MS }, T0)
    expect(w.baseline).toEqual({ from: T0 - HOUR_MS, to: T0 })
  })
})
