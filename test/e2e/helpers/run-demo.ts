import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The directory of the `test` package: `@kiln/agent/register` resolves from here. */
export const TEST_DIR = fileURLToPath(new URL('../..', import.meta.url))
export const DEMO_SERVICE = fileURLToPath(
  new URL('../../fixtures/demo-service.mjs', import.meta.url),
)

export interface DemoRun {
  pid: number
  code: number | null
  stderr: string
  elapsedMs: number
}

/**
 * Run the demo workload in a child process with the agent loaded by `--import`, for
 * `durationMs` (or until `stop`), and wait for it to exit on its own (the agent must not keep it
 * alive).
 */
export function runDemoWithAgent(options: {
  serverUrl: string
  service: string
  durationMs: number
  env?: Record<string, string>
  /**
   * Aborting asks the demo to stop (SIGTERM): it ends its workload and the agent uploads the
   * window so far before the process exits.
   */
  stop?: AbortSignal
}): Promise<DemoRun> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', '@kiln/agent/register', DEMO_SERVICE], {
      cwd: TEST_DIR,
      env: {
        ...process.env,
        KILN_SERVER_URL: options.serverUrl,
        KILN_SERVICE: options.service,
        // The agent's default schedule (`server`), as the demo runs it: against a server with
        // EVERY_WINDOW_SCHEDULE a lone instance profiles every 1 s window. KILN_SCHEDULE=always
        // in `env` profiles all the time, one profile a second.
        KILN_UPLOAD_INTERVAL_MS: '1000',
        KILN_SAMPLING_INTERVAL_MICROS: '1000',
        // 1 s profiles at 1 kHz cost more than the default budget; keep the rate fixed here.
        KILN_OVERHEAD_BUDGET_PERCENT: '100',
        DEMO_DURATION_MS: String(options.durationMs),
        ...options.env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const killer = setTimeout(() => child.kill('SIGKILL'), options.durationMs + 30_000)
    const stop = () => child.kill('SIGTERM')
    if (options.stop?.aborted) stop()
    else options.stop?.addEventListener('abort', stop, { once: true })
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(killer)
      options.stop?.removeEventListener('abort', stop)
      resolve({ pid: child.pid!, code, stderr, elapsedMs: Date.now() - started })
    })
  })
}
