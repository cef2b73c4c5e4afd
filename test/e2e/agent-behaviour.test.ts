import { execFileSync, spawn } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from './helpers/kiln-server.js'
import { TEST_DIR } from './helpers/run-demo.js'

const require = createRequire(import.meta.url)
const REGISTER = pathToFileURL(require.resolve('@kiln/agent/register')).href
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

function run(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const started = Date.now()
  return new Promise<{ code: number | null; stderr: string; elapsedMs: number }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, args, {
        cwd: options.cwd ?? TEST_DIR,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let stderr = ''
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000)
      child.on('error', reject)
      child.on('exit', (code) => {
        clearTimeout(killer)
        resolve({ code, stderr, elapsedMs: Date.now() - started })
      })
    },
  )
}

/**
 * Total value per function name (samples whose stack holds it) over every sample of a service,
 * restricted by a label when given. Totals, not leaf values: whether V8 inlines `spin` into
 * its caller varies from run to run, and with it which function is the leaf.
 */
async function valueByFunction(
  server: TestServer,
  service: string,
  type: string,
  label?: [string, string],
) {
  const result = await server.app.store.client.query({
    query: `SELECT arrayJoin(arrayDistinct(st.functions)) AS fn, sum(s.value) AS v
      FROM kiln.samples AS s
      INNER JOIN (SELECT series_id, labels FROM kiln.series WHERE service = {service:String}) AS se USING (series_id)
      INNER JOIN (SELECT stack_hash, any(functions) AS functions FROM kiln.stacks WHERE service = {service:String} GROUP BY stack_hash) AS st USING (stack_hash)
      WHERE s.service = {service:String} AND s.type = {type:String}
        AND (empty({key:String}) OR se.labels[{key:String}] = {value:String})
      GROUP BY fn`,
    query_params: { service, type, key: label?.[0] ?? '', value: label?.[1] ?? '' },
    format: 'JSONEachRow',
  })
  const rows = await result.json<{ fn: string; v: string }>()
  return new Map(rows.map((r) => [r.fn, Number(r.v)]))
}

describe('the agent in a real process', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(async () => {
    await server?.dispose()
  })

  it('lets the process exit on its own, even with the server unreachable', async () => {
    const script = join(mkdtempSync(join(tmpdir(), 'kiln-exit-')), 'app.mjs')
    writeFileSync(
      script,
      'const end = Date.now() + 1500; while (Date.now() < end) {}\nsetTimeout(() => {}, 200)\n',
    )
    const result = await run(['--import', REGISTER, script], {
      env: {
        KILN_SERVICE: 'exit-test',
        KILN_SERVER_URL: 'http://127.0.0.1:9',
        KILN_UPLOAD_INTERVAL_MS: '1000',
      },
    })
    expect(result.code, result.stderr).toBe(0)
    // The final flush at exit is bounded by its 2 s deadline.
    expect(result.elapsedMs).toBeLessThan(1500 + 200 + 2000 + 3000)
    rmSync(join(script, '..'), { recursive: true, force: true })
  })

  it('puts withLabels labels on samples taken after an await inside it', async () => {
    const result = await run([fixture('labeled-workload.mjs'), server.url, 'labels-test'])
    expect(result.code, result.stderr).toBe(0)
    const labeled = await valueByFunction(server, 'labels-test', 'cpu', ['route', '/checkout'])
    const all = await valueByFunction(server, 'labels-test', 'cpu')
    expect(labeled.get('labeledWork') ?? 0).toBeGreaterThan(0)
    // Most of labeledWork's time carries the label, none of unlabeledWork's does.
    expect(labeled.get('labeledWork')! / all.get('labeledWork')!).toBeGreaterThan(0.8)
    expect(all.get('unlabeledWork') ?? 0).toBeGreaterThan(0)
    expect(labeled.get('unlabeledWork') ?? 0).toBe(0)
  })

  it('reports TypeScript frames at their original file through source maps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-ts-'))
    copyFileSync(fixture('sourcemapped/app.ts'), join(dir, 'app.ts'))
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
    execFileSync(process.execPath, [
      require.resolve('typescript/bin/tsc'),
      '--sourceMap',
      '--target',
      'ES2022',
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--types',
      'node',
      '--typeRoots',
      join(TEST_DIR, 'node_modules/@types'),
      '--outDir',
      join(dir, 'out'),
      join(dir, 'app.ts'),
    ])
    const result = await run(['--import', REGISTER, join(dir, 'out/app.js')], {
      cwd: dir,
      env: {
        KILN_SERVICE: 'ts-test',
        KILN_SERVER_URL: server.url,
        KILN_SCHEDULE: 'always',
        KILN_UPLOAD_INTERVAL_MS: '1000',
        KILN_SAMPLING_INTERVAL_MICROS: '1000',
        DEMO_DURATION_MS: '4000',
        KILN_OVERHEAD_BUDGET_PERCENT: '100',
      },
    })
    expect(result.code, result.stderr).toBe(0)
    const files = await server.app.store.client.query({
      query: `SELECT DISTINCT arrayJoin(arrayFilter((f, n) -> n = 'tsHotFunction', files, functions)) AS file
        FROM kiln.stacks WHERE service = 'ts-test'`,
      format: 'JSONEachRow',
    })
    const names = (await files.json<{ file: string }>()).map((r) => r.file)
    expect(
      names.some((f) => f.endsWith('app.ts')),
      names.join(', '),
    ).toBe(true)
    rmSync(dir, { recursive: true, force: true })
  })
})
