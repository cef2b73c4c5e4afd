import { describe, expect, it } from 'vitest'
import { DEFAULT_TIME_RANGE, TIME_RANGES } from './time-range'
import { formatViewState, parseViewState, type ViewState } from './url-state'

describe('parseViewState', () => {
  it('reads service, type and range', () => {
    const range = TIME_RANGES[0].key
    expect(parseViewState(`?service=checkout&type=wall&range=${range}`)).toEqual({
      service: 'checkout',
      type: 'wall',
      range,
    })
  })

  it('falls back to defaults for missing, empty or unknown values', () => {
    const expected: ViewState = { service: null, type: null, range: DEFAULT_TIME_RANGE }
    expect(parseViewState('')).toEqual(expected)
    expect(parseViewState('?service=&type=&range=')).toEqual(expected)
    expect(parseViewState('?range=7d')).toEqual(expected)
  })

  it('decodes escaped names', () => {
    const service = 'api gateway/eu&1'
    const search = `?service=${encodeURIComponent(service)}`
    expect(parseViewState(search).service).toBe(service)
  })
})

describe('formatViewState', () => {
  it('round-trips through parseViewState', () => {
    const states: ViewState[] = [
      { service: 'a b&c=d', type: 'heap_inuse_space', range: '24h' },
      { service: 'checkout', type: null, range: '5m' },
      { service: null, type: null, range: DEFAULT_TIME_RANGE },
    ]
    for (const state of states) expect(parseViewState(formatViewState(state))).toEqual(state)
  })

  it('leaves out unset fields', () => {
    const search = formatViewState({ service: null, type: null, range: '1h' })
    expect(search).toBe('?range=1h')
  })
})
