import { describe, expect, it } from 'vitest'
import { parseAppName } from './app-name.js'
import { parseTimeParam } from './time-param.js'

describe('parseAppName', () => {
  it('parses service and labels', () => {
    expect(parseAppName('checkout{env=prod, service_version=1.2.3}')).toEqual({
      service: 'checkout',
      labels: { env: 'prod', service_version: '1.2.3' },
    })
    expect(parseAppName('checkout')).toEqual({ service: 'checkout', labels: {} })
    expect(parseAppName('checkout{}')).toEqual({ service: 'checkout', labels: {} })
  })

  it.each(['', '{a=b}', 'svc{a=b', 'svc{ab}', "x'; DROP TABLE samples;--", 'svc{1a=b}'])(
    'rejects %j',
    (raw) => {
      expect(() => parseAppName(raw)).toThrow(
        expect.objectContaining({ code: 'KILN_ERR_APP_NAME_INVALID' }),
      )
    },
  )
})

describe('parseTimeParam', () => {
  const ms = 1_700_000_000_123
  it.each([
    ['seconds', String(Math.floor(ms / 1000)), Math.floor(ms / 1000) * 1000],
    ['milliseconds', String(ms), ms],
    ['microseconds', String(ms * 1000), ms],
    ['nanoseconds', `${ms}000000`, ms],
  ])('reads %s', (_unit, raw, expected) => {
    expect(parseTimeParam('from', raw)).toBe(expected)
  })

  it('rejects garbage', () => {
    expect(() => parseTimeParam('from', '12abc')).toThrow(
      expect.objectContaining({ code: 'KILN_ERR_TIME_INVALID' }),
    )
    expect(parseTimeParam('from', undefined)).toBeUndefined()
  })
})
