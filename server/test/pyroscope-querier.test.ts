import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { toBinary } from '@bufbuild/protobuf'
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  DiffNode,
  DiffResponse,
  FlamegraphResponse,
  LabelValuesResponse,
  LabelsResponse,
  TimelineResponse,
} from '@kiln/wire'
import type { KilnOptions } from '../src/config/config-schema.js'
import { ProfileSchema } from '../src/pyroscope/gen/google/v1/profile_pb.js'
import { ProfileFormat, QuerierService } from '../src/pyroscope/gen/querier/v1/querier_pb.js'
import { MAX_QUERIES_PER_REQUEST } from '../src/pyroscope/querier-service.js'
import { startServer } from '../src/start-server.js'
import { SettingsService } from '../src/pyroscope/gen/settings/v1/setting_pb.js'
import { decodeLevels, plainTree, type PlainNode } from './helpers/flame-levels.js'
import { ingestUploads, queryString, type Upload } from './helpers/query-fixture.js'

/*
 * Pyroscope's querier API as Grafana calls it, with a Connect client built from the same
 * definitions, in both codecs (Grafana's backend sends binary protobuf, Explore Profiles JSON).
 * Every answer is compared with Kiln's own /api/v1 answer for the same window and selector.
 */

const MINUTE = 60_000
const NOW = Math.floor(Date.now() / MINUTE) * MINUTE
const FROM = NOW - 30 * MINUTE
const TO = NOW
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'
const HEAP = 'memory:inuse_space:bytes:space:bytes'

const traceOf = (k: number) => (0xabc000 + k).toString(16).padStart(32, '0')
const spanOf = (k: number, instance: string) =>
  (0x5000 + k * 16 + (instance === 'a' ? 1 : 2)).toString(16).padStart(16, '0')

/** Two services; shop has two instances (CPU and heap), billing one (CPU). */
function uploads(): Upload[] {
  const out: Upload[] = []
  for (let k = 0; k < 12; k++) {
    const at = FROM + 60_000 + k * 2 * MINUTE
    for (const [instance, weight] of [
      ['a', 1],
      ['b', 3],
    ] as const) {
      out.push({
        service: 'shop',
        at: at + (instance === 'b' ? 5000 : 0),
        labels: { instance, env: 'prod' },
        sampleType: ['cpu', 'nanoseconds'],
        samples: [
          { stack: ['main@app.js', 'handle@server.js', 'render@view.js'], value: 300 * weight + k },
          { stack: ['main@app.js', 'handle@server.js', 'parse@json.js'], value: 200 * weight },
          { stack: ['main@app.js', 'gc@runtime.js'], value: 50 + k },
          // A request's span: its samples carry the trace and span ids.
          {
            stack: ['main@app.js', 'handle@server.js', 'checkout@cart.js'],
            value: 40 * weight,
            labels: { trace_id: traceOf(k), span_id: spanOf(k, instance) },
          },
          // One upload with more users than a grouped series may split into.
          ...(k === 0 && instance === 'a'
            ? Array.from({ length: MAX_QUERIES_PER_REQUEST + 1 }, (_, i) => ({
                stack: ['main@app.js', 'session@auth.js'],
                value: 1,
                labels: { user: `u${i}` },
              }))
            : []),
        ],
      })
      out.push({
        service: 'shop',
        at: at + 1000 + (instance === 'b' ? 5000 : 0),
        labels: { instance, env: 'prod' },
        sampleType: ['inuse_space', 'bytes'],
        samples: [
          { stack: ['main@app.js', 'cache@lru.js'], value: 10_000 * weight + 500 * k },
          { stack: ['main@app.js', 'buffers@io.js'], value: 4000 },
        ],
      })
    }
    out.push({
      service: 'billing',
      at: at + 2000,
      labels: { instance: 'c', env: 'staging' },
      sampleType: ['cpu', 'nanoseconds'],
      samples: [
        { stack: ['main@app.js', 'invoice@pdf.js'], value: 700 + k },
        { stack: ['main@app.js', 'render@view.js'], value: 100 },
      ],
    })
  }
  return out
}

