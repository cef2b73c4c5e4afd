import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  AlertView,
  AlertsResponse,
  DiffResponse,
  FlamegraphResponse,
  HookResponse,
} from '@kiln/wire'
import { buildAppWith } from './fixtures/hooks-app.js'
import { encodeProfile } from './helpers/pprof-builder.js'

const TOKEN = 'hook-token'
const AUTH = { authorization: `Bearer ${TOKEN}` }
const PUBLIC_URL = 'https://kiln.example.org/'
const MINUTE = 60_000

const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T

interface WebhookPayload {
  alerts: { labels: Record<string, string>; startsAt: string; endsAt: string; status: string }[]
}

/** A time as Go's RFC 3339 (nanoseconds, +02:00), as Alertmanager writes it. */
function goTime(ms: number): string {
  const local = new Date(ms + 2 * 60 * MINUTE).toISOString().slice(0, 23) // ms precision
  return `${local}123456+02:00`
}

/** The parameters of a link, numbers as numbers. */
function linkParams(link: string): {
  origin: string
  path: string
  params: Record<string, string>
} {
  const url = new URL(link)
  return { origin: url.origin, path: url.pathname, params: Object.fromEntries(url.searchParams) }
}

describe('inbound alert hooks on the embedded store', () => {
  let app: FastifyInstance
  let dataDir: string

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-hooks-'))
    app = await buildAppWith(
      { dataDir, logLevel: 'silent', insertBatchWaitMs: 1, authTokens: TOKEN },
      {
        publicUrl: PUBLIC_URL,
        // `team` last: Grafana's documented example names its owner only there.
        alertServiceLabels: 'service,service_name,job,team',
      },
    )
    await app.ready()
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const post = async (hook: string, payload: unknown): Promise<HookResponse> => {
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/hooks/${hook}`,
      headers: AUTH,
      payload: payload as object,
    })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<HookResponse>()
  }
  const listAlerts = async (params: string): Promise<AlertView[]> => {
    const res = await app.inject({ url: `/api/v1/alerts?${params}` })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<AlertsResponse>().alerts
  }
  /** Follow an API link inside the app. */
  const open = async <T>(link: string): Promise<T> => {
    const url = new URL(link)
    expect(url.origin).toBe(new URL(PUBLIC_URL).origin)
    const res = await app.inject({ url: `${url.pathname}${url.search}` })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<T>()
  }

  /** The UI and API links of an alert name its window and the window of the same length before. */
  const expectLinksMatch = (alert: AlertView) => {
    const { from, to } = alert.window
    const base = { from: from - (to - from), to: from }
    expect(alert.baseline).toEqual(base)
    const flame = linkParams(alert.links!.flamegraph)
    expect(flame).toEqual({
      origin: 'https://kiln.example.org',
      path: '/',
      params: { service: alert.service, type: alert.type, from: String(from), to: String(to) },
    })
    const diffWindows = {
      service: alert.service,
      type: alert.type,
      baseFrom: String(base.from),
      baseTo: String(base.to),
      compFrom: String(from),
      compTo: String(to),
    }
    expect(linkParams(alert.links!.diff).params).toEqual({ view: 'diff', ...diffWindows })
    expect(linkParams(alert.links!.diffApi)).toMatchObject({
      path: '/api/v1/diff',
      params: diffWindows,
    })
  }

  it('refuses a hook without the token, like ingest', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/hooks/alertmanager',
      payload: fixture('alertmanager-webhook.json'),
    })
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'KILN_ERR_UNAUTHORIZED' })
  })

  it('stores Alertmanager alerts with their service and window, and links to a diff', async () => {
    const payload = fixture<WebhookPayload>('alertmanager-webhook.json')
    const before = Date.now()
    const answer = await post('alertmanager', payload)
    const after = Date.now()
    expect(answer.stored).toBe(2)
    expect(answer.rejected).toEqual([])

    // "2026-11-23T09:52:26.739266876+02:00": nanoseconds cut to ms, offset applied.
    const firingStart = Date.UTC(2026, 10, 23, 7, 52, 26, 739)
    const [firing, resolved] = answer.alerts
    expect(firing).toMatchObject({
      source: 'alertmanager',
      name: 'HighLatency',
      status: 'firing',
      service: 'checkout', // `service` wins over `job`
      type: 'cpu',
      startsAt: firingStart,
      endsAt: null, // "0001-01-01T00:00:00Z": still firing
      labels: payload.alerts[0]!.labels,
      annotations: {
        summary: 'p99 latency above 500ms',
        description: 'checkout p99 latency is 812ms',
      },
      generatorUrl: expect.stringContaining('http://prometheus.example.org:9090/graph'),
    })
    // A firing alert's window ends when it was received (now, when it is listed later). It
    // started days ago: its links look at the last hour, and at its first half hour apart.
    expect(firing!.window.to).toBeGreaterThanOrEqual(before)
    expect(firing!.window.to).toBeLessThanOrEqual(after)
    expect(firing!.window.from).toBe(firing!.window.to - 60 * MINUTE)
    expect(firing!.onset).toEqual({
      window: { from: firingStart, to: firingStart + 30 * MINUTE },
      baseline: { from: firingStart - 30 * MINUTE, to: firingStart },
    })
    expect(linkParams(firing!.onsetLinks!.diff).params).toMatchObject({
      compFrom: String(firingStart),
      compTo: String(firingStart + 30 * MINUTE),
    })

    const resolvedStart = Date.UTC(2026, 10, 23, 7, 40, 11, 500)
    const resolvedEnd = Date.UTC(2026, 10, 23, 8, 10, 11, 500)
    expect(resolved).toMatchObject({
      status: 'resolved',
      service: 'payments', // no `service` label: `job`
      startsAt: resolvedStart,
      endsAt: resolvedEnd,
      window: { from: resolvedStart, to: resolvedEnd },
      baseline: { from: resolvedStart - 30 * MINUTE, to: resolvedStart },
    })
    for (const alert of answer.alerts) expectLinksMatch(alert)

    // The diff link opens a diff of exactly those windows.
    const diff = await open<DiffResponse>(resolved!.links!.diffApi)
    expect(diff).toMatchObject({
      service: 'payments',
      type: 'cpu',
      baseline: { from: resolvedStart - 30 * MINUTE, to: resolvedStart },
      comparison: { from: resolvedStart, to: resolvedEnd },
    })

    // Stored as answered.
    const stored = await listAlerts(`from=${resolvedStart}&to=${after + 1}`)
    expect(stored.map((a) => a.id).sort()).toEqual(answer.alerts.map((a) => a.id).sort())
    for (const alert of answer.alerts) {
      const listed = stored.find((s) => s.id === alert.id)!
      // A firing alert listed later reaches the time of listing; all else is as answered.
      const timeless = (a: AlertView) => ({ ...a, window: null, baseline: null, links: null })
      expect(timeless(listed)).toEqual(timeless(alert))
      if (alert.status === 'resolved') expect(listed).toEqual(alert)
      else expect(listed.window.to).toBeGreaterThanOrEqual(alert.window.to)
    }
    expect(await listAlerts(`service=payments&from=${resolvedStart}&to=${after + 1}`)).toEqual([
      resolved,
    ])
  })

  it('replaces a firing alert with its resolution', async () => {
    const payload = fixture<WebhookPayload>('alertmanager-webhook.json')
    const firing = (await post('alertmanager', payload)).alerts[0]!
    const endsAt = Date.now() - MINUTE
    payload.alerts[0]!.status = 'resolved'
    payload.alerts[0]!.endsAt = new Date(endsAt).toISOString()
    const resolved = (await post('alertmanager', payload)).alerts[0]!
    expect(resolved.id).toBe(firing.id)
    expect(resolved).toMatchObject({ status: 'resolved', endsAt, window: { to: endsAt } })

    const stored = await listAlerts(`service=checkout&from=${firing.startsAt}&to=${Date.now()}`)
    expect(stored.filter((a) => a.id === firing.id)).toEqual([resolved])
  })

  it("maps Grafana's documented example by a configured label", async () => {
    const payload = fixture<WebhookPayload>('grafana-webhook.json')
    const answer = await post('grafana', payload)
    expect(answer.stored).toBe(2)
    // "2021-10-12T09:51:03.157076+02:00" and "2021-10-12T09:56:03.157076+02:00".
    const starts = [Date.UTC(2021, 9, 12, 7, 51, 3, 157), Date.UTC(2021, 9, 12, 7, 56, 3, 157)]
    expect(answer.alerts.map((a) => [a.source, a.name, a.service, a.startsAt, a.endsAt])).toEqual([
      ['grafana', 'High memory usage', 'blue', starts[0], null],
      ['grafana', 'High CPU usage', 'blue', starts[1], null],
    ])
    expect(answer.alerts[0]!.generatorUrl).toBe('https://play.grafana.org/alerting/1afz29v7z/edit')
    for (const alert of answer.alerts) expectLinksMatch(alert)
    const diff = await open<DiffResponse>(answer.alerts[1]!.links!.diffApi)
    expect(diff.comparison).toMatchObject(answer.alerts[1]!.window)
    expect(diff.baseline).toMatchObject(answer.alerts[1]!.baseline)
  })

  it('links open the anomaly window and its baseline, with the profiles of each', async () => {
    const now = Date.now()
    const start = Math.floor(now / MINUTE) * MINUTE - 10 * MINUTE
    const end = start + 8 * MINUTE
    // One CPU profile a minute for 16 minutes: `regex` burns CPU from `start` on.
    const uploads = Array.from({ length: 16 }, (_, k) => start - 8 * MINUTE + k * MINUTE + 5000)
    const samplesAt = (at: number) => [
      { stack: ['main', 'handle'], value: 50 },
      at >= start
        ? { stack: ['main', 'handle', 'regex'], value: 200 }
        : { stack: ['main', 'parse'], value: 20 },
    ]
    for (const at of uploads) {
      const res = await app.inject({
        method: 'POST',
        url: `/ingest?name=${encodeURIComponent('checkout{env=prod}')}&from=${at / 1000}&until=${at / 1000 + 10}&format=pprof`,
        headers: { ...AUTH, 'content-type': 'application/octet-stream' },
        payload: encodeProfile({
          sampleTypes: [['cpu', 'nanoseconds']],
          samples: samplesAt(at).map((s) => ({ stack: s.stack, values: [s.value] })),
        }),
      })
      expect(res.statusCode, res.body).toBe(200)
    }
    const totalIn = (from: number, to: number) =>
      uploads
        .filter((at) => at >= from && at < to)
        .flatMap(samplesAt)
        .reduce((sum, s) => sum + s.value, 0)

    const payload = fixture<WebhookPayload>('alertmanager-webhook.json')
    payload.alerts = payload.alerts.slice(0, 1)
    payload.alerts[0]!.status = 'resolved'
    payload.alerts[0]!.startsAt = goTime(start)
    payload.alerts[0]!.endsAt = goTime(end)
    const [alert] = (await post('alertmanager', payload)).alerts
    expect(alert).toMatchObject({ service: 'checkout', window: { from: start, to: end } })
    expectLinksMatch(alert!)

    const diff = await open<DiffResponse>(alert!.links!.diffApi)
    const baseFrom = start - (end - start)
    expect(diff.baseline).toMatchObject({
      from: baseFrom,
      to: start,
      total: totalIn(baseFrom, start),
    })
    expect(diff.comparison).toMatchObject({ from: start, to: end, total: totalIn(start, end) })
    expect(diff.changes.self.grew[0]).toMatchObject({ name: 'regex' })
    const flame = await open<FlamegraphResponse>(alert!.links!.flamegraphApi)
    expect(flame).toMatchObject({ from: start, to: end, total: totalIn(start, end) })
  })

  it('takes the generic form, with a profile type and Unix ms', async () => {
    const from = Date.now() - 30 * MINUTE
    const to = from + 20 * MINUTE
    const answer = await post('generic', {
      service: 'checkout',
      name: 'rss above 2 GiB',
      type: 'heap_inuse_space',
      startsAt: from,
      endsAt: to,
      url: 'https://ci.example.org/rule/7',
    })
    expect(answer.alerts).toEqual([
      expect.objectContaining({
        source: 'generic',
        name: 'rss above 2 GiB',
        service: 'checkout',
        type: 'heap_inuse_space',
        status: 'firing',
        startsAt: from,
        endsAt: to,
        window: { from, to },
        generatorUrl: 'https://ci.example.org/rule/7',
      }),
    ])
    expectLinksMatch(answer.alerts[0]!)
  })

  it('stores what it can read and says why not for the rest', async () => {
    const answer = await post('generic', {
      alerts: [
        { service: 'checkout', startsAt: 'yesterday' },
        { name: 'disk full', startsAt: new Date(Date.now() - 5 * MINUTE).toISOString() },
        { service: 'checkout', type: 'memory', startsAt: Date.now() },
      ],
    })
    expect(answer.stored).toBe(1)
    expect(answer.rejected.map((r) => r.index)).toEqual([0, 2])
    expect(answer.rejected[0]!.reason).toContain('"yesterday"')
    expect(answer.rejected[1]!.reason).toContain('"memory"')
    // No label names a service: stored, without links.
    expect(answer.alerts[0]).toMatchObject({ name: 'disk full', service: '', links: null })

    const bad = await app.inject({
      method: 'POST',
      url: '/api/v1/hooks/generic',
      headers: AUTH,
      payload: { startsAt: 'not a time' },
    })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({ code: 'KILN_ERR_BAD_REQUEST' })
    const shapeless = await app.inject({
      method: 'POST',
      url: '/api/v1/hooks/alertmanager',
      headers: AUTH,
      payload: { receiver: 'kiln' },
    })
    expect(shapeless.statusCode).toBe(400)
    expect(shapeless.json()).toMatchObject({ code: 'KILN_ERR_BAD_REQUEST' })
  })
})
