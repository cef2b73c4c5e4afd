import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer, type KilnOptions, type RunningServer } from '@kiln/server'

export interface TestServer extends RunningServer {
  dataDir: string
  /** Close the server and remove its data directory. */
  dispose(): Promise<void>
}

/**
 * Schedule settings under which a lone instance collects in every window, of 1 s: a short run of
 * an agent on the server's schedule (its default) then has a profile a second.
 */
export const EVERY_WINDOW_SCHEDULE = {
  scheduleWindowMs: 1000,
  scheduleMaxShare: 1,
  scheduleCheckinMs: 1000,
} as const satisfies KilnOptions

/** A real Kiln server on port 0 with a fresh embedded store in a temporary directory. */
export async function startTestServer(options: KilnOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-test-'))
  const server = await startServer({
    port: 0,
    dataDir,
    logLevel: 'warn',
    insertBatchWaitMs: 5,
    ...options,
  })
  return {
    ...server,
    dataDir,
    async dispose() {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url)
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`)
  return (await response.json()) as T
}