/**
 * A Kiln server on port 0 (the project's `startServer`) over a directory of its own, which
 * `dispose` removes with it.
 */
async function serve(name: string, options: KilnOptions) {
  const dir = mkdtempSync(join(tmpdir(), `kiln-querier-${name}-`))
  const server = await startServer({
    port: 0,
    dataDir: join(dir, 'data'),
    logLevel: 'silent',
    detectorIntervalMs: 0,
    ...options,
  })
  return {
    ...server,
    dir,
    async dispose() {
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const CODECS = [
  ['binary protobuf', true],
  ['JSON', false],
] as const

describe.each(CODECS)("Pyroscope's querier API (%s)", (_codec, useBinaryFormat) => {
  let server: Awaited<ReturnType<typeof serve>>
  let app: FastifyInstance
  let dir: string
  let baseUrl: string
  let querier: Client<typeof QuerierService>

  beforeAll(async () => {
    server = await serve('main', {
      insertBatchWaitMs: 1,
      rateLimitIngestPerMinute: 0,
      rateLimitQueryPerMinute: 0,
    })
    ;({ app, dir, url: baseUrl } = server)
    await ingestUploads(app, uploads())
    querier = createClient(
      QuerierService,
      createConnectTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat }),
    )
  })
  afterAll(async () => {
    await server?.dispose()
  })

  const api = async <T>(path: string, params: Record<string, string | number>) => {
    const res = await app.inject({ url: `/api/v1${path}?${queryString(params)}` })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<T>()
  }
  const range = { start: BigInt(FROM), end: BigInt(TO) }
  const kilnWindow = { from: FROM, to: TO }

  it('lists the profile types with data, by the ids Grafana knows', async () => {
    const { profileTypes } = await querier.profileTypes(range)
    expect(profileTypes.map((t) => t.ID)).toEqual([HEAP, CPU].sort())
    expect(profileTypes.find((t) => t.ID === CPU)).toMatchObject({
      name: 'process_cpu',
      sampleType: 'cpu',
      sampleUnit: 'nanoseconds',
      periodType: 'cpu',
      periodUnit: 'nanoseconds',
    })
    // Without a window (older Grafana's "Save & test"): every type stored.
    const ever = await querier.profileTypes({})
    expect(ever.profileTypes.map((t) => t.ID)).toEqual([HEAP, CPU].sort())
    // Nothing in a window before the data.
    const before = await querier.profileTypes({
      start: BigInt(FROM - 60 * MINUTE),
      end: BigInt(FROM),
    })
    expect(before.profileTypes).toEqual([])
  })

  it("lists label names and values as Kiln's labels API, with Pyroscope's own labels", async () => {
    const own = await api<LabelsResponse>('/labels', {
      service: 'shop',
      type: 'cpu',
      ...kilnWindow,
    })
    const { names } = await querier.labelNames({
      matchers: [`{service_name="shop", __profile_type__="${CPU}"}`],
      ...range,
    })
    expect(names).toEqual(
      [
        ...own.names,
        'service_name',
        '__name__',
        '__profile_type__',
        '__type__',
        '__unit__',
        '__period_type__',
        '__period_unit__',
      ].sort(),
    )
    const ownValues = await api<LabelValuesResponse>('/label-values', {
      service: 'shop',
      type: 'cpu',
      name: 'instance',
      ...kilnWindow,
    })
    // The template-variable form: the profile type as the selector's metric name.
    const values = await querier.labelValues({
      name: 'instance',
      matchers: [`${CPU}{service_name="shop"}`],
      ...range,
    })
    expect(values.names).toEqual(ownValues.values)
    expect(values.names).toEqual(['a', 'b'])
    // Across services: every instance of every service with CPU profiles.
    const all = await querier.labelValues({ name: 'instance', matchers: [`${CPU}{}`], ...range })
    expect(all.names).toEqual(['a', 'b', 'c'])
    const services = await querier.labelValues({ name: 'service_name', matchers: [], ...range })
    expect(services.names).toEqual(['billing', 'shop'])
    // A quoted name, a regular expression on the service.
    const quoted = await querier.labelValues({
      name: 'env',
      matchers: [`{"service_name"=~"sh.*"}`],
      ...range,
    })
    expect(quoted.names).toEqual(['prod'])
  })

  it('lists the series as Explore Profiles asks: every service with its profile types', async () => {
    const { labelsSet } = await querier.series({
      matchers: ['{}'],
      labelNames: ['service_name', '__profile_type__'],
      ...range,
    })
    const pairs = labelsSet.map((s) => Object.fromEntries(s.labels.map((l) => [l.name, l.value])))
    expect(pairs).toHaveLength(3)
    expect(pairs).toEqual(
      expect.arrayContaining([
        { service_name: 'shop', __profile_type__: CPU },
        { service_name: 'shop', __profile_type__: HEAP },
        { service_name: 'billing', __profile_type__: CPU },
      ]),
    )
    // Without label names: each series' labels, Kiln's and Pyroscope's.
    const full = await querier.series({
      matchers: [`{service_name="billing"}`],
      labelNames: [],
      ...range,
    })
    expect(full.labelsSet).toHaveLength(1)
    const labels = Object.fromEntries(full.labelsSet[0]!.labels.map((l) => [l.name, l.value]))
    expect(labels).toMatchObject({
      service_name: 'billing',
      __profile_type__: CPU,
      __name__: 'process_cpu',
      instance: 'c',
      env: 'staging',
    })
  })

  it("merges stacks into Kiln's flame graph, node for node", async () => {
    for (const [selector, kilnQuery] of [
      ['{service_name="shop"}', ''],
      ['{service_name="shop", instance="b"}', '{instance="b"}'],
      ['{service_name="shop", env=~"pr.*", instance!="a"}', '{env=~"pr.*", instance!="a"}'],
    ] as const) {
      const own = await api<FlamegraphResponse>('/flamegraph', {
        service: 'shop',
        type: 'cpu',
        ...kilnWindow,
        query: kilnQuery,
      })
      const { flamegraph } = await querier.selectMergeStacktraces({
        profileTypeID: CPU,
        labelSelector: selector,
        ...range,
        maxNodes: 16384n,
      })
      expect(flamegraph, selector).toBeDefined()
      expect(Number(flamegraph!.total)).toBe(own.total)
      expect(flamegraph!.names[0]).toBe('total')
      const levels = flamegraph!.levels.map((l) => l.values.map(Number))
      expect(levels[0]).toEqual([0, own.total, 0, 0])
      expect(plainTree(decodeLevels(flamegraph!.names, levels))).toEqual(plainTree(own.root))
    }
  })

  it('merges several services when the selector matches them', async () => {
    const totals = await Promise.all(
      ['shop', 'billing'].map(
        async (service) =>
          (await api<FlamegraphResponse>('/flamegraph', { service, type: 'cpu', ...kilnWindow }))
            .total,
      ),
    )
    const { flamegraph } = await querier.selectMergeStacktraces({
      profileTypeID: CPU,
      labelSelector: '{service_name=~"shop|billing"}',
      ...range,
    })
    expect(Number(flamegraph!.total)).toBe(totals[0]! + totals[1]!)
    // Both run main@app.js: one node, with both services' time.
    const tree = decodeLevels(
      flamegraph!.names,
      flamegraph!.levels.map((l) => l.values.map(Number)),
    )
    expect(tree.children.map((c) => [c.name, c.value])).toEqual([['main', totals[0]! + totals[1]!]])
  })

  it("says it does not write Pyroscope's tree format, rather than answer empty", async () => {
    const error = await querier
      .selectMergeStacktraces({
        profileTypeID: CPU,
        labelSelector: '{service_name="shop"}',
        ...range,
        format: ProfileFormat.TREE,
      })
      .catch((e: unknown) => e)
    expect((error as ConnectError).code).toBe(Code.Unimplemented)
  })

  it('answers a type or service without data with no flame graph', async () => {
    for (const [profileTypeID, labelSelector] of [
      ['goroutine:goroutine:count:goroutine:count', '{service_name="shop"}'],
      [CPU, '{service_name="nobody"}'],
    ] as const) {
      const res = await querier.selectMergeStacktraces({ profileTypeID, labelSelector, ...range })
      expect(res.flamegraph).toBeUndefined()
    }
  })

  it("gives series over time equal to Kiln's timeline, grouped and limited", async () => {
    const step = 120
    const timeline = (query: string, type = 'cpu') =>
      api<TimelineResponse>('/timeline', {
        service: 'shop',
        type,
        ...kilnWindow,
        step: step * 1000,
        query,
      })
    const points = (t: TimelineResponse) =>
      t.timestamps.flatMap((ts, i) => (t.values[i] === null ? [] : [[ts, t.values[i]]]))

    const whole = await querier.selectSeries({
      profileTypeID: CPU,
      labelSelector: '{service_name="shop"}',
      ...range,
      step,
      groupBy: [],
    })
    expect(whole.series).toHaveLength(1)
    expect(whole.series[0]!.labels).toEqual([])
    const ownWhole = await timeline('')
    expect(whole.series[0]!.points.map((p) => [Number(p.timestamp), p.value])).toEqual(
      points(ownWhole),
    )

    const byInstance = await querier.selectSeries({
      profileTypeID: CPU,
      labelSelector: '{service_name="shop"}',
      ...range,
      step,
      groupBy: ['instance'],
    })
    expect(byInstance.series.map((s) => s.labels)).toEqual(
      expect.arrayContaining([
        [expect.objectContaining({ name: 'instance', value: 'a' })],
        [expect.objectContaining({ name: 'instance', value: 'b' })],
      ]),
    )
    for (const s of byInstance.series) {
      const own = await timeline(`{instance="${s.labels[0]!.value}"}`)
      expect(s.points.map((p) => [Number(p.timestamp), p.value])).toEqual(points(own))
    }

    // A gauge: the heap's level, as Kiln's timeline averages and sums it.
    const heap = await querier.selectSeries({
      profileTypeID: HEAP,
      labelSelector: '{service_name="shop"}',
      ...range,
      step,
      groupBy: [],
    })
    expect(heap.series[0]!.points.map((p) => [Number(p.timestamp), p.value])).toEqual(
      points(await timeline('', 'heap_inuse_space')),
    )

    // By service, the largest only.
    const byService = await querier.selectSeries({
      profileTypeID: CPU,
      labelSelector: '{}',
      ...range,
      step,
      groupBy: ['service_name'],
      limit: 1n,
    })
    expect(byService.series).toHaveLength(1)
    // shop: (300w + 200w + 50 + 2k) per upload for weights 1 and 3, against billing's 800 + k.
    expect(byService.series[0]!.labels).toEqual([
      expect.objectContaining({ name: 'service_name', value: 'shop' }),
    ])
  })

  it('exports the merged profile as pprof that go tool pprof reads with the same total', async () => {
    const own = await api<FlamegraphResponse>('/flamegraph', {
      service: 'shop',
      type: 'cpu',
      ...kilnWindow,
      query: '{instance="a"}',
    })
    const profile = await querier.selectMergeProfile({
      profileTypeID: CPU,
      labelSelector: '{service_name="shop", instance="a"}',
      ...range,
    })
    const file = join(dir, `merged-${useBinaryFormat}.pb`)
    writeFileSync(file, toBinary(ProfileSchema, profile))
    const result = spawnSync('go', ['tool', 'pprof', '-top', '-unit=ns', '-nodefraction=0', file], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(result.error, 'go must be on PATH (Debian: apt-get install golang-go)').toBeUndefined()
    expect(result.status, result.stderr).toBe(0)
    expect(Number(/of (\d+)ns total/.exec(result.stdout)?.[1])).toBe(own.total)
  })

  it("profiles spans: the flame graph of the samples of those span ids, as Kiln's", async () => {
    const spans = [spanOf(3, 'a'), spanOf(7, 'b')]
    const own = await api<FlamegraphResponse>('/flamegraph', {
      service: 'shop',
      type: 'cpu',
      ...kilnWindow,
      spanIds: spans.join(','),
    })
    // Expected from the input: checkout's value in those two uploads.
    expect(own.total).toBe(40 * 1 + 40 * 3)
    const { flamegraph } = await querier.selectMergeSpanProfile({
      profileTypeID: CPU,
      labelSelector: '{service_name="shop"}',
      spanSelector: spans.map((s) => s.toUpperCase()),
      ...range,
    })
    expect(Number(flamegraph!.total)).toBe(own.total)
    expect(
      plainTree(
        decodeLevels(
          flamegraph!.names,
          flamegraph!.levels.map((l) => l.values.map(Number)),
        ),
      ),
    ).toEqual(plainTree(own.root))
  })

  it('answers Explore Profiles: JSON from the browser, without Connect headers', async () => {
    // As Explore Profiles posts through Grafana's proxy: snake and camel case mixed, int64 as
    // numbers, fields Kiln does not know; the answer's int64 are strings.
    const res = await fetch(`${baseUrl}/querier.v1.QuerierService/SelectMergeStacktraces`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json; allow-utf8-labelnames=true',
      },
      body: JSON.stringify({
        profile_typeID: CPU,
        labelSelector: '{service_name="shop",}',
        start: FROM,
        end: String(TO),
        maxNodes: 100,
        format: 'PROFILE_FORMAT_FUNCTIONS',
        sandwichFunction: 'render',
      }),
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { flamegraph: { total: string; names: string[] } }
    const own = await api<FlamegraphResponse>('/flamegraph', {
      service: 'shop',
      type: 'cpu',
      ...kilnWindow,
    })
    expect(body.flamegraph.total).toBe(String(own.total))
    expect(body.flamegraph.names[0]).toBe('total')
  })

  it('diffs two windows: each side decodes to its own flame graph', async () => {
    const mid = FROM + 15 * MINUTE
    const side = (start: number, end: number) => ({
      profileTypeID: CPU,
      labelSelector: '{service_name="shop"}',
      start: BigInt(start),
      end: BigInt(end),
    })
    const { flamegraph } = await querier.diff({ left: side(FROM, mid), right: side(mid, TO) })
    const [left, right] = await Promise.all(
      [
        [FROM, mid],
        [mid, TO],
      ].map(([from, to]) =>
        api<FlamegraphResponse>('/flamegraph', {
          service: 'shop',
          type: 'cpu',
          from: from!,
          to: to!,
        }),
      ),
    )
    expect(Number(flamegraph!.leftTicks)).toBe(left!.total)
    expect(Number(flamegraph!.rightTicks)).toBe(right!.total)
    expect(Number(flamegraph!.total)).toBe(left!.total + right!.total)
    const levels = flamegraph!.levels.map((l) => l.values.map(Number))
    expect(plainTree(decodeLevels(flamegraph!.names, levels, 7, 0))).toEqual(plainTree(left!.root))
    expect(plainTree(decodeLevels(flamegraph!.names, levels, 7, 3))).toEqual(plainTree(right!.root))
  })

  it("trims both sides of a diff together, as Kiln's own diff does", async () => {
    const mid = FROM + 15 * MINUTE
    const side = (start: number, end: number) => ({
      profileTypeID: CPU,
      labelSelector: '{service_name="shop"}',
      start: BigInt(start),
      end: BigInt(end),
      maxNodes: 5n,
    })
    const { flamegraph } = await querier.diff({ left: side(FROM, mid), right: side(mid, TO) })
    const own = await api<DiffResponse>('/diff', {
      service: 'shop',
      type: 'cpu',
      baseFrom: FROM,
      baseTo: mid,
      compFrom: mid,
      compTo: TO,
      maxNodes: 5,
    })
    const sideOf = (n: DiffNode, s: 'base' | 'comp'): PlainNode => ({
      name: n.name,
      value: s === 'base' ? n.baseTotal : n.compTotal,
      self: s === 'base' ? n.baseSelf : n.compSelf,
      children: n.children.map((c) => sideOf(c, s)).filter((c) => c.value !== 0),
    })
    const levels = flamegraph!.levels.map((l) => l.values.map(Number))
    expect(plainTree(decodeLevels(flamegraph!.names, levels, 7, 0))).toEqual(
      plainTree(sideOf(own.root, 'base')),
    )
    expect(plainTree(decodeLevels(flamegraph!.names, levels, 7, 3))).toEqual(
      plainTree(sideOf(own.root, 'comp')),
    )
  })

  it('tells Explore Profiles when data was ingested, and gives it default settings', async () => {
    const stats = await querier.getProfileStats({})
    expect(stats.dataIngested).toBe(true)
    const all = uploads()
    expect(Number(stats.oldestProfileTime)).toBe(Math.min(...all.map((u) => u.at)))
    expect(Number(stats.newestProfileTime)).toBe(Math.max(...all.map((u) => u.at)) + 10_000)
    const settings = createClient(
      SettingsService,
      createConnectTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat }),
    )
    expect((await settings.get({})).settings).toEqual([])
  })

  it('refuses a grouping that would run more queries than allowed, and runs none', async () => {
    const error = await querier
      .selectSeries({
        profileTypeID: CPU,
        labelSelector: '{service_name="shop"}',
        ...range,
        step: 60,
        groupBy: ['user'],
      })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectError)
    expect((error as ConnectError).code).toBe(Code.InvalidArgument)
    expect((error as ConnectError).rawMessage).toMatch(/narrow the selector/)
    // Narrowed, it answers: one user's series.
    const one = await querier.selectSeries({
      profileTypeID: CPU,
      labelSelector: '{service_name="shop", user="u7"}',
      ...range,
      step: 60,
      groupBy: ['user'],
    })
    expect(one.series.map((s) => s.points.reduce((a, p) => a + p.value, 0))).toEqual([1])
  })

  it('refuses bad selectors and windows with invalid_argument', async () => {
    for (const request of [
      { profileTypeID: CPU, labelSelector: '{service_name="shop"', ...range },
      { profileTypeID: 'cpu', labelSelector: '{}', ...range },
      { profileTypeID: CPU, labelSelector: '{}', start: BigInt(TO), end: BigInt(FROM) },
      // Regular expressions are RE2's, as everywhere in Kiln (linear time): no lookahead.
      { profileTypeID: CPU, labelSelector: '{service_name=~"sh(?=o)op"}', ...range },
      // No type named: CPU and heap would be added together.
      { profileTypeID: '', labelSelector: '{service_name="shop"}', ...range },
    ]) {
      const error = await querier.selectMergeStacktraces(request).catch((e: unknown) => e)
      expect(
        error,
        JSON.stringify(request, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
      ).toBeInstanceOf(ConnectError)
      expect((error as ConnectError).code).toBe(Code.InvalidArgument)
      expect((error as ConnectError).rawMessage).toMatch(/^KILN_ERR_QUERY_INVALID: /)
    }
  })
})

