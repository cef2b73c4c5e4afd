import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.js'

export const CLICKHOUSE_USER = 'kiln'
export const CLICKHOUSE_PASSWORD = 'kiln-secret'

/** Debian's `clickhouse-server` (installed by scripts/setup-machine.sh). */
export const CLICKHOUSE_BIN =
  process.env.KILN_CLICKHOUSE_SERVER_BIN ?? '/usr/sbin/clickhouse-server'

/**
 * A real ClickHouse server in a temporary directory, on free loopback ports, with one user
 * protected by a password. `stop()` and `start()` again keep its data (a server that goes
 * away and comes back).
 */
export class TestClickHouse {
  readonly dir = mkdtempSync(join(tmpdir(), 'kiln-ch-'))
  httpPort = 0
  #child: ChildProcess | undefined

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`
  }

  async start(): Promise<void> {
    if (this.httpPort === 0) await this.#writeConfig()
    this.#child = spawn(CLICKHOUSE_BIN, [`--config-file=${join(this.dir, 'config.xml')}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    this.#child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)))
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${this.url}/ping`)
        if (res.ok) return
      } catch {
        // not listening yet
      }
      if (this.#child.exitCode !== null) break
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`clickhouse-server did not start: ${stderr}`)
  }

  async stop(): Promise<void> {
    const child = this.#child
    if (!child || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  async dispose(): Promise<void> {
    await this.stop()
    rmSync(this.dir, { recursive: true, force: true })
  }

  /** `SELECT version()` through the command line client, to name the server in test output. */
  static version(): string {
    const out = spawnSync(CLICKHOUSE_BIN, ['--version'], { encoding: 'utf8' })
    return (out.stdout || out.stderr || '').trim()
  }

  async #writeConfig(): Promise<void> {
    this.httpPort = await freePort()
    const tcpPort = await freePort()
    for (const sub of ['data', 'tmp', 'user_files', 'format_schemas'])
      mkdirSync(join(this.dir, sub))
    writeFileSync(
      join(this.dir, 'config.xml'),
      `<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>${this.httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${this.dir}/data/</path>
  <tmp_path>${this.dir}/tmp/</tmp_path>
  <user_files_path>${this.dir}/user_files/</user_files_path>
  <format_schema_path>${this.dir}/format_schemas/</format_schema_path>
  <users_config>${this.dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
`,
    )
    writeFileSync(
      join(this.dir, 'users.xml'),
      `<yandex>
  <profiles><default></default></profiles>
  <users>
    <${CLICKHOUSE_USER}>
      <password>${CLICKHOUSE_PASSWORD}</password>
      <networks><ip>::/0</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </${CLICKHOUSE_USER}>
  </users>
  <quotas><default></default></quotas>
</yandex>
`,
    )
  }
}
