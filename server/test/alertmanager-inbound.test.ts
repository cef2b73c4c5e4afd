import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AlertsResponse, DiffResponse } from '@kiln/wire'
import { buildAppWith } from './fixtures/hooks-app.js'
import {
  ALERTMANAGER_BIN,
  JsonReceiver,
  TestAlertmanager,
  eventually,
} from './helpers/alertmanager.js'
import { ingestUploads, type Upload } from './helpers/query-fixture.js'

/*
 * Alerts fired through a real Alertmanager (Debian's prometheus-alertmanager) reach Kiln's hook,
 * and the chat notification it sends carries the link of deploy/alertmanager/kiln.tmpl, which
 * opens the alert's profiles. The template and the example configuration are the ones the docs
 * ship, with this test's URLs put in.
 */

const MINUTE = 60_000
const TOKEN = 'am-ingest-token'
const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/alertmanager/', import.meta.url))
const AMTOOL = join(dirname(ALERTMANAGER_BIN), 'amtool')

/** What Alertmanager's slack_configs POSTs (the part read here). */
interface SlackMessage {
  attachments: { title: string; text: string }[]
}

describe('alerts through a real Alertmanager into Kiln, and its link in the notification', () => {
  let app: FastifyInstance
  let am: TestAlertmanager
  let dataDir: string
  let kilnUrl: string
  /** A chat webhook: Alertmanager's Slack messages. */
  const chat = new JsonReceiver<SlackMessage>()
  const M = Math.floor(Date.now() / MINUTE) * MINUTE
  /** `checkout`, two pods, a profile a minute each for 30 minutes; pod b does 4x the work. */
  const uploads: Upload[] = Array.from(
    { length: 30 },
    (_, k) => M - (30 - k) * MINUTE + 2000,
  ).flatMap((at) =>
    (['checkout-a', 'checkout-b'] as const).map((pod) => ({
      service: 'checkout',
      at,
      labels: { pod },
      sampleType: ['cpu', 'nanoseconds'] as [string, string],
      samples: [{ stack: ['main', 'pay'], value: pod === 'checkout-b' ? 40 : 10 }],
    })),
  )
  const podTotal = (pod: string, from: number, to: number): number =>
    uploads
      .filter((u) => u.labels.pod === pod && u.at >= from && u.at < to)
      .reduce((s, u) => s + u.samples[0]!.value, 0)

  /** The shipped example configuration, pointed at this test's Kiln and chat. */
  const config = (): string =>
    readFileSync(join(DEPLOY_DIR, 'alertmanager.yml'), 'utf8')
      .replace(
        'https://kiln.example.org/api/v1/hooks/alertmanager',
        `${kilnUrl}/api/v1/hooks/alertmanager`,
      )
      .replace('credentials_file: /etc/alertmanager/kiln-ingest-token', `credentials: ${TOKEN}`)
      .replace(
        'api_url_file: /etc/alertmanager/slack-webhook-url',
        `api_url: ${chat.url('/slack')}`,
      )
      .replace(
        "group_by: ['alertname', 'service']",
        "group_by: ['...']\n  group_wait: 0s\n  group_interval: 1s",
      )

  beforeAll(async () => {
    await chat.listen()
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-am-inbound-'))
    app = await buildAppWith(
      { dataDir, logLevel: 'silent', insertBatchWaitMs: 1, authTokens: TOKEN },
      { publicUrl: 'https://kiln.example.org', detectorIntervalMs: 0 },
    )
    kilnUrl = await app.listen({ port: 0, host: '127.0.0.1' })
    await ingestUploads(app, uploads, { authorization: `Bearer ${TOKEN}` })
    const template = readFileSync(join(DEPLOY_DIR, 'kiln.tmpl'), 'utf8').replace(
      'https://kiln.example.org',
      kilnUrl,
    )
    am = await TestAlertmanager.start(config(), { 'kiln.tmpl': template })
  })
  afterAll(async () => {
    await am?.stop()
    await app?.close()
    await chat.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('ships an example configuration that amtool accepts', () => {
    const out = execFileSync(AMTOOL, ['check-config', join(DEPLOY_DIR, 'alertmanager.yml')], {
      encoding: 'utf8',
    })
    expect(out).toContain('SUCCESS')
  })

  it("stores the alert fired through Alertmanager's API, and the chat link opens its profiles", async () => {
    const startsAt = new Date(M - 12 * MINUTE).toISOString()
    const alert = {
      labels: {
        alertname: 'CheckoutLatencyHigh',
        service: 'checkout',
        pod: 'checkout-b',
        severity: 'page',
      },
      annotations: { summary: 'p99 above 500 ms' },
      startsAt,
    }
    const fire = await fetch(`${am.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([alert]),
    })
    expect(fire.status).toBe(200)

    // Kiln's hook got it, mapped to checkout and pod b.
    const stored = await eventually('the alert in Kiln', async () => {
      const res = await app.inject({
        url: `/api/v1/alerts?service=checkout&from=${M - 20 * MINUTE}`,
      })
      return res.json<AlertsResponse>().alerts.find((a) => a.name === 'CheckoutLatencyHigh')
    })
    expect(stored).toMatchObject({
      source: 'alertmanager',
      status: 'firing',
      startsAt: M - 12 * MINUTE,
      selector: '{pod="checkout-b"}',
      mapping: { rule: 'service', warning: '' },
    })

    // The chat message carries the template's link; followed with HTTP it opens pod b's profiles.
    const text = await eventually('the chat message', () => chat.received[0]?.attachments[0]?.text)
    expect(text).toContain('*CheckoutLatencyHigh* p99 above 500 ms')
    const link = /<([^|>]+)\|Profiles in Kiln>/.exec(text)?.[1]
    expect(link?.startsWith(`${kilnUrl}/open?start=${M - 12 * MINUTE}&label.alertname=`)).toBe(true)
    const redirect = await fetch(link!, { redirect: 'manual' })
    expect(redirect.status).toBe(302)
    const view = new URL(redirect.headers.get('location')!, kilnUrl)
    expect(view.searchParams.get('view')).toBe('diff')
    expect(view.searchParams.get('compQuery')).toBe('{pod="checkout-b"}')
    const page = await fetch(view)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<div id="root">')

    view.searchParams.delete('view')
    const diff = (await (
      await fetch(`${kilnUrl}/api/v1/diff${view.search}`)
    ).json()) as DiffResponse
    const { comparison, baseline } = diff
    expect(comparison.from).toBe(M - 12 * MINUTE)
    expect(comparison.total).toBe(podTotal('checkout-b', comparison.from, comparison.to))
    expect(baseline.total).toBe(podTotal('checkout-b', baseline.from, baseline.to))
    expect(comparison.total).toBeGreaterThan(0)

    // Resolved through Alertmanager: Kiln's alert is resolved with its end.
    const endsAt = new Date(M - 2 * MINUTE).toISOString()
    await fetch(`${am.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ ...alert, endsAt }]),
    })
    const resolved = await eventually('the resolution in Kiln', async () => {
      const res = await app.inject({
        url: `/api/v1/alerts?service=checkout&from=${M - 20 * MINUTE}`,
      })
      return res
        .json<AlertsResponse>()
        .alerts.find((a) => a.id === stored.id && a.status === 'resolved')
    })
    expect(resolved).toMatchObject({ endsAt: M - 2 * MINUTE, window: { to: M - 2 * MINUTE } })
  })
})
