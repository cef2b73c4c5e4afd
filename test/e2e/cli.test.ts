import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { Profile } from 'pprof-format'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DiffResponse, ServicesResponse, TopResponse } from '@kiln/wire'
import { startTestServer, type TestServer } from './helpers/kiln-server.js'
import { ingestAll, type SyntheticUpload } from './helpers/synthetic-ingest.js'

/*
 * The `kiln` command line against a real server, run as a user runs it (a child process of the
 * built bin): a planted regression fails `kiln diff --fail-on`, a steady service passes it, and
 * `kiln profile` prints a fixture's hot function; bad flags and an unreachable server give one
 * line and exit 2.
 */

const KILN = fileURLToPath(new URL('../../cli/dist/kiln.js', import.meta.url))
const BENCH = fileURLToPath(new URL('../fixtures/cli-bench.mjs', import.meta.url))
const MS = 1_000_000
const UPLOADS = 12

interface Run {
  code: number
  stdout: string
  stderr: string
}

function kiln(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const clean = { ...process.env }
    delete clean.KILN_SERVER_URL
    delete clean.KILN_TOKEN
    execFile(
      process.execPath,
      [KILN, ...args],
      { env: { ...clean, ...env }, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

/** Stacks per 10 s upload of each version; in 1.1, `slowPath` costs 4x (a planted regression). */
const STACKS = (slow: number) => [
  { stack: ['main@app.js', 'handle@server.js', 'render@view.js'], value: 300 * MS },
  { stack: ['main@app.js', 'handle@server.js', 'slowPath@db.js'], value: slow * MS },
  { stack: ['main@app.js', 'gc@runtime.js'], value: 50 * MS },
]

function uploads(service: string, version: string, from: number, slow: number): SyntheticUpload[] {
  return Array.from({ length: UPLOADS }, (_, k) => ({
    service,
    labels: { service_version: version },
    at: from + k * 10_000,
    sampleType: ['cpu', 'nanoseconds'],
    samples: STACKS(slow),
  }))
}

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('kiln command line', () => {
  let server: TestServer
  let outDir: string
  const end = Math.floor(Date.now() / 10_000) * 10_000 - 10_000
  const mid = end - UPLOADS * 10_000
  const start = mid - UPLOADS * 10_000

  beforeAll(async () => {
    server = await startTestServer()
    outDir = mkdtempSync(join(tmpdir(), 'kiln-cli-'))
    await ingestAll(server.url, [
      ...uploads('bench', '1.0', start, 100),
      ...uploads('bench', '1.1', mid, 400),
      ...uploads('steady', '1.0', start, 100),
      ...uploads('steady', '1.1', mid, 100),
    ])
  })
  afterAll(async () => {
    await server?.dispose()
    rmSync(outDir, { recursive: true, force: true })
  })

  it('fails a planted regression with --fail-on, naming the function, and passes a steady service', async () => {
    const args = (service: string) => [
      'diff',
      '--server',
      server.url,
      '--service',
      service,
      '--base-version',
      '1.0',
      '--comp-version',
      '1.1',
      '--fail-on',
      'self>5pp',
      '--fail-on',
      'self[render]>10%',
    ]
    const bad = await kiln([...args('bench'), '--json'])
    expect(bad.code, bad.stderr).toBe(1)
    const verdict = JSON.parse(bad.stdout) as DiffResponse & {
      breaches: { rule: string; function: string; value: number }[]
    }
    // From the fixture: slowPath's self share goes from 100/450 to 400/750.
    const change = (400 / 750 - 100 / 450) * 100
    expect(verdict.changes.self.grew[0]!.name).toBe('slowPath')
    expect(verdict.breaches).toHaveLength(1)
    expect(verdict.breaches[0]).toMatchObject({ rule: 'self>5pp', function: 'slowPath' })
    expect(verdict.breaches[0]!.value).toBeCloseTo(change, 6)
    // Text output: the same verdict, the regression first among the grown functions.
    const text = await kiln(args('bench'))
    expect(text.code).toBe(1)
    const grew = text.stdout.split('grew (self share):\n')[1]!.split('\n')
    expect(grew[1]).toMatch(new RegExp(`^\\+${change.toFixed(2)} pp .* slowPath +db\\.js$`))
    expect(text.stdout).toMatch(/FAIL: 1 rule broken\n {2}self>5pp: slowPath self share grew/)

    const good = await kiln([...args('steady'), '--json'])
    expect(good.code, good.stderr).toBe(0)
    expect((JSON.parse(good.stdout) as { breaches: unknown[] }).breaches).toEqual([])
    // Relative rules judge per collected second: the steady service's total did not grow.
    const total = await kiln([...args('steady').slice(0, -4), '--fail-on', 'total>1%'])
    expect(total.code, total.stdout + total.stderr).toBe(0)
    const bigger = await kiln([...args('bench').slice(0, -4), '--fail-on', 'total>50%'])
    // 750 against 450 per upload: +66.7 %.
    expect(bigger.code).toBe(1)
    expect(bigger.stdout).toContain('the whole profile grew 66.7%')
  })

  it('prints top functions, services and a pprof export with relative and absolute times', async () => {
    const top = await kiln([
      'top',
      '--server',
      server.url,
      '--service',
      'bench',
      '--from',
      new Date(mid).toISOString(),
      '--to',
      String(end / 1000),
      '--json',
    ])
    expect(top.code, top.stderr).toBe(0)
    const res = JSON.parse(top.stdout) as TopResponse
    expect([res.from, res.to]).toEqual([mid, end])
    expect(res.total).toBe(UPLOADS * 750 * MS)
    expect(res.functions[0]).toMatchObject({ name: 'slowPath', self: UPLOADS * 400 * MS })

    const services = await kiln(['services', '--server', server.url, '--json'])
    expect(
      (JSON.parse(services.stdout) as ServicesResponse).services.map((s) => s.name).sort(),
    ).toEqual(['bench', 'steady'])

    const file = join(outDir, 'bench.pb.gz')
    const exported = await kiln([
      'export',
      '--server',
      server.url,
      '--service',
      'bench',
      '--from',
      'now-1h',
      '-o',
      file,
    ])
    expect(exported.code, exported.stderr).toBe(0)
    const profile = Profile.decode(gunzipSync(readFileSync(file)))
    const sum = profile.sample.reduce((s, x) => s + Number(x.value[0]), 0)
    expect(sum).toBe(2 * UPLOADS * 450 * MS + UPLOADS * 300 * MS)
  })

  it('profiles a command against a server and prints its hot function first', async () => {
    const run = await kiln(['profile', '--server', server.url, '--', process.execPath, BENCH])
    expect(run.code, run.stderr).toBe(0)
    const rows = run.stdout.split('\n')
    const header = rows.findIndex((line) => /^\s*self\s+total\s+function/.test(line))
    expect(header, run.stdout).toBeGreaterThanOrEqual(0)
    expect(rows[header + 1]).toMatch(/ hotLoop +.*cli-bench\.mjs/)
    expect(run.stdout).toMatch(
      /flame graph: http:\/\/127\.0\.0\.1:\d+\/\?service=cli-bench&type=cpu/,
    )
    // The link names the run by its label: the flame graph holds this run only.
    const link = new URL(/flame graph: (\S+)/.exec(run.stdout)![1]!)
    expect(link.searchParams.get('query')).toMatch(/^\{kiln_run="[0-9a-f]{12}"\}$/)
  })

  it('profiles a command on an embedded server when none is given, and writes its pprof', async () => {
    const out = join(outDir, 'run.pb.gz')
    const run = await kiln(['profile', '--out', out, '--', process.execPath, BENCH], {
      CLI_BENCH_MS: '1000',
    })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/\n\s*[\d.]+ m?s\s+[\d.]+%\s+[\d.]+%\s+hotLoop /)
    expect(existsSync(out)).toBe(true)
    const names = Profile.decode(gunzipSync(readFileSync(out))).stringTable.strings
    expect(names).toContain('hotLoop')
  })

  it('answers bad flags and an unreachable server with one line and exit 2', async () => {
    const port = await closedPort()
    const cases: [string[], RegExp][] = [
      [['top'], /^kiln top: --service is required$/],
      [['top', '--service', 'x', '--bogus'], /^kiln top: Unknown option '--bogus'/],
      [
        ['top', '--service', 'x', '--from', 'yesterday'],
        /^kiln top: --from: "yesterday" is not a time/,
      ],
      [['diff', '--service', 'x', '--fail-on', 'self>>2'], /^kiln diff: --fail-on "self>>2"/],
      [
        ['diff', '--service', 'x', '--base-version', '1'],
        /--base-version and --comp-version go together/,
      ],
      [
        ['top', '--service', 'x', '--server', `http://127.0.0.1:${port}`],
        /^kiln top: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)$/,
      ],
      [
        ['top', '--service', 'x', '--server', 'ftp://x'],
        /^kiln top: --server ftp:\/\/x: not an http\(s\) URL$/,
      ],
      [['frobnicate'], /^kiln frobnicate: unknown command/],
      [['profile', '--server', server.url], /^kiln profile: give the command to profile after --/],
      [
        [
          'diff',
          '--server',
          server.url,
          '--service',
          'bench',
          '--base-version',
          '9',
          '--comp-version',
          '1.1',
        ],
        /has no version "9" \(it has 1\.0, 1\.1\)/,
      ],
    ]
    for (const [args, message] of cases) {
      const run = await kiln(args)
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1)
      expect(run.stderr.trimEnd(), args.join(' ')).toMatch(message)
    }
    // A server error keeps its code: an unknown type is the server's 400.
    const refused = await kiln([
      'top',
      '--server',
      server.url,
      '--service',
      'bench',
      '--type',
      'nope',
    ])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/^kiln top: 400 KILN_ERR_BAD_REQUEST: /)
  })
})
