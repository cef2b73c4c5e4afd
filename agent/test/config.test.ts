import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { AgentConfigError, ENV_VARS, resolveAgentConfig } from '../src/config.js'
import { getStats, start } from '../src/index.js'
import { AGENT_VERSION } from '../src/version.js'

describe('resolveAgentConfig', () => {
  it('reads KILN_* variables and falls back to OpenTelemetry conventions', () => {
    const config = resolveAgentConfig(
      {},
      {
        OTEL_SERVICE_NAME: 'checkout',
        OTEL_RESOURCE_ATTRIBUTES: 'service.version=2.0.1,deployment.environment=staging',
        KILN_LABELS: 'region=eu,zone=b',
        KILN_UPLOAD_INTERVAL_MS: '15000',
        KILN_HEAP: 'false',
      },
    )
    expect(config).toMatchObject({
      service: 'checkout',
      version: '2.0.1',
      labels: { region: 'eu', zone: 'b', env: 'staging' },
      uploadIntervalMs: 15000,
      heap: false,
      wall: true,
    })
    expect(resolveAgentConfig({ service: 'x' }, { KILN_SERVICE: 'y' }).service).toBe('x')
  })

  it('reports every bad value at once, naming the variable', () => {
    try {
      resolveAgentConfig({}, { KILN_SERVER_URL: 'ftp://x', KILN_UPLOAD_INTERVAL_MS: '5' })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(AgentConfigError)
      const text = (error as AgentConfigError).problems.join('\n')
      expect(text).toContain('KILN_SERVER_URL')
      expect(text).toContain('KILN_UPLOAD_INTERVAL_MS')
      expect(text).toContain('service')
    }
  })

  it('takes the tenant from KILN_TENANT and refuses one the server would not accept', () => {
    const tenant = 'acme-prod.eu_1'
    expect(resolveAgentConfig({ service: 's' }, { KILN_TENANT: tenant }).tenant).toBe(tenant)
    expect(resolveAgentConfig({ service: 's', tenant }, { KILN_TENANT: 'other' }).tenant).toBe(
      tenant,
    )
    expect(resolveAgentConfig({ service: 's' }, {}).tenant).toBeUndefined()
    // A header value with CR/LF, a space or a slash, or over 128 characters, never leaves.
    for (const bad of ['a\r\nx-injected: 1', 'acme prod', 'a/b', 'x'.repeat(129)]) {
      try {
        resolveAgentConfig({ service: 's' }, { KILN_TENANT: bad })
        expect.unreachable(bad)
      } catch (error) {
        expect(error).toBeInstanceOf(AgentConfigError)
        expect((error as AgentConfigError).problems.join('\n')).toContain('tenant (KILN_TENANT)')
      }
    }
  })

  it('reads the schedule settings, with their defaults', () => {
    expect(resolveAgentConfig({ service: 's' }, {})).toMatchObject({
      schedule: 'server',
      dutyCycle: 0.125,
      windowMs: 10_000,
      uploadIntervalMs: 10_000,
    })
    const config = resolveAgentConfig(
      {},
      {
        KILN_SERVICE: 's',
        KILN_SCHEDULE: 'local',
        KILN_DUTY_CYCLE: '0.25',
        KILN_WINDOW_MS: '5000',
      },
    )
    expect(config).toMatchObject({ schedule: 'local', dutyCycle: 0.25, windowMs: 5000 })
    try {
      resolveAgentConfig(
        { service: 's' },
        { KILN_SCHEDULE: 'sometimes', KILN_DUTY_CYCLE: '0', KILN_WINDOW_MS: '10' },
      )
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(AgentConfigError)
      const text = (error as AgentConfigError).problems.join('\n')
      for (const name of ['KILN_SCHEDULE', 'KILN_DUTY_CYCLE', 'KILN_WINDOW_MS']) {
        expect(text).toContain(name)
      }
    }
  })

  it('refuses a server URL that no request could be sent to', () => {
    for (const bad of ['http://', 'https://', 'http://:4040', 'http://exa mple.com', 'ftp://x']) {
      try {
        resolveAgentConfig({ service: 's', serverUrl: bad }, {})
        expect.unreachable(bad)
      } catch (error) {
        expect(error, bad).toBeInstanceOf(AgentConfigError)
        expect((error as AgentConfigError).problems.join('\n'), bad).toContain('KILN_SERVER_URL')
      }
    }
    for (const good of [
      'http://localhost:4040',
      'https://kiln.example.com/',
      'http://[::1]:4040',
    ]) {
      expect(resolveAgentConfig({ service: 's', serverUrl: good }, {}).serverUrl).toBe(good)
    }
  })

  it('stays off, with one logged line and nothing thrown, when start() gets a bad URL', () => {
    const errors: string[] = []
    const logger = { debug() {}, warn() {}, error: (m: string) => void errors.push(m) }
    expect(start({ service: 's', serverUrl: 'http://', logger })).toBe(false)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain('KILN_SERVER_URL')
    expect(getStats()).toBeUndefined()
  })

  it('documents every environment variable in the README', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    for (const name of Object.values(ENV_VARS)) expect(readme).toContain(`\`${name}\``)
  })

  it('keeps AGENT_VERSION in step with package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string
    }
    expect(AGENT_VERSION).toBe(pkg.version)
  })
})
