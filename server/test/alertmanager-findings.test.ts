import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Finding } from '@kiln/wire'
import { buildAppWith } from './fixtures/hooks-app.js'
import { JsonReceiver, TestAlertmanager, eventually } from './helpers/alertmanager.js'
import { ingestUploads, type Upload } from './helpers/query-fixture.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const PUBLIC_URL = 'http://kiln.test:4040'
const LOOKBACK_MS = 3 * HOUR

/** One alert of Alertmanager's webhook notification (its `version: "4"` body). */
interface NotifiedAlert {
  status: 'firing' | 'resolved'
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  endsAt: string
  generatorURL: string
}
interface Notification {
  status: 'firing' | 'resolved'
  receiver: string
  alerts: NotifiedAlert[]
}

/**
 * Every alert in a group of its own, notified at once (group_wait 0s) and on each change a
 * second later (group_interval 1s); an unchanged alert is not notified again within the hour.
 */
const alertmanagerConfig = (receiverUrl: string): string => `route:
  receiver: kiln-test
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: kiln-test
    webhook_configs:
      - url: ${receiverUrl}
        send_resolved: true
`

describe("Kiln's findings as alerts of a real Alertmanager", () => {
  let app: FastifyInstance
  let am: TestAlertmanager
  let dataDir: string
  const receiver = new JsonReceiver<Notification>()
  /** The alerts notified so far in this state. */
  const notified = (status: NotifiedAlert['status']): NotifiedAlert[] =>
    receiver.received.flatMap((n) => n.alerts).filter((a) => a.status === status)
  const M = Math.floor(Date.now() / MINUTE) * MINUTE

  beforeAll(async () => {
    await receiver.listen()
    am = await TestAlertmanager.start(alertmanagerConfig(receiver.url('/alertmanager')))
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-am-findings-'))
    app = await buildAppWith(
      { dataDir, logLevel: 'silent', insertBatchWaitMs: 1 },
      {
        publicUrl: PUBLIC_URL,
        alertmanagerUrl: am.url,
        webhookTimeoutMs: 2000,
        webhookRetries: 1,
        detectorIntervalMs: 0,
        regressionLookbackMs: LOOKBACK_MS,
        regressionThreshold: 0.05,
      },
    )
    await app.ready()
  })
  afterAll(async () => {
    await app?.close()
    await am?.stop()
    await receiver.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  /** Three CPU profiles a minute apart per version; `hot` costs twice as much in version 2. */
  const uploads: Upload[] = [
    { version: '1.0.0', at: M - 50 * MINUTE, hot: 100 },
    { version: '2.0.0', at: M - 20 * MINUTE, hot: 200 },
  ].flatMap(({ version, at, hot }) =>
    [0, 1, 2].map((k) => ({
      service: 'shop',
      at: at + k * MINUTE,
      labels: { service_version: version, instance: 'a' },
      sampleType: ['cpu', 'nanoseconds'] as [string, string],
      samples: [
        { stack: ['main@app.js', 'handle@app.js', 'render@view.js'], value: 300 },
        { stack: ['main@app.js', 'handle@app.js', 'hot@hot.js'], value: hot },
      ],
    })),
  )

  const listed = async (): Promise<NotifiedAlert[]> => {
    const res = await fetch(`${am.url}/api/v2/alerts`)
    expect(res.status).toBe(200)
    return (await res.json()) as NotifiedAlert[]
  }

  it('fires an alert with the finding and its links, and resolves it once it no longer holds', async () => {
    await ingestUploads(app, uploads)
    const found = await app.findings.run()
    expect(found.map((f) => f.kind)).toEqual(['cpu_regression'])
    const finding: Finding = found[0]!

    const labels = {
      alertname: 'KilnCpuRegression',
      severity: 'warning',
      service: 'shop',
      kind: 'cpu_regression',
      profile_type: 'cpu',
      version: '2.0.0',
      function: 'hot',
    }
    const fired = await eventually('the firing notification', () => notified('firing')[0])
    expect(fired.labels).toEqual(labels)
    expect(fired.annotations).toMatchObject({
      summary: finding.title,
      kiln_diff_url: finding.links.diff,
      kiln_flamegraph_url: finding.links.flamegraph,
      kiln_finding_id: finding.id,
    })
    expect(fired.annotations.description).toContain('hot (hot.js)')
    expect(fired.generatorURL).toBe(finding.links.diff)
    expect(new Date(fired.startsAt).getTime()).toBe(finding.time)

    const [active] = await listed()
    expect(active).toMatchObject({ labels, status: { state: 'active' } })

    // Found again by the next run: not a new finding, the same alert, still firing.
    expect(await app.findings.run()).toEqual([])
    const after = await listed()
    expect(after).toHaveLength(1)
    expect(after[0]).toMatchObject({ labels, status: { state: 'active' } })

    // Hours later the versions are out of the lookback: the regression no longer holds.
    await app.findings.run({ now: Date.now() + LOOKBACK_MS + HOUR })
    const resolved = await eventually('the resolved notification', () => notified('resolved')[0])
    expect(resolved.labels).toEqual(labels)
    expect(resolved.annotations.kiln_diff_url).toBe(finding.links.diff)
    expect(await listed()).toEqual([])
    // The refresh of the second run changed nothing to notify.
    expect(notified('firing')).toHaveLength(1)
  })
})
