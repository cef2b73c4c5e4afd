// `pnpm start`: the Kiln server on the embedded store (http://localhost:4040, data in ./data)
// and a demo service of three instances, each profiled by the agent on the server's fleet
// schedule: they take turns collecting, so the UI shows a flame graph within seconds and the
// explore view lists the instances and the share of time each one collects. The service is an
// HTTP server traced with OpenTelemetry that loads itself (test/fixtures/demo-http-service.mjs),
// so its samples carry an `endpoint` label (a query or Split by in the UI) and trace ids
// (GET /api/v1/endpoints, /api/v1/traces, a trace's flame graph with &traceId=).
// Configuration comes from KILN_* variables (see the README), which override the demo's own
// settings below; Ctrl-C stops everything.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { resolveConfig, startServer } from '@kiln/server'
import { schedulePeriod } from '@kiln/wire'

const root = fileURLToPath(new URL('../..', import.meta.url))
const DEMO_SERVICE = fileURLToPath(
  new URL('../../test/fixtures/demo-http-service.mjs', import.meta.url),
)
const instances = 3
const service = process.env.KILN_DEMO_SERVICE ?? 'demo'

/**
 * The demo server's schedule. At the defaults (10 s windows, a share of at most 1/8, check-ins
 * every 30 s) a lone demo instance would collect one window in 8, its first flame graph up to
 * 80 s away. Here windows are 2 s, an instance may collect up to every other one, and check-ins
 * come every 5 s, so the instances' plans settle within seconds, and the instances of a demo
 * stopped a moment ago stop counting after 12.5 s.
 */
const env = {
  KILN_DATA_DIR: `${root}/data`,
  KILN_SCHEDULE_WINDOW_MS: '2000',
  KILN_SCHEDULE_MAX_SHARE: '0.5',
  KILN_SCHEDULE_CHECKIN_MS: '5000',
  ...process.env,
}
const config = resolveConfig({}, env)
const server = await startServer({}, env)
const uiUrl = server.url.replace('127.0.0.1', 'localhost')

const demos = Array.from({ length: instances }, () =>
  spawn(process.execPath, ['--import', '@kiln/agent/register', DEMO_SERVICE], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    stdio: 'inherit',
    env: {
      ...process.env,
      KILN_SERVER_URL: server.url,
      KILN_SERVICE: service,
      KILN_VERSION: process.env.KILN_DEMO_VERSION ?? '1.0.0',
    },
  }),
)

// What the plan gives: each instance collects one window in `period`, and the first profile is
// stored by the end of the window after a period (an instance whose slot has just passed, the
// longest wait), give or take a couple of seconds to start the processes.
const settings = {
  concurrent: config.scheduleConcurrent,
  maxShare: config.scheduleMaxShare,
  minShare: config.scheduleMinShare,
}
const windowSeconds = config.scheduleWindowMs / 1000
const period = schedulePeriod(instances, settings)
const firstSeconds = Math.ceil(((period + 1) * windowSeconds + 2) / 5) * 5
console.log(`
Kiln is running: open ${uiUrl}
A demo service ("${service}") runs as ${instances} instances profiled by the agent on the server's schedule:
in ${windowSeconds} s windows, each instance collects in one window of ${period}, about ${+(instances / period).toFixed(2)} at a time.
Its first flame graph appears within ~${firstSeconds} s; the explore view lists the instances and their schedule.
Press Ctrl-C to stop.
`)

let stopping = false
/** Stop the instances (their agents upload the window so far), then the server. */
async function shutdown() {
  if (stopping) return
  stopping = true
  await Promise.all(
    demos.map(async (demo) => {
      if (demo.exitCode !== null || demo.signalCode !== null) return
      const exited = new Promise((resolve) => demo.once('exit', resolve))
      demo.kill('SIGTERM')
      const killer = setTimeout(() => demo.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(killer)
    }),
  )
  await server.close()
  process.exit(0)
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
for (const demo of demos) {
  demo.on('exit', (code) => {
    if (!stopping) console.error(`a demo instance exited (${code}); the server keeps running`)
  })
}
