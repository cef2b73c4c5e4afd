// Fleet-scheduled collection end to end: two instances of a service, each the demo workload
// with the agent loaded by `--import`, check in with a real Kiln server, collect in the windows
// of its plan only, and their profiles are stored with the windows' bounds.
import { hostname } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from './helpers/kiln-server.js'
import { runDemoWithAgent, type DemoRun } from './helpers/run-demo.js'

const SERVICE = 'e2e-scheduled'
const WINDOW_MS = 1000
/** A lone instance, or two, collect every other window (the share is capped at 1/2). */
const PERIOD = 2

interface ProfileRow {
  type: string
  pid: string
  start: number
  end: number
}

describe('agents on the server schedule', () => {
  let server: TestServer
  let runs: DemoRun[]
  let rows: ProfileRow[]

  beforeAll(async () => {
    server = await startTestServer({
      scheduleWindowMs: WINDOW_MS,
      scheduleMaxShare: 1 / PERIOD,
      scheduleMinShare: 1 / PERIOD,
      scheduleConcurrent: 1,
      scheduleCheckinMs: 1000,
    })
    runs = await Promise.all(
      [0, 1].map(() =>
        runDemoWithAgent({
          serverUrl: server.url,
          service: SERVICE,
          durationMs: 8000,
          env: { KILN_SCHEDULE: 'server' },
        }),
      ),
    )
    for (const run of runs) expect(run.code, run.stderr).toBe(0)
    const result = await server.app.store.client.query({
      query: `SELECT type, labels['pid'] AS pid,
          toUnixTimestamp64Milli(time_start) AS start, toUnixTimestamp64Milli(time_end) AS end
        FROM kiln.profiles WHERE service = {service:String} ORDER BY start`,
      query_params: { service: SERVICE },
      format: 'JSONEachRow',
    })
    rows = (await result.json<{ type: string; pid: string; start: string; end: string }>()).map(
      (r) => ({ type: r.type, pid: r.pid, start: Number(r.start), end: Number(r.end) }),
    )
  })

  afterAll(async () => {
    await server?.dispose()
  })

  it('checks each instance in under its host and pid', async () => {
    const result = await server.app.store.client.query({
      query: `SELECT DISTINCT instance FROM kiln.agent_checkins WHERE service = {service:String}`,
      query_params: { service: SERVICE },
      format: 'JSONEachRow',
    })
    const instances = (await result.json<{ instance: string }>()).map((r) => r.instance).sort()
    expect(instances).toEqual(runs.map((r) => `${hostname()}:${r.pid}`).sort())
  })

  it("collects each instance's profiles in whole windows of its plan, not all the time", () => {
    for (const run of runs) {
      const mine = rows.filter((r) => r.pid === String(run.pid))
      const windows = [...new Set(mine.map((r) => Math.floor(r.start / WINDOW_MS)))].sort(
        (a, b) => a - b,
      )
      expect(windows.length, `pid ${run.pid}`).toBeGreaterThan(0)
      for (const row of mine) {
        const index = Math.floor(row.start / WINDOW_MS)
        expect(row.end).toBeLessThanOrEqual((index + 1) * WINDOW_MS)
        // A window begun at its start lasts to its end, unless cut short at exit (the last).
        if (row.start === index * WINDOW_MS && index !== windows.at(-1)) {
          expect(row.end).toBe((index + 1) * WINDOW_MS)
        }
      }
      // Joined part way: at most the first window, and one when the instance's slot changed
      // (the other instance appeared in the plan).
      const joined = new Set(mine.filter((r) => r.start % WINDOW_MS !== 0).map((r) => r.start))
      expect(joined.size).toBeLessThanOrEqual(2)
      // One window in PERIOD, give or take the one change of slot when the other instance
      // appeared in the plan.
      const span = windows.at(-1)! - windows[0]! + 1
      expect(windows.length).toBeLessThanOrEqual(Math.ceil(span / PERIOD) + 1)
      // CPU, wall and the heap snapshot for each window.
      const types = new Set(mine.map((r) => r.type))
      for (const type of ['cpu', 'wall', 'heap_inuse_space']) expect(types).toContain(type)
    }
  })

  it('spreads the two instances over both slots of the period', () => {
    const slots = new Set(rows.map((r) => Math.floor(r.start / WINDOW_MS) % PERIOD))
    expect([...slots].sort()).toEqual([0, 1])
  })
})
