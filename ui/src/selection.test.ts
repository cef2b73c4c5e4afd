import type { ServiceSummary } from '@kiln/wire'
import { describe, expect, it } from 'vitest'
import { DEFAULT_PROFILE_TYPE, mostRecentService, resolveSelection } from './selection'

const api: ServiceSummary = { name: 'api', types: ['wall', DEFAULT_PROFILE_TYPE], lastSeen: 2 }
const worker: ServiceSummary = { name: 'worker', types: ['alloc_space', 'wall'], lastSeen: 1 }
const idle: ServiceSummary = { name: 'idle', types: [], lastSeen: 0 }
const services = [api, worker, idle]

describe('resolveSelection', () => {
  it('is null without services', () => {
    expect(resolveSelection([], { service: 'api', type: 'cpu' })).toBeNull()
  })

  it('keeps the wanted service and type when the server knows them', () => {
    expect(resolveSelection(services, { service: worker.name, type: 'wall' })).toEqual({
      service: worker,
      type: 'wall',
    })
  })

  it('picks the most recently active service when none is wanted', () => {
    expect(resolveSelection([idle, worker, api], { service: null, type: null })?.service).toBe(api)
    expect(mostRecentService([worker, idle])).toBe(worker)
  })

  it('picks nothing when an unknown service is wanted: the page says so', () => {
    expect(resolveSelection(services, { service: 'gone', type: null })).toBeNull()
  })

  it('picks the default type when present, else the first type', () => {
    expect(resolveSelection(services, { service: api.name, type: null })?.type).toBe(
      DEFAULT_PROFILE_TYPE,
    )
    expect(resolveSelection(services, { service: worker.name, type: 'cpu' })?.type).toBe(
      worker.types[0],
    )
  })

  it('gives no type for a service without types', () => {
    expect(resolveSelection(services, { service: idle.name, type: 'cpu' })).toEqual({
      service: idle,
      type: null,
    })
  })
})
