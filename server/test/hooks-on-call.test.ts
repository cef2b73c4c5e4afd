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
  OpenResponse,
} from '@kiln/wire'
import { buildAppWith } from './fixtures/hooks-app.js'
import { ingestUploads, type Upload } from './helpers/query-fixture.js'

/*
 * The on-call side of the inbound hooks against the embedded store: service rules tried until
 * one names a profiled service, labels carried into the links, late firing copies, storms,
 * Grafana's PUT and extras, and the link that notification templates write (`/open`).
 */

const TOKEN = 'on-call-token'
const AUTH = { authorization: `Bearer ${TOKEN}` }
const PUBLIC_URL = 'https://kiln.example.org'
const MINUTE = 60_000
const MAX_ALERTS = 50
const BAD_TOKENS_PER_MINUTE = 3

const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T

/** Parameters of a link. */
const paramsOf = (link: string): Record<string, string> =>
  Object.fromEntries(new URL(link).searchParams)

describe('on-call hooks and links on the embedded store', () => {
  let app: FastifyInstance
  let dataDir: string
  const now = Date.now()
  const minute0 = Math.floor(now / MINUTE) * MINUTE
  /** `cart`: two pods, one CPU profile a minute each for 30 minutes, pod b doing 3x the work. */
  const cartUploads: Upload[] = []
  /** `shop`: version 1.0 until 20 minutes ago, then 1.1 with a slower `render`. */
  const shopUploads: Upload[] = []
  const deployAt = minute0 - 20 * MINUTE

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-on-call-'))
    app = await buildAppWith(
      {
        dataDir,
        logLevel: 'silent',
        insertBatchWaitMs: 1,
        authTokens: TOKEN,
        authFailuresPerMinute: BAD_TOKENS_PER_MINUTE,
      },
      { publicUrl: PUBLIC_URL, alertMaxPerRequest: MAX_ALERTS },
    )
    await app.ready()
    for (let k = 30; k >= 1; k--) {
      const at = minute0 - k * MINUTE + 1000
      for (const [pod, value] of [
        ['cart-a', 10],
        ['cart-b', 30],
      ] as const) {
        cartUploads.push({
          service: 'cart',
          at,
          labels: { pod, region: 'eu' },
          sampleType: ['cpu', 'nanoseconds'],
          samples: [{ stack: ['main', 'checkout'], value }],
        })
      }
      const v11 = at >= deployAt
      shopUploads.push({
        service: 'shop',
        at,
        // A rolling deploy: the new version runs in new pods.
        labels: { service_version: v11 ? '1.1' : '1.0', pod: v11 ? 'shop-new' : 'shop-old' },
        sampleType: ['cpu', 'nanoseconds'],
        samples: [
          { stack: ['main', 'render'], value: v11 ? 90 : 30 },
          { stack: ['main', 'route'], value: 10 },
        ],
      })
    }
    await ingestUploads(app, [...cartUploads, ...shopUploads], AUTH)
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const hook = async (
    path: string,
    payload: unknown,
    method: 'POST' | 'PUT' = 'POST',
  ): Promise<HookResponse> => {
    const res = await app.inject({
      method,
      url: `/api/v1/hooks/${path}`,
      headers: AUTH,
      payload: payload as object,
    })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<HookResponse>()
  }
  const get = async <T>(url: string): Promise<T> => {
    const res = await app.inject({ url })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<T>()
  }
  const api = <T>(link: string): Promise<T> => {
    const url = new URL(link)
    return get<T>(`${url.pathname}${url.search}`)
  }
  const cartTotal = (pods: string[], from: number, to: number): number =>
    cartUploads
      .filter((u) => pods.includes(u.labels.pod!) && u.at >= from && u.at < to)
      .reduce((sum, u) => sum + u.samples[0]!.value, 0)

  /** An alert of kube-state-metrics about a pod of `cart`, as prometheus-operator labels it. */
  const podAlert = (over: Record<string, unknown> = {}) => ({
    status: 'firing',
    labels: {
      alertname: 'KubePodCrashLooping',
      service: 'kube-state-metrics',
      job: 'kube-state-metrics',
      namespace: 'shop',
      container: 'cart',
      pod: 'cart-b',
      region: 'eu',
      severity: 'warning',
    },
    annotations: { summary: 'cart-b restarts' },
    startsAt: new Date(minute0 - 10 * MINUTE).toISOString(),
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: 'a1b2c3',
    ...over,
  })

  it('maps an alert to the first rule naming a profiled service, with the labels its profiles carry', async () => {
    const answer = await hook('alertmanager', { version: '4', alerts: [podAlert()] })
    const [alert] = answer.alerts
    expect(alert).toMatchObject({
      service: 'cart',
      mapping: { rule: 'container', warning: '' },
      // `namespace` and `severity` are not labels of cart's profiles; pod and region are.
      selector: '{pod="cart-b", region="eu"}',
    })
    const params = paramsOf(alert!.links!.diff)
    expect(params.baseQuery).toBe(alert!.selector)
    expect(params.compQuery).toBe(alert!.selector)
    // The link shows pod b alone.
    const flame = await api<FlamegraphResponse>(alert!.links!.flamegraphApi)
    expect(flame.total).toBe(cartTotal(['cart-b'], alert!.window.from, alert!.window.to))
    expect(flame.total).toBeGreaterThan(0)
  })

  it('warns when no rule names a profiled service, and says what it tried', async () => {
    const answer = await hook('alertmanager', {
      alerts: [podAlert({ labels: { alertname: 'X', service: 'billing', job: 'node' } })],
    })
    expect(answer.alerts[0]).toMatchObject({ service: 'billing', mapping: { rule: 'service' } })
    expect(answer.alerts[0]!.mapping.warning).toMatch(/no profiled service matched/)
    expect(answer.alerts[0]!.mapping.warning).toContain('job → "node"')
  })

  it('keeps a resolution against a late firing copy, whatever the order of receipt', async () => {
    const startsAt = new Date(minute0 - 25 * MINUTE).toISOString()
    const fingerprint = 'late-copy'
    const endsAt = minute0 - 15 * MINUTE
    const resolved = (
      await hook('alertmanager', {
        alerts: [
          podAlert({
            fingerprint,
            startsAt,
            status: 'resolved',
            endsAt: new Date(endsAt).toISOString(),
          }),
        ],
      })
    ).alerts[0]!
    const late = (await hook('alertmanager', { alerts: [podAlert({ fingerprint, startsAt })] }))
      .alerts[0]!
    expect(late).toEqual(resolved)
    const listed = await get<AlertsResponse>(
      `/api/v1/alerts?service=cart&from=${minute0 - 30 * MINUTE}&to=${Date.now()}`,
    )
    expect(listed.alerts.filter((a) => a.id === resolved.id)).toEqual([resolved])
    expect(resolved).toMatchObject({ status: 'resolved', endsAt, window: { to: endsAt } })
  })

  it('lists an alert that has fired for hours in a window of its early hours', async () => {
    const startsAt = now - 6 * 60 * MINUTE
    const [alert] = (
      await hook('alertmanager', {
        alerts: [
          podAlert({ fingerprint: 'six-hours', startsAt: new Date(startsAt).toISOString() }),
        ],
      })
    ).alerts
    expect(alert!.window.from).toBeGreaterThan(startsAt) // its links look at the last hour
    const early = await get<AlertsResponse>(
      `/api/v1/alerts?from=${startsAt + 60 * MINUTE}&to=${startsAt + 3 * 60 * MINUTE}&limit=1000`,
    )
    expect(early.alerts.map((a) => a.id)).toContain(alert!.id)
  })

  it('keeps the resolution of an alert sent firing and resolved in one notification', async () => {
    const startsAt = new Date(minute0 - 9 * MINUTE).toISOString()
    const endsAt = new Date(minute0 - 3 * MINUTE).toISOString()
    const fingerprint = 'both-at-once'
    const answer = await hook('alertmanager', {
      alerts: [
        podAlert({ fingerprint, startsAt, status: 'resolved', endsAt }),
        podAlert({ fingerprint, startsAt }),
      ],
    })
    expect(answer.alerts.map((a) => a.status)).toEqual(['resolved', 'resolved'])
    const listed = await get<AlertsResponse>(
      `/api/v1/alerts?service=cart&from=${minute0 - 30 * MINUTE}&to=${Date.now()}&limit=1000`,
    )
    const mine = listed.alerts.filter((a) => a.startsAt === minute0 - 9 * MINUTE)
    expect(mine.map((a) => a.status)).toEqual(['resolved'])
  })

  it('refuses an oversized alert alone and stores the others', async () => {
    const labels = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`l${i}`, 'x']))
    const answer = await hook('alertmanager', {
      alerts: [podAlert({ fingerprint: 'ok-one' }), podAlert({ fingerprint: 'huge', labels })],
    })
    expect(answer.stored).toBe(1)
    expect(answer.rejected).toEqual([{ index: 1, reason: '200 labels, more than 128' }])
  })

  it('stores a storm up to the limit and reports the rest as dropped, with a 200', async () => {
    const alerts = Array.from({ length: MAX_ALERTS + 7 }, (_, i) =>
      podAlert({ fingerprint: `storm-${i}` }),
    )
    const answer = await hook('alertmanager', { alerts })
    expect(answer).toMatchObject({ stored: MAX_ALERTS, dropped: 7, rejected: [] })
    const listed = await get<AlertsResponse>(
      `/api/v1/alerts?service=cart&from=${minute0 - 30 * MINUTE}&to=${Date.now() + 1}&limit=1000`,
    )
    const ids = new Set(listed.alerts.map((a) => a.id))
    expect(answer.alerts.every((a) => ids.has(a.id))).toBe(true)
  })

  it("takes Grafana's PUT and keeps its URLs and values", async () => {
    const payload = fixture<{ alerts: { labels: Record<string, string> }[] }>(
      'grafana-webhook.json',
    )
    for (const a of payload.alerts) a.labels.service = 'cart'
    const answer = await hook('grafana', payload, 'PUT')
    expect(answer.stored).toBe(2)
    const [memory] = answer.alerts
    expect(memory).toMatchObject({
      source: 'grafana',
      service: 'cart',
      urls: {
        silence:
          'https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1',
      },
      values: { B: 44.23943737541908, C: 1 },
    })
    const listed = await get<AlertsResponse>(
      `/api/v1/alerts?service=cart&from=${memory!.startsAt}&to=${Date.now() + 1}&limit=1000`,
    )
    const stored = listed.alerts.find((a: AlertView) => a.id === memory!.id)!
    expect(stored.urls).toEqual(memory!.urls)
    expect(stored.values).toEqual(memory!.values)
  })

  describe('the link of a notification template', () => {
    const podLink = (extra = '') =>
      `/open?label.alertname=KubePodCrashLooping&label.service=kube-state-metrics` +
      `&label.container=cart&label.pod=cart-a&label.namespace=shop` +
      `&start=${encodeURIComponent(new Date(minute0 - 12 * MINUTE).toISOString())}` +
      `&end=0001-01-01T00:00:00Z${extra}`

    it('redirects to the diff of the anomaly window for the pod, with data', async () => {
      const res = await app.inject({ url: podLink() })
      expect(res.statusCode).toBe(302)
      const location = res.headers.location as string
      expect(location.startsWith('/?view=diff&')).toBe(true)
      const p = paramsOf(`${PUBLIC_URL}${location}`)
      expect(p).toMatchObject({
        service: 'cart',
        type: 'cpu',
        compFrom: String(minute0 - 12 * MINUTE),
        baseQuery: '{pod="cart-a"}',
        compQuery: '{pod="cart-a"}',
      })
      const resolved = await get<OpenResponse>(`/api/v1${podLink()}`)
      // The same resolution as JSON (its window ends at its own now).
      expect(resolved).toMatchObject({ comparison: 'previous-window', rule: 'container' })
      const { compTo, baseFrom, ...same } = paramsOf(resolved.url)
      const { compTo: _compTo, baseFrom: _baseFrom, ...expected } = p
      expect(same).toEqual(expected)
      expect(Number(compTo) - Number(baseFrom)).toBe(2 * (Number(compTo) - Number(p.compFrom)))
      const diff = await api<DiffResponse>(resolved.links.diffApi)
      const { baseline, compared } = resolved
      expect(diff.comparison.total).toBe(cartTotal(['cart-a'], compared.from, compared.to))
      expect(diff.baseline.total).toBe(cartTotal(['cart-a'], baseline.from, baseline.to))
      expect(diff.comparison.total).toBeGreaterThan(0)
    })

    it('compares with the previous version when a deploy falls in the lookback', async () => {
      // The alert names a pod of the new version: the previous version's side drops it.
      const resolved = await get<OpenResponse>(
        `/api/v1/open?label.service_name=shop&label.pod=shop-new&at=${minute0 - 5 * MINUTE}`,
      )
      expect(resolved.selector).toBe('{pod="shop-new"}')
      expect(paramsOf(resolved.url)).toMatchObject({
        baseQuery: '{service_version="1.0"}',
        compQuery: '{pod="shop-new", service_version="1.1"}',
      })
      expect(resolved).toMatchObject({
        service: 'shop',
        rule: 'service_name',
        comparison: 'previous-version',
        versions: { base: '1.0', comp: '1.1' },
      })
      expect(resolved.compared.from).toBeGreaterThanOrEqual(deployAt)
      expect(resolved.baseline.to).toBeLessThanOrEqual(deployAt + MINUTE)
      const diff = await api<DiffResponse>(resolved.links.diffApi)
      expect(diff.changes.self.grew[0]).toMatchObject({ name: 'render' })
      const inWindow = (v: string, w: { from: number; to: number }) =>
        shopUploads
          .filter((u) => u.labels.service_version === v && u.at >= w.from && u.at < w.to)
          .reduce((s, u) => s + u.samples.reduce((a, x) => a + x.value, 0), 0)
      expect(diff.baseline.total).toBe(inWindow('1.0', resolved.baseline))
      expect(diff.comparison.total).toBe(inWindow('1.1', resolved.compared))
      expect(diff.baseline.total).toBeGreaterThan(0)
    })

    it('sends a browser without a valid token to the UI, which resolves it', async () => {
      const res = await app.inject({ url: podLink(), headers: { authorization: 'Bearer nope' } })
      expect(res.statusCode).toBe(302)
      const location = new URL(res.headers.location as string, PUBLIC_URL)
      expect(res.headers.location).toMatch(/^\/\?view=open&/)
      expect(location.searchParams.get('view')).toBe('open')
      expect(location.searchParams.get('label.pod')).toBe('cart-a')
    })

    it('reads times as templates write them: unescaped offsets, Go zero time in ms', async () => {
      const start = new Date(minute0 - 12 * MINUTE + 2 * 60 * MINUTE).toISOString().slice(0, 19)
      // `+02:00` in a query string arrives as ` 02:00`.
      const res = await get<OpenResponse>(
        `/api/v1/open?service=cart&start=${start}+02:00&end=-62135596800000`,
      )
      expect(res.window.from).toBe(minute0 - 12 * MINUTE)
      expect(res.window.to).toBeGreaterThanOrEqual(now)
    })

    it('counts refused tokens against the failure limit', async () => {
      const statuses: number[] = []
      for (let i = 0; i <= BAD_TOKENS_PER_MINUTE; i++) {
        const res = await app.inject({
          url: podLink(),
          headers: { authorization: `Bearer guess-${i}` },
        })
        statuses.push(res.statusCode)
        if (res.statusCode === 429) {
          expect(res.json()).toMatchObject({ code: 'KILN_ERR_RATE_LIMITED' })
          break
        }
        expect(res.statusCode).toBe(302)
      }
      expect(statuses.at(-1)).toBe(429)
    })

    it('answers a clear 400 without times or service', async () => {
      for (const url of [
        '/api/v1/open?service=cart',
        '/api/v1/open?at=x&service=cart',
        '/api/v1/open?at=1',
      ]) {
        const res = await app.inject({ url })
        expect(res.statusCode, url).toBe(400)
        expect(res.json()).toMatchObject({ code: expect.stringMatching(/^KILN_ERR_/) })
      }
    })
  })
})
