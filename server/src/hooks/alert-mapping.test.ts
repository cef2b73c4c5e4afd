import { describe, expect, it } from 'vitest'
import type { AlertRow } from '../store/rows.js'
import {
  alertEnd,
  alertView,
  alertWindows,
  FIRING_STALE_MS,
  MIN_WINDOW_MS,
  ONSET_WINDOW_MS,
  RECENT_WINDOW_MS,
  mapAlert,
  type AlertTarget,
} from './alert-mapping.js'
import type { IncomingAlert } from './alert-payloads.js'
import { chooseService, parseServiceRules, serviceCandidates } from './service-rules.js'

const MINUTE = 60_000
const NOW = Date.UTC(2026, 10, 23, 12)
const ctx = { tenant: 'default', now: NOW }
const target: AlertTarget = { service: 'api', rule: 'service', warning: '', selector: '' }
const alert = (over: Partial<IncomingAlert>): IncomingAlert => ({
  source: 'alertmanager',
  name: 'HighLatency',
  status: 'firing',
  startsAt: new Date(NOW - 30 * MINUTE).toISOString(),
  endsAt: '0001-01-01T00:00:00Z',
  labels: {},
  annotations: {},
  fingerprint: 'f1',
  generatorUrl: '',
  ...over,
})
const mapped = (over: Partial<IncomingAlert>, t = target): AlertRow =>
  mapAlert(alert(over), t, ctx) as AlertRow

describe('mapAlert', () => {
  it('ends the window of a firing alert now, also when endsAt lies ahead', () => {
    for (const endsAt of [
      '0001-01-01T00:00:00Z',
      undefined,
      new Date(NOW + MINUTE).toISOString(),
    ]) {
      const row = mapped({ endsAt })
      expect(row).toMatchObject({ ends_at: null, window_from: NOW - 30 * MINUTE, window_to: NOW })
    }
  })

  it('widens a window shorter than a minute backwards', () => {
    const row = mapped({ startsAt: NOW - 5000, endsAt: NOW - 1000, status: 'resolved' })
    expect(row).toMatchObject({ window_from: NOW - 1000 - MIN_WINDOW_MS, window_to: NOW - 1000 })
  })

  it('keeps one id per alert instance: its fingerprint and start', () => {
    const id = mapped({}).alert_id
    expect(mapped({ status: 'resolved', endsAt: NOW }).alert_id).toBe(id)
    expect(mapped({ startsAt: NOW - 60 * MINUTE }).alert_id).not.toBe(id)
    expect(mapped({ fingerprint: 'f2' }).alert_id).not.toBe(id)
  })

  it('reads the profile type from a label, and refuses an unknown one', () => {
    expect(mapped({ labels: { profile_type: 'heap_inuse_space' } }).type).toBe('heap_inuse_space')
    expect(mapAlert(alert({ annotations: { profile_type: 'memory' } }), target, ctx)).toEqual({
      reason: 'unknown profile type "memory"',
    })
  })

  it('keeps the service, rule, warning and selector it was given', () => {
    const row = mapped(
      {},
      { service: 'checkout', rule: 'container', warning: 'w', selector: '{pod="c-1"}' },
    )
    expect(row).toMatchObject({
      service: 'checkout',
      mapped_by: 'container',
      mapping_warning: 'w',
      selector: '{pod="c-1"}',
    })
  })
})

describe('alert windows', () => {
  it('looks at the last hour of a long alert, and at its onset', () => {
    const start = NOW - 72 * 60 * MINUTE
    expect(alertWindows(start, NOW)).toEqual({
      window: { from: NOW - RECENT_WINDOW_MS, to: NOW },
      onset: { from: start, to: start + ONSET_WINDOW_MS },
    })
    expect(alertWindows(NOW - 20 * MINUTE, NOW)).toEqual({
      window: { from: NOW - 20 * MINUTE, to: NOW },
      onset: null,
    })
  })

  it('extends a firing alert to now while it is heard of, not after', () => {
    const row = mapped({})
    expect(alertEnd(row, NOW + 3 * 60 * MINUTE)).toBe(NOW + 3 * 60 * MINUTE)
    expect(alertEnd(row, NOW + FIRING_STALE_MS + 1)).toBe(NOW)
    const view = alertView(row, 'http://k', NOW + 3 * 60 * MINUTE)
    expect(view.window).toEqual({ from: NOW + 2 * 60 * MINUTE, to: NOW + 3 * 60 * MINUTE })
    expect(view.onset?.window.from).toBe(NOW - 30 * MINUTE)
    expect(view.onsetLinks?.diff).toContain(`compFrom=${NOW - 30 * MINUTE}`)
    const resolved = mapped({ status: 'resolved', endsAt: NOW - MINUTE })
    expect(alertEnd(resolved, NOW + 60 * MINUTE)).toBe(NOW - MINUTE)
  })

  it('puts the selector on both sides of the links', () => {
    const row = mapped({}, { ...target, selector: '{pod="api-1"}' })
    const diff = new URL(alertView(row, 'http://k', NOW).links!.diff).searchParams
    expect(diff.get('baseQuery')).toBe('{pod="api-1"}')
    expect(diff.get('compQuery')).toBe('{pod="api-1"}')
  })
})

describe('service rules', () => {
  const rules = parseServiceRules('service, container, pod=~"(.+)-[a-z0-9]{8,10}-[a-z0-9]{5}", job')

  it('reads names and quoted expressions, commas inside the quotes included', () => {
    expect(rules.map((r) => r.text)).toEqual([
      'service',
      'container',
      'pod=~"(.+)-[a-z0-9]{8,10}-[a-z0-9]{5}"',
      'job',
    ])
    expect(() => parseServiceRules('pod=~(.+)')).toThrow(/double-quoted/)
    expect(() => parseServiceRules('pod=~"(.+"')).toThrow(/bad regular expression/)
    expect(() => parseServiceRules(' , ')).toThrow(/no rule/)
  })

  it('lists what each rule names, in order, each service once', () => {
    const labels = {
      service: 'kube-state-metrics',
      pod: 'checkout-7d9f8b6c4d-x2x7q',
      job: 'kube-state-metrics',
      container: '',
    }
    expect(serviceCandidates(labels, rules)).toEqual([
      { rule: 'service', service: 'kube-state-metrics' },
      { rule: 'pod=~"(.+)-[a-z0-9]{8,10}-[a-z0-9]{5}"', service: 'checkout' },
    ])
    // The expression must match the whole value.
    expect(serviceCandidates({ pod: 'checkout-0' }, rules)).toEqual([])
  })

  it('takes the first candidate with profiles, else the first with a warning', () => {
    const candidates = [
      { rule: 'service', service: 'kube-state-metrics' },
      { rule: 'container', service: 'checkout' },
    ]
    expect(chooseService(candidates, new Set(['checkout']))).toEqual({
      service: 'checkout',
      rule: 'container',
      warning: '',
    })
    const none = chooseService(candidates, new Set(['other']))
    expect(none).toMatchObject({ service: 'kube-state-metrics', rule: 'service' })
    expect(none.warning).toMatch(/no profiled service matched.*container → "checkout"/)
    expect(chooseService([], new Set())).toMatchObject({ service: '', rule: '' })
  })
})
