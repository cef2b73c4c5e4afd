import { execFile, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer } from 'node:net'
import { constants, tmpdir } from 'node:os'
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
 * `kiln profile` prints a fixture's hot function; bad flags, an unreachable server, a refused
 * token and a server that is not Kiln's give one line and exit 2; the profiled command's exit
 * status (or signal) is passed on, and Ctrl-C leaves no embedded server behind.
 */

const KILN = fileURLToPath(new URL('../../cli/dist/kiln.js', import.meta.url))
const BENCH = fileURLToPath(new URL('../fixtures/cli-bench.mjs', import.meta.url))
const FAILING = fileURLToPath(new URL('../fixtures/cli-exit.mjs', import.meta.url))
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

function hasGo(): boolean {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
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

  /** `kiln export` of the last hour of the bench service to `file`. */
  const exportBench = (file: string) =>
    kiln(['export', '--server', server.url, '--service', 'bench', '--from', 'now-1h', '-o', file])

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
    // The same instant written as Unix milliseconds and nanoseconds; relative times are read
    // against one `now`, so `now-1h` to `now` is exactly an hour.
    for (const [from, to] of [
      [String(mid), `${end}000000`],
      [`${mid}000000`, new Date(end).toISOString().replace('Z', '+00:00')],
    ]) {
      const again = await kiln([
        'top',
        '--server',
        server.url,
        '--service',
        'bench',
        '--from',
        from!,
        '--to',
        to!,
        '--json',
      ])
      expect(again.code, again.stderr).toBe(0)
      const r = JSON.parse(again.stdout) as TopResponse
      expect([r.from, r.to], `${from} ${to}`).toEqual([mid, end])
    }
    const relative = await kiln([
      'top',
      '--server',
      server.url,
      '--service',
      'bench',
      '--from',
      'now-1h',
      '--to',
      'now',
      '--json',
    ])
    const hour = JSON.parse(relative.stdout) as TopResponse
    expect(hour.to - hour.from).toBe(3_600_000)
    expect(hour.total).toBe(UPLOADS * (450 + 750) * MS)

    const services = await kiln(['services', '--server', server.url, '--json'])
    expect(
      (JSON.parse(services.stdout) as ServicesResponse).services.map((s) => s.name).sort(),
    ).toEqual(['bench', 'steady'])

    const file = join(outDir, 'bench.pb.gz')
    const exported = await exportBench(file)
    expect(exported.code, exported.stderr).toBe(0)
    const profile = Profile.decode(gunzipSync(readFileSync(file)))
    const sum = profile.sample.reduce((s, x) => s + Number(x.value[0]), 0)
    expect(sum).toBe(2 * UPLOADS * 450 * MS + UPLOADS * 300 * MS)
  })

  it.skipIf(!hasGo())('exports a pprof that `go tool pprof -top` reads', async () => {
    const file = join(outDir, 'bench-go.pb.gz')
    const exported = await exportBench(file)
    expect(exported.code, exported.stderr).toBe(0)
    const top = execFileSync('go', ['tool', 'pprof', '-top', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    // Leaf (flat) time per function over both versions, from the fixture, heaviest first.
    const flat = new Map<string, number>()
    for (const [slow, n] of [
      [100, UPLOADS],
      [400, UPLOADS],
    ] as const) {
      for (const { stack, value } of STACKS(slow)) {
        const leaf = stack.at(-1)!.split('@')[0]!
        flat.set(leaf, (flat.get(leaf) ?? 0) + value * n)
      }
    }
    const expected = [...flat].sort((a, b) => b[1] - a[1]).map(([name]) => name)
    const rows = top.split('\n')
    const header = rows.findIndex((line) => /^\s*flat\s+flat%/.test(line))
    expect(header, top).toBeGreaterThanOrEqual(0)
    const names = rows
      .slice(header + 1, header + 1 + expected.length)
      .map((line) => line.trim().split(/\s+/).at(-1))
    expect(names).toEqual(expected)
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

  it('passes on the command, its arguments and its exit status, or the signal that ended it', async () => {
    // `-h` after `--` is the command's, not kiln's: the script runs, gets it, and its exit code
    // is kiln's.
    const failing = await kiln(
      ['profile', '--server', server.url, '--', process.execPath, FAILING, '-h'],
      {
        CLI_EXIT_CODE: '3',
      },
    )
    expect(failing.code, failing.stderr).toBe(3)
    expect(failing.stdout).toContain('["-h"]')
    expect(failing.stdout).toContain('(exit code 3)')
    const rows = failing.stdout.split('\n')
    const header = rows.findIndex((line) => /^\s*self\s+total\s+function/.test(line))
    expect(rows[header + 1]).toMatch(/ failingWork +.*cli-exit\.mjs/)

    // Ended by a signal: no last upload, so no profile; the status is a shell's, 128 + signal.
    const killed = await kiln([
      'profile',
      '--server',
      server.url,
      '--',
      process.execPath,
      '-e',
      "process.kill(process.pid, 'SIGTERM')",
    ])
    expect(killed.code).toBe(128 + constants.signals.SIGTERM)
    expect(killed.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(killed.stderr).toMatch(/^kiln profile: the command was ended by SIGTERM/)
  })

  it("gates a benchmark on the previous commit's run, as the CI recipe in cli/README.md does", async () => {
    // Two `kiln profile` runs labelled by commit; the second spends its time in a new function.
    const base = await kiln(
      ['profile', '--server', server.url, '--service', 'ci-bench', '--', process.execPath, BENCH],
      {
        KILN_LABELS: 'commit=base',
      },
    )
    expect(base.code, base.stderr).toBe(0)
    const head = await kiln(
      ['profile', '--server', server.url, '--service', 'ci-bench', '--', process.execPath, FAILING],
      {
        KILN_LABELS: 'commit=head',
        CLI_EXIT_CODE: '0',
      },
    )
    expect(head.code, head.stderr).toBe(0)
    const gate = await kiln([
      'diff',
      '--server',
      server.url,
      '--service',
      'ci-bench',
      '--base-query',
      '{commit="base"}',
      '--comp-query',
      '{commit="head"}',
      '--base-from',
      'now-30d',
      '--base-to',
      'now',
      '--fail-on',
      'self>5pp',
      '--json',
    ])
    expect(gate.code, gate.stderr).toBe(1)
    const verdict = JSON.parse(gate.stdout) as { breaches: { function: string }[] }
    expect(verdict.breaches.map((b) => b.function)).toContain('failingWork')
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
        /^kiln top: --server "ftp:\/\/x": not an http\(s\) URL$/,
      ],
      [['frobnicate'], /^kiln frobnicate: unknown command/],
      [['diff', '--service', 'x', '--fail-on', 'self>5'], /^kiln diff: --fail-on "self>5": write/],
      [
        ['diff', '--service', 'x', '--fail-on', 'total>2pp'],
        /the whole profile grows in %, not pp$/,
      ],
      [['top', '--service', 'x', '--limit', '0'], /^kiln top: --limit 0: a whole number from 1$/],
      [
        ['profile', '--server', server.url, '--'],
        /^kiln profile: give the command to profile after --/,
      ],
      [
        ['top', '--service', 'bench', '--server', `${server.url}/kiln`],
        /^kiln top: 404 KILN_ERR_NOT_FOUND: /,
      ],
      [
        [
          'export',
          '--server',
          server.url,
          '--service',
          'bench',
          '-o',
          join(outDir, 'missing', 'x.pb.gz'),
        ],
        /^kiln export: cannot write .*missing\/x\.pb\.gz \(ENOENT\)$/,
      ],
      // A gate with nothing on one side must not pass: a misspelt service, a run that never arrived.
      [
        ['diff', '--server', server.url, '--service', 'nope', '--fail-on', 'self>5pp'],
        /^kiln diff: the baseline \(.*\) has no cpu samples of nope: --fail-on has nothing to judge$/,
      ],
      [
        [
          'diff',
          '--server',
          server.url,
          '--service',
          'steady',
          '--base-from',
          String(start),
          '--base-to',
          String(mid),
          '--comp-from',
          String(mid),
          '--comp-to',
          String(end),
          '--comp-query',
          '{service_version="9"}',
          '--fail-on',
          'self>5pp',
        ],
        /^kiln diff: the comparison \(.*\{service_version="9"\}\) has no cpu samples of steady/,
      ],
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
    // A trailing slash on the server URL is the same server.
    const slash = await kiln(['services', '--server', `${server.url}/`, '--json'])
    expect(slash.code, slash.stderr).toBe(0)
    // A bad URL from the environment is named as such.
    const fromEnv = await kiln(['services'], { KILN_SERVER_URL: 'localhost:4040' })
    expect(fromEnv.code).toBe(2)
    expect(fromEnv.stderr).toBe(
      'kiln services: KILN_SERVER_URL "localhost:4040": not an http(s) URL\n',
    )
  })

  it('says in one line when --server is a web server other than Kiln', async () => {
    // A single-page app's dev server answers every path with its index.html.
    const web = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>')
    })
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = web.address() as { port: number }
      const run = await kiln(['services', '--server', `http://127.0.0.1:${port}`])
      expect(run.code).toBe(2)
      expect(run.stderr).toBe(
        `kiln services: 200 KILN_ERR_NOT_JSON: /api/v1/services answered 200 with text/html, not Kiln's JSON: is http://127.0.0.1:${port} a Kiln server?\n`,
      )
    } finally {
      await new Promise<void>((resolve) => web.close(() => resolve()))
    }
  })

  it('on Ctrl-C, passes it to the command, exits 130 and removes the embedded server', async () => {
    const tmp = join(outDir, 'ctrl-c-tmp')
    mkdirSync(tmp)
    const started = join(outDir, 'ctrl-c-started')
    // Its own process group, as a terminal's foreground job: Ctrl-C signals the whole group.
    const child = spawn(process.execPath, [KILN, 'profile', '--', process.execPath, FAILING], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        KILN_SERVER_URL: '',
        TMPDIR: tmp,
        CLI_EXIT_MS: '60000',
        CLI_EXIT_STARTED: started,
      },
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout.resume()
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    )
    await until(() => existsSync(started), 30_000)
    expect(readdirSync(tmp).filter((name) => name.startsWith('kiln-profile-'))).toHaveLength(1)
    process.kill(-child.pid!, 'SIGINT')
    expect(await exited).toBe(128 + constants.signals.SIGINT)
    expect(stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(stderr).toMatch(/^kiln profile: the command was ended by SIGINT/)
    expect(readdirSync(tmp).filter((name) => name.startsWith('kiln-profile-'))).toEqual([])
  })
})

