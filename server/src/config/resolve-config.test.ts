import { describe, expect, it } from 'vitest'
import { ConfigError, resolveConfig } from './resolve-config.js'

describe('resolveConfig', () => {
  it('applies defaults and freezes', () => {
    const config = resolveConfig()
    expect(config.port).toBe(4040)
    expect(config.dataDir).toBe('./data')
    expect(Object.isFrozen(config)).toBe(true)
  })

  it('reads the environment, and options win over it', () => {
    const env = { KILN_PORT: '5050', KILN_DATA_DIR: '/tmp/x', KILN_RETENTION_DAYS: '7' }
    expect(resolveConfig({}, env)).toMatchObject({
      port: 5050,
      dataDir: '/tmp/x',
      retentionDays: 7,
    })
    expect(resolveConfig({ port: 6060 }, env).port).toBe(6060)
  })

  it('collects every problem, naming the variable', () => {
    const env = { KILN_PORT: 'eighty', KILN_RETENTION_DAYS: '0' }
    try {
      resolveConfig({ logLevel: 'loud' as 'info' }, env)
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      const problems = (error as ConfigError).problems.join('\n')
      expect(problems).toContain('KILN_PORT')
      expect(problems).toContain('KILN_RETENTION_DAYS')
      expect(problems).toContain('logLevel')
    }
  })

  it('rejects unknown options', () => {
    expect(() => resolveConfig({ prot: 1 } as never)).toThrow(ConfigError)
  })
})
