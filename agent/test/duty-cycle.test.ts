// Duty-cycled collection with the real profiler (@datadog/pprof) and real time. The Kiln server
// is played by a small HTTP server on port 0 that answers schedule plans and accepts uploads: a
// stand-in at the HTTP boundary, so that the plan (clock offset, period, slot) is the test's
// to choose. The real server's schedule is exercised in test/e2e/agent-schedule.test.ts.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { collectsIn, SCHEDULE_PATH, TENANT_HEADER, type SchedulePlan } from '@kiln/wire'
import { afterEach, describe, expect, it } from 'vitest'
import { Agent } from '../src/agent.js'
import { resolveAgentConfig, type AgentOptions } from '../src/config.js'
import { silentLogger } from '../src/logger.js'
import { datadogBindings, type ProfilerBindings } from '../src/profiler-bindings.js'
import type { ProfileExporter, QueuedUpload } from '../src/upload-queue.js'

const WINDOW_MS = 1000

const servers: Server[] = []
const agents: Agent[] = []
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop(1000)))
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))))
})

interface Upload {
  fromMs: number
  untilMs: number
}

interface CheckIn {
  body: unknown
  headers: IncomingHttpHeaders
}

/** The stand-in server: `schedule` answers check-ins (a plan, or a status), uploads are kept. */
async function standInServer(schedule: () => SchedulePlan | number) {
  const uploads: Upload[] = []
  const checkIns: CheckIn[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (req.method === 'POST' && url.pathname === SCHEDULE_PATH) {
        checkIns.push({ body: JSON.parse(Buffer.concat(chunks).toString()), headers: req.headers })
        const answer = schedule()
        if (typeof answer === 'number') return res.writeHead(answer).end('{"error":"no"}')
        return res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(answer))
      }
      if (req.method === 'POST' && url.pathname === '/ingest') {
        uploads.push({
          fromMs: Number(url.searchParams.get('from')),
          untilMs: Number(url.searchParams.get('until')),
        })
        return res.writeHead(200).end('{}')
      }
      res.writeHead(404).end()
    })
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, uploads, checkIns }
}

/** The real bindings, noting at each start and stop whether a time profiler was alive. */
function watchedProfiler() {
  const log: string[] = []
  const bindings: ProfilerBindings = {
    ...datadogBindings,
    startTime: (options) => {
      log.push(`start (was running: ${datadogBindings.timeRunning()})`)
      datadogBindings.startTime(options)
    },
    stopTime: (restart) => {
      const profile = datadogBindings.stopTime(restart)
      log.push(`${restart ? 'restart' : 'stop'} (running: ${datadogBindings.timeRunning()})`)
      return profile
    },
  }
  return { bindings, log }
}

function startAgent(options: AgentOptions, bindings: ProfilerBindings, exporter?: ProfileExporter) {
  const config = resolveAgentConfig({
    service: 'duty-cycle-test',
    windowMs: WINDOW_MS,
    sourceMaps: false,
    samplingIntervalMicros: 1000,
    overheadBudgetPercent: 100,
    logger: silentLogger,
    ...options,
  })
  const agent = new Agent(config, { bindings, ...(exporter ? { exporter } : {}) })
  agents.push(agent)
  expect(agent.start()).toBe(true)
  return agent
}

