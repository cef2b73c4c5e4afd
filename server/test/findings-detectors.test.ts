import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  DiffResponse,
  Finding,
  FindingNotification,
  FindingsResponse,
  FindingsRunResponse,
} from '@kiln/wire'
import { linearFit } from '../src/findings/linear-fit.js'
import { buildAppWith } from './fixtures/hooks-app.js'
import { ingestUploads, type Upload } from './helpers/query-fixture.js'

const MINUTE = 60_000
const PUBLIC_URL = 'http://kiln.test:4040'
const THRESHOLD = 0.05

/** A webhook receiver on port 0 that records what it is sent, per path. */
class Receiver {
  readonly received: { path: string; body: FindingNotification }[] = []
  readonly #server: Server
  #flaky = 0

  constructor() {
    this.#server = createServer((req, res) => {
      void this.#handle(req).then(({ status, headers }) => res.writeHead(status, headers).end())
    })
  }

  async #handle(
    req: IncomingMessage,
  ): Promise<{ status: number; headers?: Record<string, string> }> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const path = req.url ?? ''
    this.received.push({ path, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
    // `/flaky` fails its first call: the sender must retry.
    if (path === '/flaky' && this.#flaky++ === 0) return { status: 503 }
    if (path === '/redirect') return { status: 307, headers: { location: `${this.url}/elsewhere` } }
    // What an Alertmanager's `/api/v2/alerts` answers to the body of a plain webhook.
    if (path === '/refuse') return { status: 400 }
    return { status: 200 }
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }

  at(path: string): FindingNotification[] {
    return this.received.filter((r) => r.path === path).map((r) => r.body)
  }
}

describe("Kiln's detectors and outbound webhooks on the embedded store", () => {
  let app: FastifyInstance
  let dataDir: string
  const receiver = new Receiver()
  // Whole minutes, so every snapshot of a minute falls into one bucket.
  const M = Math.floor(Date.now() / MINUTE) * MINUTE

  beforeAll(async () => {
    await receiver.listen()
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-findings-'))
    app = await buildAppWith(
      { dataDir, logLevel: 'silent', insertBatchWaitMs: 1 },
      {
        publicUrl: PUBLIC_URL,
        webhookUrls: [
          `${receiver.url}/ok`,
          ` ${receiver.url}/flaky`,
          `${receiver.url}/redirect`,
          `${receiver.url}/refuse`,
        ].join(','),
        webhookTimeoutMs: 2000,
        webhookRetries: 2,
        detectorIntervalMs: 0,
        regressionLookbackMs: 3 * 60 * MINUTE,
        regressionThreshold: THRESHOLD,
        heapGrowthWindowMs: 30 * MINUTE,
      },
    )
    await app.ready()
  })
  afterAll(async () => {
    await app?.close()
    await receiver.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const run = async (): Promise<Finding[]> => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/findings/run' })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<FindingsRunResponse>().findings
  }
  const stored = async (params: string): Promise<Finding[]> => {
    const res = await app.inject({ url: `/api/v1/findings?${params}` })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<FindingsResponse>().findings
  }

  /** Three CPU profiles a minute apart per version, from `at`; `hot` costs `hot` in each. */
  const cpuUploads = (
    service: string,
    versions: { version: string; at: number; hot: number }[],
  ): Upload[] =>
    versions.flatMap(({ version, at, hot }) =>
      [0, 1, 2].map((k) => ({
        service,
        at: at + k * MINUTE,
        labels: { service_version: version, instance: 'a' },
        sampleType: ['cpu', 'nanoseconds'] as [string, string],
        samples: [
          { stack: ['main@app.js', 'handle@app.js', 'render@view.js'], value: 300 },
          { stack: ['main@app.js', 'handle@app.js', 'hot@hot.js'], value: hot },
          { stack: ['main@app.js', 'gc@gc.js'], value: 50 },
        ],
      })),
    )
  /** Self share of `hot` in a version's uploads: derived from the input, not from the server. */
  const hotShare = (uploads: Upload[], version: string) => {
    const samples = uploads
      .filter((u) => u.labels.service_version === version)
      .flatMap((u) => u.samples)
    const total = samples.reduce((a, s) => a + s.value, 0)
    const hot = samples
      .filter((s) => s.stack.at(-1) === 'hot@hot.js')
      .reduce((a, s) => a + s.value, 0)
    return { self: hot, share: hot / total }
  }

  it('names the function that doubled its CPU in version 2, and tells the webhooks once', async () => {
    const uploads = cpuUploads('shop', [
      { version: '1.0.0', at: M - 50 * MINUTE, hot: 100 },
      { version: '2.0.0', at: M - 20 * MINUTE, hot: 200 },
    ])
    await ingestUploads(app, uploads)
    const v1 = hotShare(uploads, '1.0.0')
    const v2 = hotShare(uploads, '2.0.0')
    expect(v2.share - v1.share).toBeGreaterThan(THRESHOLD) // the input is a regression

    const found = (await run()).filter((f) => f.service === 'shop')
    expect(found).toHaveLength(1)
    const finding = found[0]!
    expect(finding).toMatchObject({
      kind: 'cpu_regression',
      type: 'cpu',
      version: '2.0.0',
      previousVersion: '1.0.0',
      versionsCompared: ['1.0.0', '2.0.0'],
      time: M - 20 * MINUTE,
      window: { from: M - 20 * MINUTE, to: M - 18 * MINUTE + 10_000 },
      baseline: { from: M - 50 * MINUTE, to: M - 48 * MINUTE + 10_000 },
    })
    // Only `hot` grew: `render` and `gc` kept their cost, so their shares fell.
    expect(finding.functions).toHaveLength(1)
    expect(finding.functions[0]).toMatchObject({
      name: 'hot',
      file: 'hot.js',
      base: v1.self,
      comp: v2.self,
    })
    expect(finding.functions[0]!.baseShare).toBeCloseTo(v1.share, 9)
    expect(finding.functions[0]!.compShare).toBeCloseTo(v2.share, 9)
    expect(finding.title).toContain('hot')
    expect(finding.title).toContain('2.0.0')

    // The diff link compares the two versions by their label.
    const diffLink = new URL(finding.links.diffApi)
    expect(Object.fromEntries(diffLink.searchParams)).toMatchObject({
      baseQuery: '{service_version="1.0.0"}',
      compQuery: '{service_version="2.0.0"}',
    })
    const res = await app.inject({ url: `${diffLink.pathname}${diffLink.search}` })
    expect(res.statusCode, res.body).toBe(200)
    const diff = res.json<DiffResponse>()
    expect(diff.changes.self.grew[0]).toMatchObject({
      name: 'hot',
      baseSelf: v1.self,
      compSelf: v2.self,
    })

    // Delivered to both webhooks, `/flaky` after a retry; never through a redirect.
    const sent = receiver.at('/ok')
    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({
      kind: 'kiln.finding',
      finding: { id: finding.id, version: '2.0.0' },
    })
    expect(sent[0]!.finding.functions[0]!.name).toBe('hot')
    expect(sent[0]!.text).toContain('hot')
    expect(sent[0]!.text).toContain(`<${finding.links.diff}|Diff>`)
    expect(receiver.at('/flaky')).toHaveLength(2)
    expect(receiver.at('/redirect')).toHaveLength(1) // a 3xx is final, not retried
    expect(receiver.at('/elsewhere')).toHaveLength(0)
    expect(receiver.at('/refuse')).toHaveLength(1) // a 4xx is final too
    expect(finding.delivery).toBe('failed') // the redirecting and refusing URLs were not reached

    // A second run reports nothing new; only the URL not reached yet is tried again, not the
    // one that refused the finding.
    expect((await run()).filter((f) => f.service === 'shop')).toEqual([])
    expect(receiver.at('/ok')).toHaveLength(1)
    expect(receiver.at('/flaky')).toHaveLength(2)
    expect(receiver.at('/redirect')).toHaveLength(2)
    expect(receiver.at('/refuse')).toHaveLength(1)
    const [kept] = await stored(`service=shop&from=${M - 60 * MINUTE}&to=${M + MINUTE}`)
    expect(kept).toMatchObject({ id: finding.id, delivery: 'failed', functions: finding.functions })
  })

  it('bisects the versions of the window to the one where the share changed', async () => {
    // Five versions 15 minutes apart; `hot` doubles in version 3 and stays there.
    const versions = [1, 2, 3, 4, 5].map((v) => ({
      version: String(v),
      at: M - 100 * MINUTE + (v - 1) * 15 * MINUTE,
      hot: v >= 3 ? 200 : 100,
    }))
    const uploads = cpuUploads('deploys', versions)
    await ingestUploads(app, uploads)

    const found = (await run()).filter((f) => f.service === 'deploys')
    expect(found).toHaveLength(1)
    expect(found[0]).toMatchObject({
      version: '3',
      previousVersion: '2',
      versionsCompared: ['1', '5'],
      functions: [
        { name: 'hot', base: hotShare(uploads, '2').self, comp: hotShare(uploads, '3').self },
      ],
    })
    expect(found[0]!.functions[0]!.compShare).toBeCloseTo(hotShare(uploads, '3').share, 9)
  })

  /** Heap snapshots a minute apart of two instances; `bytes(k)` per site at snapshot `k`. */
  const heapUploads = (
    service: string,
    count: number,
    sites: Record<string, (k: number) => number>,
    first = 0,
  ): Upload[] =>
    Array.from({ length: count }, (_, i) => first + i).flatMap((k) =>
      ['a', 'b'].map((instance, j) => ({
        service,
        at: M - 14 * MINUTE + k * MINUTE + 10_000 + j * 5000,
        labels: { instance },
        sampleType: ['inuse_space', 'bytes'] as [string, string],
        samples: Object.entries(sites).map(([frame, bytes]) => ({
          stack: ['main@app.js', frame],
          value: bytes(k),
        })),
      })),
    )

  it('finds steady heap growth and names the growing site; flat and sawtooth heaps give none', async () => {
    const leak = (k: number) => 10_000 + 2000 * k
    const steady = () => 50_000
    await ingestUploads(app, [
      ...heapUploads('leaky', 12, { 'leak@cache.js': leak, 'buffers@io.js': steady }),
      ...heapUploads('flat', 12, { 'buffers@io.js': steady, 'pool@db.js': () => 7000 }),
      ...heapUploads('sawtooth', 12, { 'batch@jobs.js': (k) => (k % 2 === 0 ? 20_000 : 90_000) }),
      // A scale-out (or a rollout): instances join every 3 minutes, each with a flat heap. The
      // service's total climbs like a staircase; the heap of each instance does not grow.
      ...Array.from({ length: 12 }, (_, k) => k).flatMap((k) =>
        ['a', 'b', 'c', 'd']
          .filter((_, j) => k >= 3 * j)
          .map((instance, j) => ({
            service: 'scaling',
            at: M - 14 * MINUTE + k * MINUTE + 10_000 + j * 5000,
            labels: { instance },
            sampleType: ['inuse_space', 'bytes'] as [string, string],
            samples: [{ stack: ['main@app.js', 'buffers@io.js'], value: 50_000 }],
          })),
      ),
    ])

    const found = (await run()).filter((f) => f.kind === 'heap_growth')
    expect(found.map((f) => f.service)).toEqual(['leaky'])
    const finding = found[0]!
    // Expected from the input: both instances per minute, summed; a line through the minutes.
    const totals = Array.from({ length: 12 }, (_, k) => 2 * (leak(k) + steady()))
    const fit = linearFit(
      totals.map((_, k) => k * MINUTE),
      totals,
    )
    expect(finding).toMatchObject({
      type: 'heap_inuse_space',
      time: M - 14 * MINUTE,
      baseline: { from: M - 14 * MINUTE, to: M - 13 * MINUTE },
      window: { from: M - 3 * MINUTE, to: M - 2 * MINUTE },
      stats: { startBytes: totals[0], endBytes: totals[11], snapshots: 12 },
    })
    expect(finding.stats.slopeBytesPerSecond).toBeCloseTo(fit.slope * 1000, 6)
    expect(finding.stats.r2).toBeCloseTo(1, 9)
    expect(finding.functions.map((f) => f.name)).toEqual(['leak'])
    expect(finding.functions[0]).toMatchObject({
      file: 'cache.js',
      base: 2 * leak(0),
      comp: 2 * leak(11),
    })
    // 2 instances x 2000 bytes a minute.
    expect(finding.functions[0]!.growthPerHour).toBeCloseTo(2 * 2000 * 60, 6)
    expect(receiver.at('/ok').filter((n) => n.finding.id === finding.id)).toHaveLength(1)

    // The links compare the first minute of growth with the last.
    const diffLink = new URL(finding.links.diffApi)
    const res = await app.inject({ url: `${diffLink.pathname}${diffLink.search}` })
    const diff = res.json<DiffResponse>()
    expect(diff).toMatchObject({
      type: 'heap_inuse_space',
      baseline: { total: totals[0] },
      comparison: { total: totals[11] },
    })

    // The leak goes on: the next run extends the same finding rather than reporting it again.
    await ingestUploads(
      app,
      heapUploads('leaky', 1, { 'leak@cache.js': leak, 'buffers@io.js': steady }, 12),
    )
    expect((await run()).filter((f) => f.kind === 'heap_growth')).toEqual([])
    const kept = await stored(
      `service=leaky&kind=heap_growth&from=${M - 60 * MINUTE}&to=${M + MINUTE}`,
    )
    expect(kept).toHaveLength(1)
    expect(kept[0]).toMatchObject({
      id: finding.id,
      time: finding.time,
      baseline: finding.baseline,
      window: { from: M - 2 * MINUTE, to: M - MINUTE },
    })
    expect(receiver.at('/ok').filter((n) => n.finding.id === finding.id)).toHaveLength(1)
  })

  it('names the site that grows in each process during a rollout, not the new processes', async () => {
    // Instances a and b run the old version until minute 3; c and d replace them from minute 2
    // and e joins at minute 6. Every instance holds 4 MB at its buffers; the new ones leak 100 KB
    // a minute. The service's buffers climb with the fleet (8 → 16 → 8 → 12 MB); per instance
    // they are flat, and only the leak grows.
    const runs = { a: [0, 3], b: [0, 3], c: [2, 11], d: [2, 11], e: [6, 11] } as const
    const leakOf = (instance: keyof typeof runs, k: number) =>
      instance < 'c' ? 0 : 100_000 * (k - runs[instance][0])
    const uploads: Upload[] = Array.from({ length: 12 }, (_, k) => k).flatMap((k) =>
      Object.entries(runs)
        .filter(([, [from, to]]) => k >= from && k <= to)
        .map(([instance], j) => ({
          service: 'rolling',
          at: M - 14 * MINUTE + k * MINUTE + 10_000 + j * 5000,
          labels: { instance },
          sampleType: ['inuse_space', 'bytes'] as [string, string],
          samples: [
            { stack: ['main@app.js', 'buffers@io.js'], value: 4_000_000 },
            ...(instance < 'c'
              ? []
              : [
                  {
                    stack: ['main@app.js', 'leak@cache.js'],
                    value: leakOf(instance as keyof typeof runs, k),
                  },
                ]),
          ],
        })),
    )
    await ingestUploads(app, uploads)

    const finding = (await run()).find((f) => f.kind === 'heap_growth' && f.service === 'rolling')
    expect(finding, 'no heap growth found for the rollout').toBeDefined()
    expect(finding!.functions.map((f) => f.name)).toEqual(['leak'])
    // Its growth: the leak per instance each minute (a line through the minutes), at the
    // fleet's size in the last minute (c, d and e).
    const minutes = Array.from({ length: 12 }, (_, k) => k)
    const perInstance = minutes.map((k) => {
      const live = Object.entries(runs).filter(([, [from, to]]) => k >= from && k <= to)
      const leaked = live.reduce((sum, [i]) => sum + leakOf(i as keyof typeof runs, k), 0)
      return leaked / live.length
    })
    const fit = linearFit(
      minutes.map((k) => k * MINUTE),
      perInstance,
    )
    expect(finding!.functions[0]!.growthPerHour).toBeCloseTo(fit.slope * 3 * 60 * MINUTE, 3)
  })
})
