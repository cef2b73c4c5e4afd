import { spawn, type ChildProcess } from 'node:child_process'
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DiffResponse, FlameNode, FlamegraphResponse } from '@kiln/wire'
import { BURST_WEIGHTS } from '../fixtures/bursty-weights.mjs'
import { getJson, startTestServer, type TestServer } from './helpers/kiln-server.js'
import { TEST_DIR } from './helpers/run-demo.js'

/*
 * CPU profiles of an I/O-bound service: each request runs three bursts of pure computation,
 * CPU 3 : 2 : 1, each a few ms (well under the 10 ms sampling interval used here), and the
 * process waits between requests (~25 % of a core in all). Before Kiln's CPU estimate, the
 * profiler's raw CPU values put ~80 % of such a service's CPU on `(idle)`.
 */

const FIXTURE = fileURLToPath(new URL('../fixtures/bursty-service.mjs', import.meta.url))
const FUNCTIONS = Object.keys(BURST_WEIGHTS) as (keyof typeof BURST_WEIGHTS)[]
const UNIT_MICROS = 500
const RATE = 80
const SECONDS = 30

interface FixtureStats {
  ranMicros: Record<string, number>
  mainThreadCpuMicros: number
  processCpuMicros: number
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => (body += chunk.toString()))
      res.on('end', () => resolve(body))
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * Run the fixture under the agent, drive `RATE` requests a second for `SECONDS`, and return
 * what it measured of itself once it has exited (the agent flushes its last profile at exit).
 */
async function runFixture(
  serverUrl: string,
  service: string,
  { env = {}, saturate = false }: { env?: Record<string, string>; saturate?: boolean } = {},
): Promise<FixtureStats> {
  // Busy, V8 inlines the first burst into the request handler, and the profiler (without line
  // numbers, which CPU time needs) shows it as the handler: a limit of the profiler, not of the
  // estimate measured here, so the busy run keeps functions apart (bench/README.md).
  const flags = saturate ? ['--no-turbo-inlining'] : []
  const child: ChildProcess = spawn(
    process.execPath,
    [...flags, '--import', '@kiln/agent/register', FIXTURE],
    {
      cwd: TEST_DIR,
      env: {
        ...process.env,
        KILN_SERVER_URL: serverUrl,
        KILN_SERVICE: service,
        // The estimate is checked against the CPU of the whole run: profile all of it.
        KILN_SCHEDULE: 'always',
        KILN_UPLOAD_INTERVAL_MS: '5000',
        KILN_SAMPLING_INTERVAL_MICROS: '10000',
        BURST_UNIT_MICROS: String(UNIT_MICROS),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening (\d+)/.exec(out)
      if (match) resolve(Number(match[1]))
    })
    child.once('exit', (code) => reject(new Error(`fixture exited with ${code}`)))
  })
  const start = Date.now()
  if (saturate) {
    // A closed loop of 8 clients: the service's core is always busy.
    const end = start + SECONDS * 1000
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < end) await get(port, '/work')
      }),
    )
  } else {
    const pending: Promise<string>[] = []
    for (let k = 0; k < RATE * SECONDS; k++) {
      const wait = start + (k * 1000) / RATE - Date.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      pending.push(get(port, '/work'))
    }
    await Promise.all(pending)
  }
  const stats = JSON.parse(await get(port, '/stats')) as FixtureStats
  const exited = new Promise((resolve) => child.once('exit', resolve))
  await get(port, '/exit')
  await exited
  return stats
}

/** Total (inclusive) value of each function name, each call path counted once. */
function totalsByName(root: FlameNode): Map<string, number> {
  const out = new Map<string, number>()
  const visit = (node: FlameNode, onPath: Set<string>): void => {
    for (const child of node.children) {
      const seen = onPath.has(child.name)
      if (!seen) out.set(child.name, (out.get(child.name) ?? 0) + child.value)
      onPath.add(child.name)
      visit(child, onPath)
      if (!seen) onPath.delete(child.name)
    }
  }
  visit(root, new Set())
  return out
}

