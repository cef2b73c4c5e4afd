import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { UPLOAD_ID_HEADER, type FlamegraphResponse, type ServicesResponse } from '@kiln/wire'
// The same builder the server's tests use: real pprof through pprof-format's encoder.
import { encodeProfile } from '../../server/test/helpers/pprof-builder.js'

const require = createRequire(import.meta.url)
const SERVER_CLI = join(require.resolve('@kiln/server'), '../cli.js')

/** A one-sample CPU profile whose value identifies it. */
function profileBody(value: number): Buffer {
  return encodeProfile({
    sampleTypes: [['cpu', 'nanoseconds']],
    samples: [{ stack: ['work'], values: [value] }],
  })
}

function startServerProcess(
  dataDir: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER_CLI], {
      env: {
        ...process.env,
        ...env,
        KILN_DATA_DIR: dataDir,
        KILN_PORT: '0',
        KILN_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /Kiln listening on (http:\/\/[\d.:]+)/.exec(out)
      if (match) resolve({ child, url: match[1]! })
    })
    child.on('exit', (code) => reject(new Error(`server exited early (${code}): ${out}`)))
  })
}

// Acknowledged after the insert (the default), and after the ingest log's write with the inserts
// behind it (KILN_INGEST_LOG): killed, the log's uploads are replayed at the next start, the
// ones it had inserted already found stored and not written again.
describe.each<{ mode: string; env: Record<string, string> }>([
  { mode: 'acknowledged after the insert', env: {} },
  {
    mode: 'acknowledged on the ingest log',
    env: { KILN_INGEST_LOG: 'true', KILN_INGEST_LOG_FLUSH_MS: '300' },
  },
])('durability, $mode', ({ env }) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-kill-'))
  let current: ChildProcess | undefined
  afterAll(() => {
    current?.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('keeps every acknowledged profile when the server is killed mid-load, and stores each once after retries', async () => {
    const first = await startServerProcess(dataDir, env)
    current = first.child
    const acked: number[] = []
    let sent = 0
    const from = Math.floor(Date.now() / 1000) - 60
    // Half the profiles carry an upload id (Kiln's agent), half are known by their content
    // (a Pyroscope client): both must be recognised when re-sent.
    const upload = (url: string, i: number) =>
      fetch(`${url}/ingest?name=kill-${i}&from=${from}&format=pprof`, {
        method: 'POST',
        body: new Uint8Array(profileBody(i + 1)),
        headers: {
          'content-type': 'application/octet-stream',
          ...(i % 2 === 0 ? { [UPLOAD_ID_HEADER]: `kill-upload-${i}` } : {}),
        },
      })
    // Four concurrent senders, each profile its own service so it can be found again.
    const sender = async () => {
      for (;;) {
        const i = sent++
        try {
          const res = await upload(first.url, i)
          if (res.status === 200) acked.push(i)
        } catch {
          return // the server is gone
        }
      }
    }
    const senders = Promise.all([sender(), sender(), sender(), sender()])
    while (acked.length < 40) await new Promise((r) => setTimeout(r, 5))
    first.child.kill('SIGKILL')
    await senders
    expect(acked.length).toBeGreaterThanOrEqual(40)
    const logDir = join(dataDir, 'ingest-log')
    if (existsSync(logDir)) {
      const segments = readdirSync(logDir).filter((name) => name.endsWith('.log'))
      // Uploads acknowledged and not yet inserted were in the log at the kill.
      expect(segments.length).toBeGreaterThan(0)
      // A write cut short by the kill: part of a record at the end, never acknowledged.
      appendFileSync(join(logDir, segments.sort().at(-1)!), Buffer.from('KLG1\xff\xff'))
    }

    const second = await startServerProcess(dataDir, env)
    current = second.child
    const res = await fetch(`${second.url}/api/v1/services`)
    const stored = new Set(((await res.json()) as ServicesResponse).services.map((s) => s.name))
    const missing = acked.filter((i) => !stored.has(`kill-${i}`))
    expect(missing).toEqual([])

    // Every client retries what it sent, acknowledged or not (those in flight at the kill may
    // be stored without their answer), some twice: each profile is then stored exactly once.
    for (let i = 0; i < sent; i++) {
      for (let attempt = 0; attempt < (i % 3 === 0 ? 2 : 1); attempt++) {
        const retry = await upload(second.url, i)
        expect(retry.status, await retry.text()).toBe(200)
      }
    }
    const window = `type=cpu&from=${(from - 60) * 1000}&to=${Date.now() + 60_000}`
    const wrong: string[] = []
    for (let i = 0; i < sent; i++) {
      const graph = await fetch(`${second.url}/api/v1/flamegraph?service=kill-${i}&${window}`)
      const { total } = (await graph.json()) as FlamegraphResponse
      if (total !== i + 1) wrong.push(`kill-${i}: ${total}, sent ${i + 1}`)
    }
    expect(wrong).toEqual([])
    second.child.kill('SIGTERM')
  })
})
