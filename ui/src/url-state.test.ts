import { comparisonLinks, diffUiLink, flamegraphUiLink } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import { DEFAULT_TIME_RANGE, TIME_RANGES } from './time-range'
import {
  defaultDiffState,
  defaultExploreState,
  defaultTraceState,
  formatViewState,
  parseViewState,
  viewOfLink,
  type ViewState,
} from './url-state'

const T0 = Date.UTC(2026, 2, 1, 12)

describe('parseViewState', () => {
  it('reads service, type and range', () => {
    const range = TIME_RANGES[0].key
    expect(parseViewState(`?service=checkout&type=wall&range=${range}`)).toEqual(
      defaultExploreState({ service: 'checkout', type: 'wall' }, { range }),
    )
  })

  it('falls back to defaults for missing, empty or unknown values', () => {
    const expected = defaultExploreState()
    expect(expected.range).toBe(DEFAULT_TIME_RANGE)
    expect(parseViewState('')).toEqual(expected)
    expect(parseViewState('?service=&type=&range=')).toEqual(expected)
    expect(parseViewState('?range=7d&sort=up&maxNodes=x')).toEqual(expected)
  })

  it('decodes escaped names', () => {
    const service = 'api gateway/eu&1'
    const search = `?service=${encodeURIComponent(service)}`
    expect(parseViewState(search).service).toBe(service)
  })

  it('reads a fixed window only when both ends are times and in order', () => {
    const view = parseViewState(`?from=${T0}&to=${T0 + 1000}`)
    expect(view.view === 'explore' && view.window).toEqual({ from: T0, to: T0 + 1000 })
    for (const search of [`?from=${T0}`, `?from=${T0}&to=${T0}`, `?from=-1&to=${T0}`]) {
      const parsed = parseViewState(search)
      expect(parsed.view === 'explore' && parsed.window).toBeNull()
    }
  })

  it('reads the flame graph link of an alert', () => {
    const query = '{service_version="1.4.2"}'
    const link = flamegraphUiLink('https://kiln.example/', {
      service: 'checkout',
      type: 'cpu',
      from: T0,
      to: T0 + 60_000,
      query,
    })
    expect(viewOfLink(link)).toEqual(
      defaultExploreState(
        { service: 'checkout', type: 'cpu' },
        { window: { from: T0, to: T0 + 60_000 }, query },
      ),
    )
  })

  it('reads every parameter of a diff link', () => {
    const p = {
      service: 'checkout',
      type: 'heap_inuse_space',
      baseFrom: T0,
      baseTo: T0 + 1000,
      compFrom: T0 + 2000,
      compTo: T0 + 3000,
      baseQuery: '{service_version="1.4.1"}',
      compQuery: '{service_version="1.4.2"}',
    }
    const { service, type, ...rest } = p
    expect(viewOfLink(diffUiLink('http://x', p))).toEqual(defaultDiffState({ service, type }, rest))
  })
})

const TRACE = '0af7651916cd43dd8448eb211c80319c'

describe('the trace view', () => {
  it('reads the link a tracing UI opens', () => {
    expect(
      parseViewState(
        `?view=trace&service=checkout&type=cpu&traceId=${TRACE}&from=${T0}&to=${T0 + 250}`,
      ),
    ).toEqual(
      defaultTraceState(
        { service: 'checkout', type: 'cpu' },
        { traceId: TRACE, window: { from: T0, to: T0 + 250 } },
      ),
    )
  })

  it("reads Jaeger's microseconds and a trace id it printed without its leading zero", () => {
    const view = parseViewState(
      `?view=trace&traceId=${TRACE.slice(1).toUpperCase()}&from=${T0 * 1000 + 5}&to=${T0 * 1000 + 250_000}`,
    )
    expect(view).toEqual(
      defaultTraceState({}, { traceId: TRACE, window: { from: T0, to: T0 + 250 } }),
    )
    expect(formatViewState(view)).toBe(`?view=trace&traceId=${TRACE}&from=${T0}&to=${T0 + 250}`)
  })

  it('has no window without both ends in order, and keeps an unreadable id to say so', () => {
    for (const times of ['', `&from=${T0}`, `&from=${T0 + 1}&to=${T0}`, '&from=a&to=b']) {
      const view = parseViewState(`?view=trace&traceId=${TRACE}${times}`)
      expect(view.view === 'trace' && view.window).toBeNull()
    }
    const view = parseViewState('?view=trace&traceId=not-a-trace')
    expect(view.view === 'trace' && view.traceId).toBe('not-a-trace')
  })
})

describe('formatViewState', () => {
  it('round-trips through parseViewState', () => {
    const states: ViewState[] = [
      defaultExploreState({ service: 'a b&c=d', type: 'heap_inuse_space' }, { range: '24h' }),
      defaultExploreState({ service: 'checkout' }, { range: '5m' }),
      defaultExploreState(),
      defaultExploreState(
        { service: 's', type: 'cpu', search: 'parse(' },
        {
          window: { from: T0, to: T0 + 5 },
          query: '{env="prod", pod=~"api-.*"}',
          focus: { name: 'render', file: '/app/view.js' },
          sort: 'total',
          maxNodes: 20_000,
          groupBy: 'pod',
          zoom: ['main (app.js)', 'handle (server.js)'],
          colorBy: 'package',
        },
      ),
      defaultDiffState({ service: 's', type: 'cpu' }),
      defaultDiffState(
        { service: 's', type: 'cpu', search: 'x' },
        {
          baseFrom: T0,
          baseTo: T0 + 1,
          compFrom: T0 + 2,
          compTo: T0 + 3,
          baseQuery: '{v="1"}',
          compQuery: '{v="2"}',
          mode: 'absolute',
          layout: 'split',
          rank: 'total',
          focus: { name: 'anonymous' },
          colorBy: 'package',
        },
      ),
      { view: 'alerts', service: 's', type: null, search: '' },
      defaultTraceState({ service: 's', type: 'cpu' }, { traceId: TRACE }),
      defaultTraceState(
        { service: 'api gateway', type: 'wall', search: 'render' },
        {
          traceId: `${TRACE},abc`,
          window: { from: T0, to: T0 + 250 },
          focus: { name: 'render', file: '/app/view.js' },
          sort: 'total',
        },
      ),
    ]
    for (const state of states) expect(parseViewState(formatViewState(state))).toEqual(state)
  })

  it('leaves out unset and default fields', () => {
    expect(formatViewState(defaultExploreState({}, { range: '1h' }))).toBe('?range=1h')
    expect(formatViewState(defaultDiffState({ service: 's' }))).toBe('?view=diff&service=s')
  })

  it('writes back exactly the URL of a link the server built', () => {
    const links = comparisonLinks('https://kiln.example', {
      service: 'check out',
      type: 'cpu',
      comparison: { from: T0, to: T0 + 600_000 },
      baseQuery: '{service_version="1.4.1"}',
      compQuery: '{service_version="1.4.2", env!~"dev|test"}',
    })
    for (const link of [links.diff, links.flamegraph]) {
      const { search } = new URL(link)
      expect(formatViewState(parseViewState(search))).toBe(search)
    }
  })
})