describe("Pyroscope's querier API: a fleet of more services than one request's merges", () => {
  let server: Awaited<ReturnType<typeof serve>>
  let querier: Client<typeof QuerierService>
  const SERVICES = MAX_QUERIES_PER_REQUEST + 20

  beforeAll(async () => {
    server = await serve('fleet', {
      insertBatchWaitMs: 20,
      rateLimitIngestPerMinute: 0,
      rateLimitQueryPerMinute: 0,
    })
    // One CPU upload per service, 32 at a time (within the in-flight limit).
    const fleet: Upload[] = Array.from({ length: SERVICES }, (_, i) => ({
      service: `svc-${String(i).padStart(3, '0')}`,
      at: FROM + 60_000,
      labels: { instance: 'a' },
      sampleType: ['cpu', 'nanoseconds'],
      samples: [{ stack: ['main@app.js', 'work@app.js'], value: 10 + i }],
    }))
    for (let i = 0; i < fleet.length; i += 32) {
      await Promise.all(fleet.slice(i, i + 32).map((u) => ingestUploads(server.app, [u])))
    }
    querier = createClient(
      QuerierService,
      createConnectTransport({ baseUrl: server.url, httpVersion: '1.1' }),
    )
  })
  afterAll(async () => {
    await server?.dispose()
  })

  it('lists every service and its label names, as Explore Profiles asks on its landing page', async () => {
    const range = { start: BigInt(FROM), end: BigInt(TO) }
    const { labelsSet } = await querier.series({
      matchers: ['{}'],
      labelNames: ['service_name', '__profile_type__'],
      ...range,
    })
    expect(labelsSet).toHaveLength(SERVICES)
    const services = await querier.labelValues({ name: 'service_name', matchers: ['{}'], ...range })
    expect(services.names).toHaveLength(SERVICES)
    const names = await querier.labelNames({ matchers: ['{}'], ...range })
    expect(names.names).toContain('instance')
    // Merging all of them is refused: name fewer services.
    const error = await querier
      .selectMergeStacktraces({ profileTypeID: CPU, labelSelector: '{}', ...range })
      .catch((e: unknown) => e)
    expect((error as ConnectError).code).toBe(Code.InvalidArgument)
  })
})

