import { afterEach, describe, expect, it } from 'vitest'
import { UsageError, client, env, time } from './args.js'

describe('time flags', () => {
  const now = Date.UTC(2026, 11, 1, 9, 30)

  it('reads every written form into Unix ms against the one `now` given', () => {
    const at = Date.UTC(2026, 11, 1, 9, 0)
    expect(time('now', '--to', now)).toBe(now)
    expect(time('now-15m', '--from', now)).toBe(now - 15 * 60_000)
    expect(time('now-7d', '--from', now)).toBe(now - 7 * 86_400_000)
    expect(time('2026-12-01T09:00:00Z', '--from', now)).toBe(at)
    expect(time('2026-12-01T10:00:00+01:00', '--from', now)).toBe(at)
    expect(time(String(at / 1000), '--from', now)).toBe(at)
    expect(time(String(at), '--from', now)).toBe(at)
    expect(time(`${at}000000`, '--from', now)).toBe(at)
    expect(time(undefined, '--from', now)).toBeUndefined()
  })

  it('refuses garbage as a usage error naming the flag', () => {
    for (const raw of [
      'yesterday',
      'now-15',
      'now-1y',
      '2026-12-01',
      '2026-02-30T00:00:00Z',
      '-5',
      '',
    ]) {
      expect(() => time(raw, '--base-from', now), raw).toThrow(UsageError)
      expect(() => time(raw, '--base-from', now), raw).toThrow(/^--base-from: ".*" is not a time/)
    }
  })
})

describe('server settings from the environment', () => {
  const saved = { ...process.env }
  afterEach(() => {
    process.env = { ...saved }
  })

  it('counts an empty KILN_* variable as unset, as a CI job writes an absent secret', () => {
    process.env.KILN_TOKEN = ''
    process.env.KILN_SERVER_URL = ''
    expect(env('KILN_TOKEN')).toBeUndefined()
    expect(client({}).baseUrl).toBe('http://localhost:4040')
    process.env.KILN_SERVER_URL = 'https://kiln.example/'
    expect(client({}).baseUrl).toBe('https://kiln.example')
    expect(client({ server: 'http://127.0.0.1:1234' }).baseUrl).toBe('http://127.0.0.1:1234')
  })

  it('names where a bad server URL came from', () => {
    process.env.KILN_SERVER_URL = 'kiln.example:4040'
    expect(() => client({})).toThrow('KILN_SERVER_URL "kiln.example:4040": not an http(s) URL')
    expect(() => client({ server: '' })).toThrow('--server "": not an http(s) URL')
  })
})
