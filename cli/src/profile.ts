import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { flamegraphUiLink, type TopResponse } from '@kiln/wire'
import { UsageError, client, limitOf, parse, print } from './args.js'
import { formatValue, percent, table, type Unit } from './format.js'

/** The label that names one `kiln profile` run, so its flame graph holds nothing else. */
export const RUN_LABEL = 'kiln_run'
/** How long the run's last upload may take to be queryable after the command exits. */
const ARRIVAL_TIMEOUT_MS = 15_000

/** `node bench.js` → `bench`; a name the agent accepts for a service. */
function serviceName(command: string[]): string {
  const script = command.slice(1).find((arg) => !arg.startsWith('-')) ?? command[0] ?? 'run'
  const name = basename(script)
    .replace(/\.[cm]?[jt]s$/, '')
    .replace(/[^A-Za-z0-9._\-/:]/g, '-')
  return /^[A-Za-z0-9]/.test(name) ? name : `run-${name}`
}

/**
 * `kiln profile [options] -- CMD...`: run CMD with Kiln's agent attached (`--import` through
 * NODE_OPTIONS, so any Node process it starts is profiled too), collecting all the time at
 * `--interval-micros`, against `--server` or else an embedded server in a temporary directory;
 * then print the run's top functions and its flame graph's URL. Every sample carries the label
 * `kiln_run=<id>`, so the run is told apart from other runs of the same service. Returns the
 * command's exit code (1 when a signal ended it), or 2 when no profile arrived.
 */
export async function profileCommand(argv: string[]): Promise<number> {
  const split = argv.indexOf('--')
  if (split < 0 || split === argv.length - 1) {
    throw new UsageError('give the command to profile after --, e.g. kiln profile -- node bench.js')
  }
  const command = argv.slice(split + 1)
  const values = parse(argv.slice(0, split), {
    out: { type: 'string', short: 'o' },
    serve: { type: 'boolean' },
    'interval-micros': { type: 'string' },
  })
  const interval = values['interval-micros'] ?? '10000'
  if (!/^\d+$/.test(interval) || Number(interval) < 100) {
    throw new UsageError(
      `--interval-micros ${interval}: a whole number of microseconds, 100 or more`,
    )
  }
  const limit = limitOf(values.limit)
  const type = values.type ?? 'cpu'
  const service = values.service ?? serviceName(command)
  const run = randomBytes(6).toString('hex')
  const remote = values.server ?? process.env.KILN_SERVER_URL

  let embedded: { url: string; close(): Promise<void>; dataDir: string } | undefined
  if (remote === undefined) {
    const { startServer } = await import('@kiln/server')
    const dataDir = mkdtempSync(join(tmpdir(), 'kiln-profile-'))
    const server = await startServer({ port: 0, dataDir, logLevel: 'warn' })
    embedded = { url: server.url, close: () => server.close(), dataDir }
  }
  const serverUrl = remote ?? embedded!.url
  const api = client({ ...values, server: serverUrl })

  try {
    const register = fileURLToPath(import.meta.resolve('@kiln/agent/register'))
    const labels = [process.env.KILN_LABELS, `${RUN_LABEL}=${run}`].filter(Boolean).join(',')
    const started = Date.now()
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve, reject) => {
        const child = spawn(command[0]!, command.slice(1), {
          stdio: 'inherit',
          env: {
            ...process.env,
            NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${register}`]
              .filter(Boolean)
              .join(' '),
            KILN_SERVER_URL: serverUrl,
            KILN_SERVICE: service,
            KILN_LABELS: labels,
            KILN_SCHEDULE: 'always',
            KILN_SAMPLING_INTERVAL_MICROS: interval,
            // A benchmark wants a fixed rate, not one the agent lowers to stay under 1 %.
            KILN_OVERHEAD_BUDGET_PERCENT: '100',
            ...(values.token ? { KILN_TOKEN: values.token } : {}),
            ...(values.tenant ? { KILN_TENANT: values.tenant } : {}),
          },
        })
        child.once('error', (error) =>
          reject(new UsageError(`cannot run ${command[0]}: ${error.message}`)),
        )
        child.once('exit', (code, signal) => resolve({ code, signal }))
      },
    )
    const window = { from: started - 1000, to: Date.now() + 1000 }
    const query = `{${RUN_LABEL}="${run}"}`
    // The agent uploads its last profile as the process exits and the server answers once it is
    // stored: it is there at once, or (a slow store, a remote server) within a few seconds.
    let res: TopResponse | undefined
    const deadline = Date.now() + ARRIVAL_TIMEOUT_MS
    while (Date.now() < deadline) {
      res = await api.top({ service, type, ...window, query, limit })
      if (res.total > 0) break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    const status = exit.code ?? 1
    if (res === undefined || res.total === 0) {
      process.stderr.write(
        `kiln profile: no ${type} samples of the run arrived (a command shorter than the sampling interval, one that exits with process.exit() before the agent uploads, or a server refusing the agent's uploads)\n`,
      )
      return status !== 0 ? status : 2
    }
    const unit = res.unit as Unit
    print(
      `\n${command.join(' ')}: ${type} ${formatValue(res.total, unit)} over ${((window.to - window.from - 2000) / 1000).toFixed(1)} s` +
        `${exit.signal ? ` (ended by ${exit.signal})` : exit.code !== 0 ? ` (exit code ${exit.code})` : ''}`,
    )
    print(
      table(
        ['self', '', 'total', 'function', 'file'],
        res.functions.map((f) => [
          formatValue(f.self, unit),
          percent(f.self, res.total),
          percent(f.total, res.total),
          f.name,
          f.file ? `${f.file}${f.line ? `:${f.line}` : ''}` : '',
        ]),
        new Set([0, 1, 2]),
      ),
    )
    if (values.out !== undefined) {
      const exported = await api.exportPprof({ service, type, ...window, query })
      writeFileSync(values.out, exported.bytes)
      print(`profile: ${values.out}`)
    }
    const link = flamegraphUiLink(serverUrl, { service, type, ...window, query })
    if (embedded === undefined || values.serve) print(`flame graph: ${link}`)
    else print('flame graph: run with --serve (or --server URL) to keep it browsable')
    if (embedded !== undefined && values.serve) {
      print('serving; Ctrl-C stops')
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()))
    }
    return status
  } finally {
    if (embedded !== undefined) {
      await embedded.close()
      rmSync(embedded.dataDir, { recursive: true, force: true })
    }
  }
}
