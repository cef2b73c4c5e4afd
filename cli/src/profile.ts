import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { constants, tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { flamegraphUiLink, type TopResponse } from '@kiln/wire'
import { UsageError, client, env, limitOf, parse, print, writeOutput } from './args.js'
import { formatValue, percent, table, type Unit } from './format.js'

/** The label that names one `kiln profile` run, so its flame graph holds nothing else. */
export const RUN_LABEL = 'kiln_run'
/** How long the run's last upload may take to be queryable after the command exits. */
const ARRIVAL_TIMEOUT_MS = 15_000
/**
 * Signals passed on to the command while it runs, as npm passes them to a script: a CI runner
 * cancelling the job signals `kiln` alone. (Ctrl-C in a terminal reaches both: the command
 * sees SIGINT twice, which ends a Node process as once.)
 */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/** A shell's exit status for a process ended by a signal: 128 + its number (SIGINT: 130). */
export function signalStatus(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0)
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        resolve()
      },
      { once: true },
    )
  })

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
 * command's exit code (128 + the signal's number when a signal ended it, as a shell does), or 2
 * when no profile arrived. SIGINT, SIGTERM and SIGHUP go to the command while it runs; once it
 * has ended they stop the wait for its profile (or `--serve`), and the embedded server and its
 * directory are removed either way.
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
  const remote = values.server ?? env('KILN_SERVER_URL')

  let child: ChildProcess | undefined
  let interrupted: NodeJS.Signals | undefined
  const stop = new AbortController()
  const onSignal = (signal: NodeJS.Signals) => {
    if (child !== undefined) {
      child.kill(signal)
      return
    }
    interrupted ??= signal
    stop.abort()
  }
  for (const signal of FORWARDED) process.on(signal, onSignal)

  let dataDir: string | undefined
  let embedded: { url: string; close(): Promise<void> } | undefined
  try {
    if (remote === undefined) {
      const { startServer } = await import('@kiln/server')
      dataDir = mkdtempSync(join(tmpdir(), 'kiln-profile-'))
      embedded = await startServer({ port: 0, dataDir, logLevel: 'warn' })
    }
    const serverUrl = remote ?? embedded!.url
    const api = client({ ...values, server: serverUrl })
    // An unreachable server or a refused token, said before a long benchmark rather than after.
    if (remote !== undefined) {
      try {
        await api.services(stop.signal)
      } catch (error) {
        if (!stop.signal.aborted) throw error
      }
    }
    if (interrupted !== undefined) return signalStatus(interrupted)

    const register = fileURLToPath(import.meta.resolve('@kiln/agent/register'))
    const labels = [process.env.KILN_LABELS, `${RUN_LABEL}=${run}`].filter(Boolean).join(',')
    const started = Date.now()
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve, reject) => {
        child = spawn(command[0]!, command.slice(1), {
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
        child.once('error', (error) => {
          child = undefined
          reject(new UsageError(`cannot run ${command[0]}: ${error.message}`))
        })
        child.once('exit', (code, signal) => {
          child = undefined
          resolve({ code, signal })
        })
      },
    )
    const status = exit.signal !== null ? signalStatus(exit.signal) : (exit.code ?? 1)
    const window = { from: started - 1000, to: Date.now() + 1000 }
    const query = `{${RUN_LABEL}="${run}"}`
    // The agent uploads its last profile as the process exits and the server answers once it is
    // stored: it is there at once, or (a slow store, a remote server) within a few seconds. A
    // process ended by a signal made no last upload: what it uploaded before is all there is.
    let res: TopResponse | undefined
    const deadline = exit.signal !== null ? Date.now() : Date.now() + ARRIVAL_TIMEOUT_MS
    do {
      try {
        res = await api.top({ service, type, ...window, query, limit }, stop.signal)
      } catch (error) {
        if (stop.signal.aborted) break
        throw error
      }
      if (res.total > 0 || stop.signal.aborted) break
      await sleep(250, stop.signal)
    } while (Date.now() < deadline && !stop.signal.aborted)
    if (interrupted !== undefined) {
      process.stderr.write(
        `kiln profile: stopped by ${interrupted} while waiting for the run's profile\n`,
      )
      return signalStatus(interrupted)
    }
    if (res === undefined || res.total === 0) {
      process.stderr.write(
        exit.signal !== null
          ? `kiln profile: the command was ended by ${exit.signal} before the agent's last upload; no ${type} samples of the run arrived\n`
          : `kiln profile: no ${type} samples of the run arrived (a command shorter than the sampling interval, one that exits with process.exit() before the agent uploads, or a server refusing the agent's uploads)\n`,
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
      writeOutput(values.out, exported.bytes)
      print(`profile: ${values.out}`)
    }
    const link = flamegraphUiLink(serverUrl, { service, type, ...window, query })
    if (embedded === undefined || values.serve) print(`flame graph: ${link}`)
    else print('flame graph: run with --serve (or --server URL) to keep it browsable')
    if (embedded !== undefined && values.serve) {
      print('serving; Ctrl-C stops')
      await new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }))
    }
    return status
  } finally {
    for (const signal of FORWARDED) process.off(signal, onSignal)
    await embedded?.close()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
  }
}