describe("Pyroscope's querier API: access", () => {
  let server: Awaited<ReturnType<typeof serve>>

  beforeAll(async () => {
    server = await serve('auth', {
      insertBatchWaitMs: 1,
      multiTenant: true,
      authQueries: true,
      tokens: 'ingest=in-token,read@acme=acme-reader,read@other=other-reader',
    })
    await ingestUploads(
      server.app,
      uploads().filter((u) => u.service === 'shop'),
      {
        authorization: 'Bearer in-token',
        'x-scope-orgid': 'acme',
      },
    )
  })
  afterAll(async () => {
    await server?.dispose()
  })

  const clientWith = (headers: Record<string, string>) =>
    createClient(
      QuerierService,
      createConnectTransport({
        baseUrl: server.url,
        httpVersion: '1.1',
        interceptors: [
          (next) => (request) => {
            for (const [k, v] of Object.entries(headers)) request.header.set(k, v)
            return next(request)
          },
        ],
      }),
    )

  it('reads with a read token, in its tenant only', async () => {
    const range = { start: BigInt(FROM), end: BigInt(TO) }
    const acme = await clientWith({ authorization: 'Bearer acme-reader' }).labelValues({
      name: 'service_name',
      matchers: [],
      ...range,
    })
    expect(acme.names).toEqual(['shop'])
    const other = await clientWith({ authorization: 'Bearer other-reader' }).labelValues({
      name: 'service_name',
      matchers: [],
      ...range,
    })
    expect(other.names).toEqual([])
  })

  it('refuses a request without a token, and an ingest token', async () => {
    for (const [headers, code] of [
      [{}, Code.Unauthenticated],
      [{ authorization: 'Bearer wrong' }, Code.Unauthenticated],
      [{ authorization: 'Bearer in-token', 'x-scope-orgid': 'acme' }, Code.PermissionDenied],
    ] as const) {
      const error = await clientWith(headers)
        .profileTypes({})
        .catch((e: unknown) => e)
      expect(error, JSON.stringify(headers)).toBeInstanceOf(ConnectError)
      expect((error as ConnectError).code, JSON.stringify(headers)).toBe(code)
    }
  })
})