describe.each([
  { load: 'bursty, mostly idle (~25 % of a core)', saturate: false },
  { load: 'saturated (the core always busy)', saturate: true },
])('CPU of the service, $load', ({ saturate }) => {
  let server: TestServer
  let from: number
  let stats: FixtureStats
  let graph: FlamegraphResponse

  beforeAll(async () => {
    server = await startTestServer()
    from = Date.now() - 1000
    stats = await runFixture(server.url, 'bursty', { saturate })
    // Ingest is acknowledged once stored; a moment for the last upload's insert batch.
    await new Promise((r) => setTimeout(r, 300))
    graph = await getJson<FlamegraphResponse>(
      `${server.url}/api/v1/flamegraph?service=bursty&type=cpu&from=${from}&to=${Date.now() + 60_000}&maxNodes=100000`,
    )
  }, 120_000)
  afterAll(async () => server?.dispose())

  it('ranks the three functions by their CPU, 3 : 2 : 1 (each share within 25 %)', () => {
    const totals = totalsByName(graph.root)
    const shown = FUNCTIONS.map((fn) => totals.get(fn) ?? 0)
    const shownSum = shown.reduce((a, b) => a + b, 0)
    const weightSum = FUNCTIONS.reduce((a, fn) => a + BURST_WEIGHTS[fn], 0)
    FUNCTIONS.forEach((fn, i) => {
      const expected = BURST_WEIGHTS[fn] / weightSum
      expect(shown[i]! / shownSum, fn).toBeGreaterThan(expected * 0.75)
      expect(shown[i]! / shownSum, fn).toBeLessThan(expected * 1.25)
    })
    // And each is close to the time it really ran (pure computation: its CPU).
    for (const [i, fn] of FUNCTIONS.entries()) {
      const ranNanos = stats.ranMicros[fn]! * 1000
      expect(shown[i]! / ranNanos, fn).toBeGreaterThan(0.7)
      expect(shown[i]! / ranNanos, fn).toBeLessThan(1.3)
    }
  })

  it('holds no (idle), and its total is the CPU the process measured (within 20 %)', () => {
    const totals = totalsByName(graph.root)
    expect(totals.get('(idle)')).toBeUndefined()
    // The whole process: main thread (estimated by stack) plus other threads (measured).
    expect(graph.total / (stats.processCpuMicros * 1000)).toBeGreaterThan(0.8)
    expect(graph.total / (stats.processCpuMicros * 1000)).toBeLessThan(1.2)
    const mainThread = graph.total - (totals.get('Non JS threads activity') ?? 0)
    if (stats.mainThreadCpuMicros > 0) {
      expect(mainThread / (stats.mainThreadCpuMicros * 1000)).toBeGreaterThan(0.8)
      expect(mainThread / (stats.mainThreadCpuMicros * 1000)).toBeLessThan(1.2)
    }
  })
})

describe('before and after a deploy that made one bursty function 3x slower', () => {
  let server: TestServer
  const windows: { from: number; to: number }[] = []

  beforeAll(async () => {
    server = await startTestServer()
    for (const [version, env] of [
      ['1.0.0', {}],
      ['1.1.0', { SLOWER_FUNCTION: 'renderReceipt', SLOWER_FACTOR: '3' }],
    ] as const) {
      const from = Date.now()
      await runFixture(server.url, 'checkout', { env: { KILN_VERSION: version, ...env } })
      windows.push({ from, to: Date.now() + 1000 })
    }
    await new Promise((r) => setTimeout(r, 300))
  }, 180_000)
  afterAll(async () => server?.dispose())

  it('ranks the slower function first among those that grew', async () => {
    const [base, comp] = windows as [{ from: number; to: number }, { from: number; to: number }]
    const diff = await getJson<DiffResponse>(
      `${server.url}/api/v1/diff?service=checkout&type=cpu&baseFrom=${base.from}&baseTo=${base.to}&compFrom=${comp.from}&compTo=${comp.to}`,
    )
    // Its own frame does little itself (the bursts compute in callees): ranked by total.
    expect(diff.changes.total.grew[0]?.name).toBe('renderReceipt')
    expect(diff.changes.total.shrank.map((f) => f.name)).not.toContain('renderReceipt')
  })
})
