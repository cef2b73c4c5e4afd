// What both orchestrators (run.mjs, paired.mjs) do the same way: where processes run, how a
// service process is started and waited for, and how one load slice is run and read back.
import { execFileSync, spawn } from 'node:child_process'
import { createServer, request } from 'node:http'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SCHEDULE_PATH } from '@kiln/wire'

const here = fileURLToPath(new URL('.', import.meta.url))
export const benchDir = fileURLToPath(new URL('..', import.meta.url))

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------
// Where things run. On a 2-core machine the loaded service gets CPU 1 (with every thread it has:
// V8's GC and profiler threads, libuv's pool where both agents gzip), and the load generator,
// the orchestrator, the Kiln server (chDB) and idle services share CPU 0. An agent's background
// work then costs the service's own CPU, as in a container limited to one core.
// ---------------------------------------------------------------------------------------------
export const SERVICE_CPU = '1'
export const OTHER_CPU = '0'

/** Whether processes can be pinned here: two cores or more, and `taskset`. */
export function canPin() {
  if (cpus().length < 2) return false
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** A function that moves a process, every thread of it, to a CPU; a no-op when `enabled` is false. */
export function pinner(enabled) {
  return (pid, cpu) => {
    if (enabled) execFileSync('taskset', ['-a', '-p', '-c', cpu, String(pid)], { stdio: 'ignore' })
  }
}

/** The environment without any agent's settings: each variant adds its own. */
export function agentFreeEnv() {
  const env = { ...process.env, NODE_ENV: 'production' }
  for (const key of Object.keys(env)) {
    if (key.startsWith('KILN_') || key.startsWith('PYROSCOPE_')) delete env[key]
  }
  return env
}

export function collectOutput(child) {
  const out = { stdout: '', stderr: '' }
  child.stdout.setEncoding('utf8').on('data', (s) => (out.stdout += s))
  child.stderr.setEncoding('utf8').on('data', (s) => (out.stderr += s))
  return out
}

export function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode)
    else child.once('exit', (code) => resolve(code))
  })
}

/**
 * Wait for a started service.mjs to print `{"port": N}`; its URL, or it is killed and the
 * error carries its stderr.
 */
export async function serviceUrl(child, output, what) {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const line = output.stdout.split('\n').find((l) => l.startsWith('{"port"'))
    if (line) return `http://127.0.0.1:${JSON.parse(line).port}`
    if (child.exitCode !== null) break
    await sleep(50)
  }
  child.kill('SIGKILL')
  throw new Error(`service ${what} did not start:\n${output.stderr}`)
}

/**
 * Run load.mjs once against a service (its options: url, pid, connections, warmupSec,
 * phases, serviceCpu) in its own process on CPU 0; its phases by name.
 */
export async function runLoad(options, pin) {
  const load = spawn(process.execPath, [join(here, 'load.mjs'), JSON.stringify(options)], {
    cwd: benchDir,
  })
  pin(load.pid, OTHER_CPU)
  const output = collectOutput(load)
  const code = await exited(load)
  if (code !== 0) throw new Error(`load generator failed (${code}):\n${output.stderr}`)
  const result = JSON.parse(output.stdout.trim().split('\n').pop())
  return Object.fromEntries(result.phases.map((p) => [p.phase, p]))
}

/**
 * A recording proxy in front of a Kiln server: agents send to it, it forwards everything and
 * notes what passed. Uploads (`/ingest`) go to `uploads`: the service (the `name` parameter
 * without its `{labels}`), the profile's `from`/`until` as sent (Kiln sends ms, Pyroscope
 * seconds), the status Kiln answered and Kiln's `x-kiln-agent-stats`. Schedule check-ins
 * (`POST /api/v1/schedule`, no `name` parameter) go to `checkins` with the plan Kiln answered:
 * they are not uploads.
 */
export async function startRecordingProxy(targetUrl) {
  const uploads = []
  const checkins = []
  const server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const url = new URL(req.url, 'http://x')
      const isCheckin = url.pathname === SCHEDULE_PATH
      const record = (fields) => {
        if (isCheckin) {
          let asked = {}
          try {
            asked = JSON.parse(body.toString('utf8'))
          } catch {
            // recorded as it was: the status says what Kiln made of it
          }
          checkins.push({
            at: Date.now(),
            service: asked.service,
            instance: asked.instance,
            ...fields,
          })
          return
        }
        const query = url.searchParams
        uploads.push({
          at: Date.now(),
          path: url.pathname,
          service: (query.get('name') ?? '').split('{')[0],
          from: Number(query.get('from')),
          until: Number(query.get('until')),
          spyName: query.get('spyName'),
          bytes: body.length,
          ...fields,
        })
      }
      const upstream = request(
        new URL(req.url, targetUrl),
        { method: req.method, headers: req.headers },
        (up) => {
          const answer = []
          up.on('data', (c) => answer.push(c))
          up.on('end', () => {
            const text = Buffer.concat(answer).toString('utf8')
            const ok = up.statusCode >= 200 && up.statusCode < 300
            const stats = req.headers['x-kiln-agent-stats']
            let plan
            if (isCheckin && ok) {
              const { windowMs, period, slot, instances } = JSON.parse(text)
              plan = { windowMs, period, slot, instances }
            }
            record({
              status: up.statusCode,
              ...(ok ? {} : { response: text.slice(0, 500) }),
              ...(plan ? { plan } : {}),
              ...(stats ? { agentStats: JSON.parse(stats) } : {}),
            })
            res.writeHead(up.statusCode, up.headers)
            res.end(text)
          })
        },
      )
      upstream.on('error', (error) => {
        record({ error: String(error) })
        res.writeHead(502).end()
      })
      upstream.end(body)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    uploads,
    checkins,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
