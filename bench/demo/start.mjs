// `pnpm start`: the Kiln server on the embedded store (http://localhost:4040, data in ./data)
// and a demo service of three instances at 1.0.0, then, DEMO_DEPLOY_AFTER_MS (150 s) after start,
// a rolling deploy of 1.1.0 that slows renderInvoice and leaks at cacheInvoicePdf (DEMO_STORY in
// test/fixtures/demo-http-routes.mjs): the deploy marker, the comparisons and the detectors'
// findings tell that story. Each instance is profiled by the agent on the server's fleet
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
import { DEMO_STORY } from '../../test/fixtures/demo-http-routes.mjs'

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
  // The detectors run every 30 s and judge heap growth over 2 minutes, so the deploy's findings
  // appear within minutes (the defaults: every 5 minutes, over an hour).
  KILN_DETECTOR_INTERVAL_MS: '30000',
  KILN_HEAP_GROWTH_WINDOW_MS: '120000',
  // A new version is judged once it has run a minute (the default waits 5 minutes).
  KILN_REGRESSION_SETTLE_MS: '60000',
  ...process.env,
}
/** When the new version is deployed: 150 s after start by default; 0 or less: never. */
const deployAfterMs = Number(process.env.DEMO_DEPLOY_AFTER_MS ?? 150_000)
const before = process.env.KILN_DEMO_VERSION ?? DEMO_STORY.before
const config = resolveConfig({}, env)
const server = await startServer({}, env)
const uiUrl = server.url.replace('127.0.0.1', 'localhost')

let stopping = false

/** One instance of the demo service at `version`, profiled by the agent. */
function startInstance(version) {
  const demo = spawn(process.execPath, ['--import', '@kiln/agent/register', DEMO_SERVICE], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    stdio: 'inherit',
    env: {
      // Each instance serves one request at a time with a short pause, as a lightly loaded
      // service does, so three of them leave a laptop some room; 1.1.0 leaks 16 KiB per invoice.
      DEMO_CONCURRENCY: '1',
      DEMO_PAUSE_MS: '30',
      DEMO_LEAK_KB_PER_INVOICE: '16',
      ...process.env,
      KILN_SERVER_URL: server.url,
      KILN_SERVICE: service,
      KILN_VERSION: version,
    },
  })
  demo.on('exit', (code) => {
    if (!stopping && !demo.retired) {
      console.error(`a demo instance exited (${code}); the server keeps running`)
    }
  })
  return demo
}

/** Ask an instance to stop (its agent uploads the window so far) and wait for it. */
async function stopInstance(demo) {
  if (demo.exitCode !== null || demo.signalCode !== null) return
  const exited = new Promise((resolve) => demo.once('exit', resolve))
  demo.kill('SIGTERM')
  const killer = setTimeout(() => demo.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(killer)
}

let demos = Array.from({ length: instances }, () => startInstance(before))

/**
 * A rolling deploy of DEMO_STORY.after: one instance at a time, the new one started before the
 * old one stops, as a Kubernetes rollout does.
 */
async function deploy() {
  console.log(
    `Deploying ${service} ${DEMO_STORY.after} (one instance at a time): ${DEMO_STORY.slowed} gets ${DEMO_STORY.slowFactor}x slower and ${DEMO_STORY.leakSite} starts to leak.`,
  )
  for (let i = 0; i < demos.length && !stopping; i++) {
    const old = demos[i]
    demos[i] = startInstance(DEMO_STORY.after)
    await new Promise((resolve) => setTimeout(resolve, 3000))
    old.retired = true
    await stopInstance(old)
  }
  if (!stopping) {
    console.log(
      `Deployed. Open ${uiUrl}: the timeline's deploy marker compares ${before} with ${DEMO_STORY.after}; findings follow under "Alerts & findings" within a few minutes.`,
    )
  }
}
const deployTimer =
  deployAfterMs > 0 && before !== DEMO_STORY.after
    ? setTimeout(() => void deploy(), deployAfterMs)
    : undefined

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
${deployTimer ? `In ${Math.round(deployAfterMs / 1000)} s version ${DEMO_STORY.after} is deployed: watch for the deploy marker, compare before/after, then heap.\n` : ''}Press Ctrl-C to stop.
`)

/** Stop the instances (their agents upload the window so far), then the server. */
async function shutdown() {
  if (stopping) return
  stopping = true
  clearTimeout(deployTimer)
  await Promise.all(demos.map(stopInstance))
  await server.close()
  process.exit(0)
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