describe('kiln command line against a server with tokens', () => {
  const TOKENS = { read: 'cli-read-token', ingest: 'cli-ingest-token' }
  let server: TestServer
  let outDir: string

  beforeAll(async () => {
    server = await startTestServer({
      tokens: `read=${TOKENS.read},ingest=${TOKENS.ingest}`,
      authQueries: true,
    })
    outDir = mkdtempSync(join(tmpdir(), 'kiln-cli-auth-'))
  })
  afterAll(async () => {
    await server?.dispose()
    rmSync(outDir, { recursive: true, force: true })
  })

  it('answers a missing or unknown token with one line naming where the token comes from', async () => {
    for (const [env, message] of [
      [{}, /^kiln services: 401 KILN_ERR_UNAUTHORIZED: .*send Authorization/],
      [
        { KILN_TOKEN: 'not-a-known-token' },
        /^kiln services: 401 KILN_ERR_UNAUTHORIZED: .*unknown token/,
      ],
      [{ KILN_TOKEN: TOKENS.ingest }, /^kiln services: 403 KILN_ERR_FORBIDDEN: .*needs read/],
    ] as const) {
      const run = await kiln(['services', '--server', server.url], env)
      expect(run.code, JSON.stringify(env)).toBe(2)
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1)
      expect(run.stderr).toMatch(message)
    }
    const missing = await kiln(['services', '--server', server.url])
    expect(missing.stderr).toMatch(/\(the token comes from --token or KILN_TOKEN\)\n$/)
    const read = await kiln(['services', '--server', server.url, '--json'], {
      KILN_TOKEN: TOKENS.read,
    })
    expect(read.code, read.stderr).toBe(0)
    expect(JSON.parse(read.stdout)).toEqual({ services: [] })
  })

  it('refuses to profile before running the command when the server refuses the token', async () => {
    const started = join(outDir, 'started')
    const run = await kiln(['profile', '--server', server.url, '--', process.execPath, FAILING], {
      CLI_EXIT_STARTED: started,
    })
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^kiln profile: 401 KILN_ERR_UNAUTHORIZED: /)
    expect(existsSync(started)).toBe(false)
  })
})
