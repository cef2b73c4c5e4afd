import { spawnSync } from 'node:child_process'
import { join, relative } from 'node:path'
import { parse } from 'yaml'
import { describe, expect, it } from 'vitest'
import { ENV_VARS, resolveAgentConfig } from '@kiln/agent'
import { configEnvVars, resolveConfig } from '@kiln/server'
import {
  REPO,
  interpolate,
  parseDockerfile,
  readRepoFile,
  repoHas,
} from './helpers/deploy-files.js'

/** deploy/compose.yaml, checked without a container engine. */
interface ComposeService {
  image?: string
  build?: { context: string; dockerfile: string; target?: string }
  environment?: Record<string, string | number>
  ports?: string[]
  volumes?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
}
const compose = parse(readRepoFile('deploy/compose.yaml')) as {
  services: Record<string, ComposeService>
  volumes?: Record<string, unknown>
}
const services = compose.services
const environment = (name: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]),
  )
/** Paths in the compose file are relative to its directory. */
const fromDeploy = (path: string): string => relative(REPO, join(REPO, 'deploy', path)) || '.'
/** The Dockerfile stage a service is built from, if it is built. */
const targetOf = (name: string): string | undefined => services[name]?.build?.target

describe('deploy/compose.yaml', () => {
  it('runs ClickHouse, the Kiln server and the demo service', () => {
    expect(Object.keys(services).sort()).toEqual(['clickhouse', 'demo', 'kiln'])
    expect(targetOf('kiln')).toBe('server')
    expect(targetOf('demo')).toBe('demo')
  })

  it('pins every image it pulls to a version', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build) continue
      const [, tag = ''] = /^[^:]+:(.+)$/.exec(service.image ?? '') ?? []
      expect(tag, `${name}: ${service.image}`).toMatch(/^\d+(\.\d+){1,3}$/)
    }
  })

  it('builds from files and stages that exist', () => {
    for (const [name, service] of Object.entries(services)) {
      if (!service.build) continue
      const context = fromDeploy(service.build.context)
      const dockerfile = join(context, service.build.dockerfile)
      expect(repoHas(dockerfile), `${name}: ${dockerfile}`).toBe(true)
      const stages = parseDockerfile(readRepoFile(dockerfile)).stages.map((s) => s.name)
      expect(stages, name).toContain(service.build.target)
    }
  })

  it('mounts only declared volumes and existing files', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!
        if (/^[./]/.test(source))
          expect(repoHas(fromDeploy(source)), `${name}: ${source}`).toBe(true)
        else expect(Object.keys(compose.volumes ?? {}), name).toContain(source)
      }
      for (const dependency of Object.keys(service.depends_on ?? {})) {
        expect(Object.keys(services), name).toContain(dependency)
      }
    }
  })

  it('configures the server with real settings, pointing at the ClickHouse service', () => {
    const env = environment('kiln')
    const known = Object.values(configEnvVars())
    for (const name of Object.keys(env)) expect(known, name).toContain(name)
    const config = resolveConfig({}, env)
    const url = new URL(config.clickhouseUrl!)
    expect(url.hostname).toBe('clickhouse')
    expect(url.port).toBe('8123') // ClickHouse's HTTP interface, what @clickhouse/client speaks
    const clickhouse = environment('clickhouse')
    expect(config.clickhouseUser).toBe(clickhouse.CLICKHOUSE_USER)
    expect(config.clickhousePassword).toBe(clickhouse.CLICKHOUSE_PASSWORD)
    expect(config.clickhouseDatabase).toBe(clickhouse.CLICKHOUSE_DB)
    expect(services.clickhouse!.healthcheck?.test.join(' ')).toContain(':8123/ping')
    expect(services.kiln!.depends_on?.clickhouse?.condition).toBe('service_healthy')
  })

  it('points the demo agent at the server service and the port it publishes', () => {
    const env = environment('demo')
    for (const name of Object.keys(env)) expect(Object.values(ENV_VARS), name).toContain(name)
    const agent = resolveAgentConfig({}, env)
    const url = new URL(agent.serverUrl)
    expect(url.hostname).toBe('kiln')
    // The server listens on the port the Dockerfile sets unless compose overrides it.
    const server = parseDockerfile(readRepoFile('deploy/Dockerfile')).stages.find(
      (s) => s.name === 'server',
    )!
    const exposed = server.instructions.find((i) => i.op === 'EXPOSE')!.args
    const port = environment('kiln').KILN_PORT ?? exposed
    expect(url.port).toBe(port)
    expect(services.kiln!.ports).toContain(`${port}:${port}`)
    expect(services.demo!.depends_on?.kiln?.condition).toBe('service_healthy')
  })

  // Compose's own schema check (scripts/setup-machine.sh installs Debian's docker-compose).
  const cli = ['docker-compose', 'docker compose'].find(
    (c) => spawnSync(c.split(' ')[0]!, [...c.split(' ').slice(1), 'version']).status === 0,
  )
  it.skipIf(!cli)(`passes \`${cli ?? 'docker compose'} config\``, () => {
    const [command, ...args] = cli!.split(' ')
    const result = spawnSync(command!, [...args, '-f', 'deploy/compose.yaml', 'config', '-q'], {
      cwd: REPO,
      encoding: 'utf8',
    })
    expect(result.status, result.stderr).toBe(0)
  })
})
