import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.js'

/** Debian's `prometheus-alertmanager` (installed by scripts/setup-machine.sh). */
export const ALERTMANAGER_BIN =
  process.env.KILN_ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager'

/**
 * A real Alertmanager on a free loopback port, with the test's configuration (YAML) and its
 * state in a temporary directory, clustering off. `stop()` kills it and removes the directory.
 */
export class TestAlertmanager {
  readonly #dir = mkdtempSync(join(tmpdir(), 'kiln-am-'))
  #port = 0
  #child: ChildProcess | undefined

  private constructor() {}

  get url(): string {
    return `http://127.0.0.1:${this.#port}`
  }

  /**
   * Start one with this configuration and wait until it answers `/-/ready`. `files` (name to
   * content) are written beside the configuration, e.g. templates it names by relative path.
   */
  static async start(
    configYaml: string,
    files: Record<string, string> = {},
  ): Promise<TestAlertmanager> {
    const am = new TestAlertmanager()
    try {
      for (const [name, content] of Object.entries(files)) {
        writeFileSync(join(am.#dir, name), content)
      }
      await am.#start(configYaml)
    } catch (error) {
      await am.stop()
      throw error
    }
    return am
  }

  async #start(configYaml: string): Promise<void> {
    const config = join(this.#dir, 'alertmanager.yml')
    writeFileSync(config, configYaml)
    this.#port = await freePort()
    this.#child = spawn(
      ALERTMANAGER_BIN,
      [
        `--config.file=${config}`,
        `--storage.path=${this.#dir}`,
        `--web.listen-address=127.0.0.1:${this.#port}`,
        // Empty: no cluster, so no gossip port and no wait for peers before notifying.
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let stderr = ''
    this.#child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)))
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${this.url}/-/ready`)
        if (res.ok) return
      } catch {
        // not listening yet
      }
      if (this.#child.exitCode !== null) break
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`prometheus-alertmanager did not start: ${stderr}`)
  }

  async stop(): Promise<void> {
    const child = this.#child
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    rmSync(this.#dir, { recursive: true, force: true })
  }
}

/** What Alertmanager sends a receiver, on port 0: each JSON body, in order of arrival. */
export class JsonReceiver<T> {
  readonly received: T[] = []
  readonly #server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      this.received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T)
      res.writeHead(200).end('ok')
    })
  })

  /** The receiver's URL with `path` (any path is received). */
  url(path: string): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}${path}`
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}

/** Poll `probe` until it returns something, for at most `ms`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
