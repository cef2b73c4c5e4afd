import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const require = createRequire(import.meta.url)
/** `kiln-server`, from the built package. */
const SERVER_CLI = join(require.resolve('@kiln/server'), '../cli.js')

export interface ServerProcess {
  child: ChildProcess
  url: string
  /** Stop the server (SIGTERM, then SIGKILL after 5 s) and remove its data directory. */
  dispose(): Promise<void>
}

/**
 * The server's CLI in a process of its own, on loopback, port 0, with a fresh embedded store in
 * a temporary directory (or `options.dataDir`, kept when it stops); `env` adds `KILN_*` settings.
 */
export function startServerProcess(
  env: Record<string, string> = {},
  options: { dataDir?: string } = {},
): Promise<ServerProcess> {
  // A directory given by the caller outlives the process (a restart reads it again).
  const owned = options.dataDir === undefined
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'kiln-server-'))
  const child = spawn(process.execPath, [SERVER_CLI], {
    env: {
      ...process.env,
      KILN_DATA_DIR: dataDir,
      KILN_HOST: '127.0.0.1',
      KILN_PORT: '0',
      // The address is read from the "listening" line, an info log.
      KILN_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const dispose = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(killer)
    }
    if (owned) rmSync(dataDir, { recursive: true, force: true })
  }
  return new Promise((resolve, reject) => {
    let out: string | undefined = ''
    // Read stdout to the end (request logs included), or the server blocks on a full pipe.
    child.stdout!.on('data', (chunk: Buffer) => {
      if (out === undefined) return
      out += chunk.toString()
      const match = /Kiln listening on (http:\/\/[\d.:]+)/.exec(out)
      if (match) {
        out = undefined
        resolve({ child, url: match[1]!, dispose })
      }
    })
    child.once('exit', (code) => {
      if (out === undefined) return
      if (owned) rmSync(dataDir, { recursive: true, force: true })
      reject(new Error(`server exited (${code}) before listening: ${out}`))
    })
  })
}
