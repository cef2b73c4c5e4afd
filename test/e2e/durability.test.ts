import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { ServicesResponse } from '@kiln/wire'
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

function startServerProcess(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER_CLI], {
      env: { ...process.env, KILN_DATA_DIR: dataDir, KILN_PORT: '0', KILN_LOG_LEVEL: 'info' },
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

describe('durability', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-kill-'))
  let current: ChildProcess | undefined
  afterAll(() => {
    current?.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('keeps every acknowledged profile when the server is killed mid-load', async () => {
    const first = await startServerProcess(dataDir)
    current = first.child
    const acked: number[] = []
    let sent = 0
    const from = Math.floor(Date.now() / 1000) - 60
    // Four concurrent senders, each profile its own service so it can be found again.
    const sender = async () => {
      for (;;) {
        const i = sent++
        try {
          const res = await fetch(`${first.url}/ingest?name=kill-${i}&from=${from}&format=pprof`, {
            method: 'POST',
            body: new Uint8Array(profileBody(i + 1)),
            headers: { 'content-type': 'application/octet-stream' },
          })
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

    const second = await startServerProcess(dataDir)
    current = second.child
    const res = await fetch(`${second.url}/api/v1/services`)
    const stored = new Set(((await res.json()) as ServicesResponse).services.map((s) => s.name))
    const missing = acked.filter((i) => !stored.has(`kill-${i}`))
    expect(missing).toEqual([])
    second.child.kill('SIGTERM')
  })
})
