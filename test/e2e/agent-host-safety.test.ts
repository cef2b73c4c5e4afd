// The agent never hurts its host, whatever the server does. A host process (a child, so that
// an agent starving the event loop cannot stall the test runner too) runs the agent against a
// server failing one way, and a 50 ms timer of its own: the host finishes only when that timer
// has fired TICKS times. A starved event loop never gets there and is killed at the deadline.
// The servers are small HTTP (or TCP) servers on port 0 failing on purpose: the failures are
// the test's input, and no real Kiln server fails on demand.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { AgentOptions, AgentStats } from '@kiln/agent'
import { SCHEDULE_PATH } from '@kiln/wire'
import { afterAll, describe, expect, it } from 'vitest'

const require = createRequire(import.meta.url)
const AGENT = pathToFileURL(require.resolve('@kiln/agent')).href
const TICKS = 60
const TICK_MS = 50
/** Past this the host is taken for stuck. Far above what 60 ticks of 50 ms take. */
const DEADLINE_MS = 60_000
/** The agent's shortest wait after a failed upload (MIN_RETRY_DELAY_MS, upload-queue.ts). */
const MIN_RETRY_DELAY_MS = 100
/** ...and between check-ins (MIN_CHECKIN_MS, scheduler.ts). */
const MIN_CHECKIN_MS = 1000

const HOST = `
const { start, stop, getStats } = await import(process.argv[2])
const started = start(JSON.parse(process.argv[3]))
let ticks = 0
await new Promise((resolve) => {
  const timer = setInterval(() => {
    if (++ticks < ${TICKS}) return
    clearInterval(timer)
    resolve()
  }, ${TICK_MS})
})
const stats = getStats()
await stop(300)
process.stdout.write(JSON.stringify({ started, ticks, stats }))
`
const dir = mkdtempSync(join(tmpdir(), 'kiln-host-'))
const HOST_SCRIPT = join(dir, 'host.mjs')
writeFileSync(HOST_SCRIPT, HOST)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface HostRun {
  code: number | null
  stderr: string
  lifetimeMs: number
  result?: { started: boolean; ticks: number; stats?: AgentStats }
}

function runHost(options: AgentOptions): Promise<HostRun> {
  const startedAt = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HOST_SCRIPT, AGENT, JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const killer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(killer)
      const lifetimeMs = Date.now() - startedAt
      resolve({ code, stderr, lifetimeMs, ...(stdout ? { result: JSON.parse(stdout) } : {}) })
    })
  })
}

type Failure = 'refused' | 'status-500' | 'status-429' | 'hang' | 'reset' | 'garbage' | 'not-found'

interface FailingServer {
  url: string
  requests: { schedule: number; ingest: number; connections: number }
  close(): Promise<void>
}

/**
 * A server failing `failure` on every request (`everything`), or only on the schedule, with
 * uploads accepted (`schedule`).
 */
async function failingServer(
  failure: Failure,
  where: 'everything' | 'schedule',
): Promise<FailingServer> {
  const requests = { schedule: 0, ingest: 0, connections: 0 }
  const sockets = new Set<Socket>()
  const track = (socket: Socket) => {
    requests.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  }
  const fail = (res: ServerResponse) => {
    switch (failure) {
      case 'status-500':
        // Not ASCII: the agent quotes it in the next upload's stats header.
        return res.writeHead(500).end('💥 kaputt')
      case 'status-429':
        return res.writeHead(429, { 'retry-after': '0' }).end('{"code":"slow down"}')
      case 'hang':
        return // never answered
      case 'reset':
        return res.socket?.destroy()
      case 'garbage':
        return res.writeHead(200, { 'content-type': 'application/json' }).end('{"windowMs": nope')
      case 'not-found':
        return res.writeHead(404).end()
      default:
        throw new Error(`not an HTTP failure: ${failure}`)
    }
  }
  let server: ReturnType<typeof createServer> | ReturnType<typeof createTcpServer>
  if (failure === 'garbage' && where === 'everything') {
    // Not even HTTP.
    server = createTcpServer((socket) => {
      track(socket)
      socket.on('error', () => {})
      socket.end('\x00\x01garbage\r\n\r\n')
    })
  } else {
    server = createServer((req, res) => {
      const isSchedule = req.url === SCHEDULE_PATH
      if (isSchedule) requests.schedule++
      else requests.ingest++
      req.resume()
      req.on('end', () => {
        if (isSchedule || where === 'everything') fail(res)
        else res.writeHead(200).end('{}')
      })
    })
    server.on('connection', track)
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const close = () =>
    new Promise<void>((r) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => r())
    })
  if (failure === 'refused') await close()
  return { url, requests, close }
}

const CASES: [Failure, 'everything' | 'schedule'][] = [
  ['refused', 'everything'],
  ['status-500', 'everything'],
  ['status-429', 'everything'],
  ['hang', 'everything'],
  ['reset', 'everything'],
  ['garbage', 'everything'],
  ['status-500', 'schedule'],
  ['status-429', 'schedule'],
  ['hang', 'schedule'],
  ['reset', 'schedule'],
  ['garbage', 'schedule'],
  ['not-found', 'schedule'],
]

describe("the host's timers keep firing", () => {
  it.concurrent.each(CASES)(
    'with the server failing (%s, on %s)',
    async (failure, where) => {
      const server = await failingServer(failure, where)
      let run: HostRun
      try {
        run = await runHost({
          service: 'host-safety',
          serverUrl: server.url,
          schedule: 'server',
          // On the fallback, a window every second, every one collected: uploads all along.
          windowMs: 1000,
          dutyCycle: 1,
          uploadTimeoutMs: 200,
          sourceMaps: false,
        })
      } finally {
        await server.close()
      }
      expect(run.code, run.stderr).toBe(0)
      expect(run.result?.ticks).toBe(TICKS)
      expect(run.result?.started).toBe(true)
      const stats = run.result!.stats!

      // The failure was met, and every failed request was followed by a wait.
      const checkinBound = 2 + run.lifetimeMs / MIN_CHECKIN_MS
      const uploadBound = 2 + run.lifetimeMs / MIN_RETRY_DELAY_MS
      if (where === 'everything') {
        expect(stats.uploadsFailed).toBeGreaterThan(0)
        expect(stats.uploadsFailed).toBeLessThanOrEqual(uploadBound)
        expect(server.requests.connections).toBeLessThanOrEqual(uploadBound + checkinBound)
      } else {
        expect(stats.uploadsOk).toBeGreaterThan(0)
      }
      if (failure !== 'refused') {
        expect(server.requests.connections).toBeGreaterThan(0)
        expect(server.requests.schedule).toBeLessThanOrEqual(checkinBound)
        expect(server.requests.ingest).toBeLessThanOrEqual(uploadBound)
      }
      // With no plan from the server the agent collects on its own duty cycle.
      expect(stats.schedule).toBe('local')
      expect(stats.windowsCollected).toBeGreaterThan(0)
    },
    DEADLINE_MS + 10_000,
  )

  it.concurrent.each(['http://', 'https://', 'http://:4040', 'ftp://kiln'])(
    'with a server URL no request can be sent to (%s): the agent stays off',
    async (serverUrl) => {
      const run = await runHost({ service: 'host-safety', serverUrl, schedule: 'always' })
      expect(run.code, run.stderr).toBe(0)
      expect(run.result).toEqual({ started: false, ticks: TICKS })
      expect(run.stderr).toMatch(/Kiln agent not started:[\s\S]*KILN_SERVER_URL/)
    },
    DEADLINE_MS + 10_000,
  )
})
