import type { EndpointChange, EndpointsResponse } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import {
  endpointLabel,
  endpointRows,
  formatPerCallChange,
  hasEndpoints,
  missingChangeReason,
  perCall,
  perCallChangeKind,
  selectedEndpoint,
  toggleEndpoint,
  toggleEndpointOnBoth,
  withoutEndpoint,
} from './endpoints'

const CHECKOUT = 'POST /checkout/:id'

describe('toggleEndpoint', () => {
  it('adds the endpoint to an empty filter, and removes it again', () => {
    const narrowed = toggleEndpoint('', CHECKOUT)
    expect(narrowed).toBe('{endpoint="POST /checkout/:id"}')
    expect(selectedEndpoint(narrowed)).toBe(CHECKOUT)
    expect(toggleEndpoint(narrowed, CHECKOUT)).toBe('')
  })

  it('keeps the other matchers and replaces another endpoint', () => {
    const withPod = toggleEndpoint('{pod="api-1"}', CHECKOUT)
    expect(withPod).toBe('{pod="api-1", endpoint="POST /checkout/:id"}')
    expect(toggleEndpoint(withPod, 'GET /items')).toBe('{pod="api-1", endpoint="GET /items"}')
    expect(toggleEndpoint(withPod, CHECKOUT)).toBe('{pod="api-1"}')
  })

  it('escapes quotes and backslashes, and reads them back', () => {
    const odd = 'GET /say/"hi"\\n, {x}'
    const narrowed = toggleEndpoint('{env="prod"}', odd)
    expect(narrowed).toBe(`{env="prod", endpoint=${JSON.stringify(odd)}}`)
    expect(selectedEndpoint(narrowed)).toBe(odd)
    expect(toggleEndpoint(narrowed, odd)).toBe('{env="prod"}')
  })

  it('replaces an endpoint matcher typed by hand, whatever its quotes, and leaves regexes be', () => {
    expect(toggleEndpoint('{endpoint = \'GET /a\', env="prod"}', CHECKOUT)).toBe(
      '{env="prod", endpoint="POST /checkout/:id"}',
    )
    expect(toggleEndpoint('{endpoint=~"GET .*"}', CHECKOUT)).toBe(
      '{endpoint=~"GET .*", endpoint="POST /checkout/:id"}',
    )
    // A label whose name starts like it is another label.
    expect(toggleEndpoint('{endpoint_group="a"}', CHECKOUT)).toBe(
      '{endpoint_group="a", endpoint="POST /checkout/:id"}',
    )
  })

  it('filters by the samples without an endpoint with the empty value', () => {
    expect(toggleEndpoint('', '')).toBe('{endpoint=""}')
    expect(selectedEndpoint('{endpoint=""}')).toBe('')
    expect(toggleEndpoint('{endpoint=""}', '')).toBe('')
  })
})

describe('withoutEndpoint', () => {
  it('drops only the endpoint matcher', () => {
    expect(withoutEndpoint('{pod="a,b", endpoint="GET /x"}')).toBe('{pod="a,b"}')
    expect(withoutEndpoint('{endpoint="GET /x"}')).toBe('')
    expect(withoutEndpoint('')).toBe('')
  })
})

describe('toggleEndpointOnBoth', () => {
  const versions = { baseQuery: '{v="1"}', compQuery: '{v="2"}' }

  it('narrows both sides, keeping each side’s own matchers', () => {
    const narrowed = toggleEndpointOnBoth(versions, CHECKOUT)
    expect(narrowed).toEqual({
      baseQuery: '{v="1", endpoint="POST /checkout/:id"}',
      compQuery: '{v="2", endpoint="POST /checkout/:id"}',
    })
    expect(toggleEndpointOnBoth(narrowed, CHECKOUT)).toEqual(versions)
  })

  it('narrows both when only one side was narrowed to it', () => {
    const one = { baseQuery: '{endpoint="POST /checkout/:id"}', compQuery: '' }
    expect(toggleEndpointOnBoth(one, CHECKOUT)).toEqual({
      baseQuery: '{endpoint="POST /checkout/:id"}',
      compQuery: '{endpoint="POST /checkout/:id"}',
    })
  })
})

describe('endpoint rows', () => {
  const response: EndpointsResponse = {
    service: 'shop',
    from: 0,
    to: 1,
    query: '{}',
    types: { cpu: { unit: 'nanoseconds', total: 1000 } },
    endpoints: [
      { endpoint: CHECKOUT, values: { cpu: 600 }, shares: { cpu: 0.6 }, calls: 3 },
      { endpoint: '', values: { cpu: 400 }, shares: { cpu: 0.4 }, calls: 0 },
    ],
  }

  it('gives CPU per call, and no wall figures when the window has no wall samples', () => {
    expect(endpointRows(response)).toEqual([
      {
        endpoint: CHECKOUT,
        cpu: { value: 600, share: 0.6 },
        wall: null,
        calls: 3,
        cpuPerCall: 200,
      },
      { endpoint: '', cpu: { value: 400, share: 0.4 }, wall: null, calls: 0, cpuPerCall: null },
    ])
  })

  it('is shown only when some endpoint is named', () => {
    expect(hasEndpoints(response.endpoints)).toBe(true)
    expect(hasEndpoints(response.endpoints.slice(1))).toBe(false)
    expect(hasEndpoints([])).toBe(false)
    expect(endpointLabel('')).toBe('(no endpoint)')
  })

  it('divides by calls only when there were some', () => {
    expect(perCall(10, 4)).toBe(2.5)
    expect(perCall(10, 0)).toBeNull()
    expect(perCall(undefined, 4)).toBeNull()
  })
})

describe('formatPerCallChange', () => {
  it('prints the change of cost per call with a sign', () => {
    expect(formatPerCallChange(1.4)).toBe('+140%')
    expect(formatPerCallChange(-0.125)).toBe('−12.5%')
    expect(formatPerCallChange(0.001)).toBe('0%')
    expect(formatPerCallChange(null)).toBe('—')
    expect(perCallChangeKind(0.5)).toBe('grew')
    expect(perCallChangeKind(-0.5)).toBe('shrank')
    expect(perCallChangeKind(0)).toBe('same')
    expect(perCallChangeKind(null)).toBe('unknown')
  })

  it('says why a change is missing', () => {
    const side = (calls: number) => ({ value: calls * 10, calls, perCall: calls ? 10 : null })
    const change = (b: number, c: number): EndpointChange => ({
      endpoint: 'x',
      baseline: side(b),
      comparison: side(c),
      perCallChange: b && c ? 0 : null,
    })
    expect(missingChangeReason(change(1, 1))).toBeNull()
    expect(missingChangeReason(change(0, 1))).toMatch(/^New/)
    expect(missingChangeReason(change(1, 0))).toMatch(/^Gone/)
    expect(missingChangeReason(change(0, 0))).toMatch(/No calls/)
  })
})
