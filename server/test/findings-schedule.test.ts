import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FindingsResponse } from '@kiln/wire'
import { buildAppWith } from './fixtures/hooks-app.js'
import { ingestUploads, type Upload } from './helpers/query-fixture.js'

const MINUTE = 60_000
const INTERVAL_MS = 200

describe('the detectors on their schedule', () => {
  let app: FastifyInstance
  let dataDir: string
  const M = Math.floor(Date.now() / MINUTE) * MINUTE

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-schedule-'))
    app = await buildAppWith(
      { dataDir, logLevel: 'silent', insertBatchWaitMs: 1 },
      { detectorIntervalMs: INTERVAL_MS, regressionLookbackMs: 60 * MINUTE },
    )
    await app.ready()
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('finds a regression without being asked, and stops with the server', async () => {
    const uploads: Upload[] = [
      { version: '1', at: M - 30 * MINUTE, slow: 10 },
      { version: '2', at: M - 10 * MINUTE, slow: 90 },
    ].flatMap(({ version, at, slow }) =>
      [0, 1, 2].map((k) => ({
        service: 'cron',
        at: at + k * MINUTE,
        labels: { service_version: version },
        sampleType: ['cpu', 'nanoseconds'] as [string, string],
        samples: [
          { stack: ['main@m.js', 'work@w.js'], value: 90 },
          { stack: ['main@m.js', 'slow@s.js'], value: slow },
        ],
      })),
    )
    await ingestUploads(app, uploads)

    const deadline = Date.now() + 20_000
    let findings: FindingsResponse['findings'] = []
    while (findings.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS))
      const res = await app.inject({ url: `/api/v1/findings?service=cron&from=${M - 60 * MINUTE}` })
      findings = res.json<FindingsResponse>().findings
    }
    expect(findings).toMatchObject([
      { kind: 'cpu_regression', version: '2', functions: [{ name: 'slow' }] },
    ])

    // Closing waits for a run under way and clears the timer: it returns promptly.
    const started = Date.now()
    await app.close()
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(app.findings.busy).toBe(false)
  })
})