/** Keep the main thread busy in small slices until `done`, so profiles have samples. */
async function workUntil(done: () => boolean, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let x = 0
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for windows')
    const sliceEnd = Date.now() + 5
    while (Date.now() < sliceEnd) x += Math.sqrt(x + 1)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** The windows uploads were for, one entry per window (the time profile and the heap share it). */
function windowsOf(uploads: Upload[]): Upload[] {
  const seen = new Map<string, Upload>()
  for (const u of uploads) seen.set(`${u.fromMs}-${u.untilMs}`, u)
  return [...seen.values()].sort((a, b) => a.fromMs - b.fromMs)
}

/**
 * Every window lies in one collecting window of `plan`, and those neither joined part way (the
 * first) nor cut short by stop (the last) span it exactly.
 */
function expectWindowsOfPlan(windows: Upload[], plan: Pick<SchedulePlan, 'period' | 'slot'>) {
  windows.forEach((w, i) => {
    const index = Math.floor(w.fromMs / WINDOW_MS)
    expect(collectsIn(plan, index), `window ${index}`).toBe(true)
    expect(w.untilMs).toBeLessThanOrEqual((index + 1) * WINDOW_MS)
    if (i > 0 && i < windows.length - 1) {
      expect(w.fromMs).toBe(index * WINDOW_MS)
      expect(w.untilMs).toBe((index + 1) * WINDOW_MS)
    }
  })
}

describe('duty-cycled collection with the real profiler', () => {
  it("follows the server's plan on the server's clock, the time profiler off between windows", async () => {
    const aheadMs = 3_600_000 // the server's clock is an hour ahead: windows are on its clock
    const plan = (): SchedulePlan => ({
      windowMs: WINDOW_MS,
      period: 3,
      slot: 1,
      instances: 3,
      rank: 1,
      concurrent: 1,
      serverTimeMs: Date.now() + aheadMs,
      checkinMs: 60_000,
    })
    const server = await standInServer(plan)
    const { bindings, log } = watchedProfiler()
    const tenant = 'acme'
    const agent = startAgent(
      { serverUrl: server.url, schedule: 'server', token: 's3cret', tenant },
      bindings,
    )
    await workUntil(() => agent.stats.windowsCollected >= 4)
    expect(agent.stats).toMatchObject({ schedule: 'server', dutyCycle: 1 / 3 })
    // V8's profiler thread ends with each window; its CPU is read before it does.
    if (process.platform === 'linux') expect(agent.stats.profilerCpuMicros).toBeGreaterThan(0)
    await agent.stop(5000)

    expect(server.checkIns[0]!.body).toEqual({
      service: 'duty-cycle-test',
      instance: expect.stringMatching(new RegExp(`:${process.pid}$`)),
    })
    expect(server.checkIns[0]!.headers.authorization).toBe('Bearer s3cret')
    expect(server.checkIns[0]!.headers[TENANT_HEADER]).toBe(tenant)

    const windows = windowsOf(server.uploads)
    expect(windows.length).toBe(agent.stats.windowsCollected)
    // A time profile and a heap snapshot per window.
    expect(server.uploads.length).toBe(2 * windows.length)
    expectWindowsOfPlan(windows, plan())
    for (const w of windows) expect(w.fromMs).toBeGreaterThan(Date.now() + aheadMs / 2)
    // One V8 profiler per window, none alive before it started or after it stopped.
    expect(log).toEqual(
      windows.flatMap(() => ['start (was running: false)', 'stop (running: false)']),
    )
    expect(datadogBindings.timeRunning()).toBe(false)
  }, 60_000)

  it('plans alone on the local duty cycle when the server has no schedule (404)', async () => {
    const server = await standInServer(() => 404)
    const { bindings, log } = watchedProfiler()
    const dutyCycle = 0.5
    const agent = startAgent({ serverUrl: server.url, schedule: 'server', dutyCycle }, bindings)
    await workUntil(() => agent.stats.windowsCollected >= 3)
    expect(agent.stats).toMatchObject({ schedule: 'local', dutyCycle })
    await agent.stop(5000)

    expect(server.checkIns).toHaveLength(1)
    const windows = windowsOf(server.uploads)
    // Every window at the same slot of a period of 2, on the agent's own clock.
    const slot = Math.floor(windows[0]!.fromMs / WINDOW_MS) % 2
    expectWindowsOfPlan(windows, { period: Math.round(1 / dutyCycle), slot })
    for (const w of windows) expect(Math.abs(w.fromMs - Date.now())).toBeLessThan(60_000)
    expect(log).toEqual(
      windows.flatMap(() => ['start (was running: false)', 'stop (running: false)']),
    )
  }, 60_000)

  it('plans alone on the local duty cycle when the server cannot be reached', async () => {
    const closed = await standInServer(() => 500)
    await new Promise((r) => servers.pop()!.close(r)) // the port is now closed
    const items: QueuedUpload[] = []
    const exporter: ProfileExporter = {
      size: 0,
      enqueue: (item) => void items.push(item),
      drain: async () => {},
      discard: () => {},
    }
    const dutyCycle = 0.5
    const { bindings } = watchedProfiler()
    const agent = startAgent(
      { serverUrl: closed.url, schedule: 'server', dutyCycle, heap: false },
      bindings,
      exporter,
    )
    await workUntil(() => agent.stats.windowsCollected >= 3)
    expect(agent.stats).toMatchObject({ schedule: 'local', dutyCycle })
    await agent.stop(1000)
    const windows = windowsOf(
      items.map((i) => ({
        fromMs: Number(i.query.get('from')),
        untilMs: Number(i.query.get('until')),
      })),
    )
    const slot = Math.floor(windows[0]!.fromMs / WINDOW_MS) % 2
    expectWindowsOfPlan(windows, { period: 2, slot })
  }, 60_000)
})
