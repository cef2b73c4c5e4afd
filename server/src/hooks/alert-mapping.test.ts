import { describe, expect, it } from 'vitest'
import type { AlertRow } from '../store/rows.js'
import { MIN_WINDOW_MS, mapAlert } from './alert-mapping.js'
import type { IncomingAlert } from './alert-payloads.js'

const NOW = Date.UTC(2026, 10, 23, 12)
const ctx = { tenant: 'default', serviceLabels: ['service', 'service_name', 'job'], now: NOW }
const alert = (over: Partial<IncomingAlert>): IncomingAlert => ({
  source: 'alertmanager',
  name: 'HighLatency',
  status: 'firing',
  startsAt: new Date(NOW - 30 * 60_000).toISOString(),
  endsAt: '0001-01-01T00:00:00Z',
  labels: {},
  annotations: {},
  fingerprint: 'f1',
  generatorUrl: '',
  ...over,
})
const mapped = (over: Partial<IncomingAlert>): AlertRow => mapAlert(alert(over), ctx) as AlertRow

describe('mapAlert', () => {
  it('takes the first configured label that names a service', () => {
    expect(mapped({ labels: { job: 'scrape', service_name: 'api' } }).service).toBe('api')
    expect(mapped({ labels: { job: 'scrape', service: '' } }).service).toBe('scrape')
    expect(mapped({ labels: { team: 'blue' } }).service).toBe('')
  })

  it('ends the window of a firing alert now, also when endsAt lies ahead', () => {
    for (const endsAt of [
      '0001-01-01T00:00:00Z',
      undefined,
      new Date(NOW + 60_000).toISOString(),
    ]) {
      const row = mapped({ endsAt })
      expect(row).toMatchObject({ ends_at: null, window_from: NOW - 30 * 60_000, window_to: NOW })
    }
  })

  it('widens a window shorter than a minute backwards', () => {
    const row = mapped({ startsAt: NOW - 5000, endsAt: NOW - 1000, status: 'resolved' })
    expect(row).toMatchObject({ window_from: NOW - 1000 - MIN_WINDOW_MS, window_to: NOW - 1000 })
  })

  it('keeps one id per alert instance: its fingerprint and start', () => {
    const id = mapped({}).alert_id
    expect(mapped({ status: 'resolved', endsAt: NOW }).alert_id).toBe(id)
    expect(mapped({ startsAt: NOW - 60 * 60_000 }).alert_id).not.toBe(id)
    expect(mapped({ fingerprint: 'f2' }).alert_id).not.toBe(id)
  })

  it('reads the profile type from a label, and refuses an unknown one', () => {
    expect(mapped({ labels: { profile_type: 'heap_inuse_space' } }).type).toBe('heap_inuse_space')
    expect(mapAlert(alert({ annotations: { profile_type: 'memory' } }), ctx)).toEqual({
      reason: 'unknown profile type "memory"',
    })
  })
})
