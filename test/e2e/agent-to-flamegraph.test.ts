import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AgentsResponse, FlamegraphResponse, ServicesResponse } from '@kiln/wire'
import { HOT_FUNCTIONS } from '../fixtures/demo-workload.mjs'
import { rankBySelf } from './helpers/flame-tree.js'
import {
  EVERY_WINDOW_SCHEDULE,
  getJson,
  startTestServer,
  type TestServer,
} from './helpers/kiln-server.js'
import { runDemoWithAgent, type DemoRun } from './helpers/run-demo.js'

const SERVICE = 'e2e-demo'
const hot = Object.entries(HOT_FUNCTIONS).sort((a, b) => b[1] - a[1])

describe('agent -> server -> flame graph', () => {
  let server: TestServer
  let started: number
  let run: DemoRun

  beforeAll(async () => {
    server = await startTestServer(EVERY_WINDOW_SCHEDULE)
    started = Date.now()
    run = await runDemoWithAgent({
      serverUrl: server.url,
      service: SERVICE,
      durationMs: 4000,
    })
    expect(run.code, run.stderr).toBe(0)
    // The agent flushes its last profile at exit and must not hold the process much longer.
    expect(run.elapsedMs).toBeLessThan(4000 + 10_000)
  })

  afterAll(async () => {
    await server?.dispose()
  })

  it('lists the service with its profile types', async () => {
    const { services } = await getJson<ServicesResponse>(`${server.url}/api/v1/services`)
    const demo = services.find((s) => s.name === SERVICE)
    expect(demo?.types).toEqual(
      expect.arrayContaining(['cpu', 'wall', 'heap_inuse_space', 'heap_inuse_objects']),
    )
  })

  it.each(['cpu', 'wall'])(
    'the %s flame graph ranks the hot functions by their weights',
    async (type) => {
      const url = `${server.url}/api/v1/flamegraph?service=${SERVICE}&type=${type}&from=${started - 60_000}&to=${Date.now() + 60_000}`
      const graph = await getJson<FlamegraphResponse>(url)
      expect(graph.total).toBeGreaterThan(0)
      expect(graph.root.value).toBe(graph.total)

      const ranked = rankBySelf(graph.root)
      const self = new Map(ranked)
      // The three hottest leaves are the demo's hot functions, heaviest weight first.
      expect(ranked.slice(0, 3).map(([name]) => name)).toEqual(hot.map(([name]) => name))
      // Their shares follow the weights 3 : 2 : 1 within sampling noise.
      const [, lightestWeight] = hot[hot.length - 1]!
      const lightest = self.get(hot[hot.length - 1]![0])!
      for (const [name, weight] of hot) {
        const ratio = self.get(name)! / lightest
        expect(ratio, name).toBeGreaterThan((weight / lightestWeight) * 0.7)
        expect(ratio, name).toBeLessThan((weight / lightestWeight) * 1.3)
      }
    },
  )

  it("shows the agent's own cost for the instance, from the stats sent with its uploads", async () => {
    const url = `${server.url}/api/v1/agents?service=${SERVICE}&from=${started - 60_000}&to=${Date.now() + 60_000}`
    const { agents } = await getJson<AgentsResponse>(url)
    expect(agents.map((a) => a.pid)).toEqual([String(run.pid)])
    const [agent] = agents
    // 1 s windows over a 4 s run, each upload carrying the counters as they were.
    expect(agent!.uploads).toBeGreaterThanOrEqual(3)
    // The server's plan for a lone instance there: every window.
    expect(agent!.latest.schedule).toBe('server')
    expect(agent!.latest.dutyCycle).toBe(1)
    expect(agent!.latest.samplingIntervalMicros).toBe(1000)
    expect(agent!.latest.overheadBudgetPercent).toBe(100)
    expect(agent!.latest.profilesDropped).toBe(0)
    expect(agent!.window.collectCpuMicros).toBeGreaterThan(0)
    // V8's profiler thread, read from /proc on Linux: at 1 kHz it always did some work.
    if (process.platform === 'linux') expect(agent!.window.profilerCpuMicros).toBeGreaterThan(0)
    expect(agent!.window.cpuPercent).toBeGreaterThan(0)
  })
})
