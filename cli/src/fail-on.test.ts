import type { DiffFunction, DiffResponse } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import { evaluateRules, FailRuleError, needsAbsolute, parseFailRule } from './fail-on.js'

const fn = (
  name: string,
  baseSelf: number,
  compSelf: number,
  base = 1000,
  comp = 1000,
): DiffFunction => ({
  name,
  file: `${name}.js`,
  baseSelf,
  compSelf,
  baseTotal: baseSelf,
  compTotal: compSelf,
  selfShare: compSelf / comp - baseSelf / base,
  totalShare: compSelf / comp - baseSelf / base,
  selfDelta: compSelf - baseSelf,
  totalDelta: compSelf - baseSelf,
})

/** A diff with these functions as its grown ones, totals `base` and `comp`. */
function diff(grew: DiffFunction[], base = 1000, comp = 1000, scale = 1): DiffResponse {
  const window = { from: 0, to: 1, query: '{}', stacks: 1, coverageMs: 0 }
  return {
    service: 's',
    type: 'cpu',
    unit: 'nanoseconds',
    aggregation: 'cumulative',
    baseline: { ...window, total: base },
    comparison: { ...window, total: comp },
    comparisonScale: scale,
    root: {
      name: 'total',
      baseTotal: base,
      baseSelf: 0,
      compTotal: comp,
      compSelf: 0,
      children: [],
    },
    changes: {
      rankBy: 'share',
      self: { grew, shrank: [] },
      total: { grew, shrank: [] },
    },
  }
}

describe('--fail-on rules', () => {
  it('parses the documented forms and refuses others', () => {
    expect(parseFailRule('self>2pp')).toEqual({
      measure: 'self',
      threshold: 2,
      unit: 'pp',
      text: 'self>2pp',
    })
    expect(parseFailRule(' self[render] > 12.5% ')).toMatchObject({
      fn: 'render',
      threshold: 12.5,
      unit: '%',
    })
    expect(parseFailRule('total>5%')).toMatchObject({ measure: 'total', unit: '%' })
    for (const bad of [
      'total>5pp',
      'self>2',
      'self<2pp',
      'cpu>2pp',
      'self>-2pp',
      'self[]>2pp',
      '',
    ]) {
      expect(() => parseFailRule(bad), bad).toThrow(FailRuleError)
    }
    expect(needsAbsolute([parseFailRule('self>2pp'), parseFailRule('total>5%')])).toBe(false)
    expect(needsAbsolute([parseFailRule('self>20%')])).toBe(true)
  })

  it('breaks a points rule when a function share grew past it, and names the function', () => {
    const d = diff([fn('slow', 100, 400), fn('mild', 100, 110)])
    const [breach, ...rest] = evaluateRules([parseFailRule('self>5pp')], d, undefined)
    expect(rest).toEqual([])
    expect(breach).toMatchObject({ function: 'slow', file: 'slow.js' })
    expect(breach!.value).toBeCloseTo(30, 9)
    expect(evaluateRules([parseFailRule('self>31pp')], d, undefined)).toEqual([])
    expect(evaluateRules([parseFailRule('self[mild]>0.5pp')], d, undefined)).toHaveLength(1)
  })

  it('judges relative rules per collected second, skipping functions under 1 % of the baseline', () => {
    // The comparison collected twice as long: scale 0.5 halves its values.
    const d = diff(
      [fn('render', 200, 500, 1000, 2000), fn('tiny', 5, 100, 1000, 2000)],
      1000,
      2000,
      0.5,
    )
    const breaches = evaluateRules([parseFailRule('self>20%')], d, d)
    expect(breaches.map((b) => b.function)).toEqual(['render'])
    expect(breaches[0]!.value).toBeCloseTo(25, 9)
    expect(evaluateRules([parseFailRule('self>30%')], d, d)).toEqual([])
    // The whole profile: 2000 * 0.5 against 1000, no growth.
    expect(evaluateRules([parseFailRule('total>1%')], d, undefined)).toEqual([])
    expect(
      evaluateRules([parseFailRule('total>1%')], diff([], 1000, 1100), undefined),
    ).toHaveLength(1)
  })
})
