import { describe, expect, it } from 'vitest'
import { ENV_VARS, resolveAgentConfig } from '@kiln/agent'
import { configEnvVars, resolveConfig } from '@kiln/server'
import {
  execForm,
  parseDockerfile,
  readRepoFile,
  repoHas,
  runCommands,
  stageEnv,
  type Stage,
} from './helpers/deploy-files.js'

/**
 * deploy/Dockerfile, checked without a container engine: its build steps are the commands CI
 * runs (so every CI run exercises them), it copies only what exists, and its runtime stages
 * agree with the server's and the agent's configuration.
 */
const dockerfile = parseDockerfile(readRepoFile('deploy/Dockerfile'))
const stage = (name: string): Stage => {
  const found = dockerfile.stages.find((s) => s.name === name)
  if (!found) throw new Error(`deploy/Dockerfile has no stage ${name}`)
  return found
}
const one = (s: Stage, op: string) => {
  const found = s.instructions.filter((i) => i.op === op)
  expect(found, `${s.name}: one ${op}`).toHaveLength(1)
  return found[0]!
}
const rootPackage = JSON.parse(readRepoFile('package.json')) as {
  packageManager: string
  scripts: Record<string, string>
}

describe('deploy/Dockerfile', () => {
  it('builds with the commands CI runs, in the same order', () => {
    // CI runs the README line after `# Run every test` (.ci/run); `pnpm test` starts by building.
    const readme = readRepoFile('README.md').split('\n')
    const ciLine = readme[readme.indexOf('# Run every test') + 1]!
    const ciCommands = ciLine.split('&&').map((c) => c.trim())
    const install = ciCommands.find((c) => c.startsWith('pnpm install'))
    expect(install).toBe('pnpm install --frozen-lockfile')
    expect(ciCommands).toContain('pnpm test')
    const build = rootPackage.scripts.test!.split('&&')[0]!.trim()
    expect(build).toBe('pnpm build')

    const runs = stage('build')
      .instructions.filter((i) => i.op === 'RUN')
      .map((i) => i.args)
    expect(runs).toContain(install)
    expect(runs).toContain(build)
    expect(runs.indexOf(install!)).toBeLessThan(runs.indexOf(build))
  })

  it('installs the pnpm that package.json names', () => {
    const version = rootPackage.packageManager.replace(/^pnpm@/, '')
    expect(runCommands(stage('build'))).toContain(`npm install --global pnpm@${version}`)
  })

  it('copies only files that exist, from stages defined before', () => {
    const names = dockerfile.stages.map((s) => s.name)
    for (const [index, s] of dockerfile.stages.entries()) {
      for (const copy of s.instructions.filter((i) => i.op === 'COPY')) {
        const sources = copy.args.split(' ').slice(0, -1)
        if (copy.flags.from) {
          expect(names.slice(0, index), `${s.name}: COPY --from`).toContain(copy.flags.from)
        } else {
          for (const source of sources) expect(repoHas(source), source).toBe(true)
        }
      }
    }
    // The demo's files, and every module they import, are copied into its stage.
    const copied = runCommands(stage('build'))
      .filter((c) => c.startsWith('cp '))
      .flatMap((c) => c.split(' ').slice(1, -1))
    expect(copied).toContain('test/fixtures/demo-service.mjs')
    for (const file of copied) {
      expect(repoHas(file), file).toBe(true)
      for (const [, relative] of readRepoFile(file).matchAll(/from '\.\/([^']+)'/g)) {
        expect(copied, `${file} imports ./${relative}`).toContain(`test/fixtures/${relative}`)
      }
    }
  })

  it('leaves host installs and build output out of the build context', () => {
    const ignored = readRepoFile('deploy/Dockerfile.dockerignore')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.git']))
    for (const needed of ['pnpm-lock.yaml', 'package.json', 'pnpm-workspace.yaml', 'deploy']) {
      expect(ignored).not.toContain(needed)
    }
  })

  it('runs the server by default, as a non-root user, on the configured port', () => {
    const server = dockerfile.stages[dockerfile.stages.length - 1]!
    expect(server.name).toBe('server')
    const user = one(server, 'USER').args
    expect(user).toMatch(/^\d+(:\d+)?$/)
    expect(Number(user.split(':')[0])).toBeGreaterThan(0)

    const env = stageEnv(server)
    const known = Object.values(configEnvVars())
    for (const name of Object.keys(env).filter((n) => n.startsWith('KILN_'))) {
      expect(known, name).toContain(name)
    }
    const config = resolveConfig({}, env)
    expect(config.host).toBe('0.0.0.0')
    expect(one(server, 'EXPOSE').args).toBe(String(config.port))
    expect(execForm(one(server, 'VOLUME').args)).toEqual([config.dataDir])

    const health = one(server, 'HEALTHCHECK')
    expect(health.flags).toHaveProperty('interval')
    expect(execForm(health.args).join(' ')).toMatch(/KILN_PORT .*\/health'/)

    // The server package's own start command, from its package directory.
    const serverPackage = JSON.parse(readRepoFile('server/package.json')) as {
      scripts: Record<string, string>
    }
    expect(execForm(one(server, 'CMD').args).join(' ')).toBe(serverPackage.scripts.start)
    expect(runCommands(stage('build'))).toContain(
      `pnpm --filter @kiln/server deploy --prod --legacy /out/server`,
    )
    expect(one(server, 'COPY')).toMatchObject({ flags: { from: 'build' }, args: '/out/server ./' })
  })

  it('runs the demo with the agent loaded the documented way', () => {
    const demo = stage('demo')
    expect(Number(one(demo, 'USER').args.split(':')[0])).toBeGreaterThan(0)
    const env = stageEnv(demo)
    for (const name of Object.keys(env)) {
      if (name !== 'NODE_ENV') expect(Object.values(ENV_VARS), name).toContain(name)
    }
    expect(resolveAgentConfig({}, env).serverUrl).toBe(env.KILN_SERVER_URL)

    expect(execForm(one(demo, 'CMD').args)).toEqual([
      'node',
      '--import',
      '@kiln/agent/register',
      'demo-service.mjs',
    ])
    const agentPackage = JSON.parse(readRepoFile('agent/package.json')) as {
      exports: Record<string, unknown>
    }
    expect(agentPackage.exports).toHaveProperty('./register')
    // `@kiln/agent/register` resolves from the working directory's node_modules.
    expect(runCommands(stage('build'))).toContain(
      'pnpm --filter @kiln/agent deploy --prod --legacy /out/demo/node_modules/@kiln/agent',
    )
    expect(one(demo, 'COPY')).toMatchObject({ flags: { from: 'build' }, args: '/out/demo ./' })
  })
})
