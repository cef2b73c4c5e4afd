import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  UPLOAD_ATTEMPT_HEADER,
  UPLOAD_ID_HEADER,
  type EndpointsDiffResponse,
  type EndpointsResponse,
  type FlamegraphResponse,
  type TopResponse,
  type TracesResponse,
} from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { encodeProfile, type SyntheticSample } from './helpers/pprof-builder.js'

/*
 * Samples that carry traces (trace_id, span_id and endpoint labels, as Kiln's agent writes them
 * with OpenTelemetry): the ids never become series, the endpoint does; a trace's profile, the
 * endpoints table, the traces that ran a function and the per-call comparison are computed here
 * from the generated input by plain loops.
 */

const NOW = Math.floor(Date.now() / 1000) * 1000
const MINUTE = 60_000
/** Upload times: the baseline window's, then the comparison window's. */
const BASE_AT = Array.from({ length: 3 }, (_, i) => NOW - 20 * MINUTE + i * 10_000)
const COMP_AT = Array.from({ length: 3 }, (_, i) => NOW - 5 * MINUTE + i * 10_000)
const BASE = { from: NOW - 25 * MINUTE, to: NOW - 10 * MINUTE }
const COMP = { from: NOW - 10 * MINUTE, to: NOW }
const TRACES_PER_UPLOAD = 40

const CHECKOUT = 'POST /checkout/:id'
const ITEMS = 'GET /items'
const STACKS: Record<string, string[]> = {
  [CHECKOUT]: ['main@app.js', 'handle@server.js', 'checkout@checkout.js', 'price@pricing.js'],
  [ITEMS]: ['main@app.js', 'handle@server.js', 'listItems@items.js'],
}
/** After the deploy, each checkout call also runs this. */
const SLOW = 'applyCoupons@coupons.js'

interface TracedSample {
  at: number
  traceId: string
  spanId: string
  endpoint: string
  stack: string[]
  value: number
}

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0')

/** Every sample with a trace, by upload; `k` numbers traces across the whole fixture. */
function tracedSamples(at: number, upload: number, comparison: boolean): TracedSample[] {
  const out: TracedSample[] = []
  for (let t = 0; t < TRACES_PER_UPLOAD; t++) {
    const k = upload * TRACES_PER_UPLOAD + t
    const endpoint = t % 4 === 3 ? ITEMS : CHECKOUT
    const base = {
      at,
      traceId: hex(0xabc000 + k, 32),
      spanId: hex(0x5000 + k, 16),
      endpoint,
    }
    const value = 1_000_000 * (1 + (k % 7))
    out.push({ ...base, stack: STACKS[endpoint]!, value })
    if (comparison && endpoint === CHECKOUT) {
      out.push({ ...base, stack: [...STACKS[endpoint]!.slice(0, 3), SLOW], value: 2 * value })
    }
  }
  return out
}

const ALL = [
  ...BASE_AT.flatMap((at, i) => tracedSamples(at, i, false)),
  ...COMP_AT.flatMap((at, i) => tracedSamples(at, BASE_AT.length + i, true)),
]
/** Per upload, time outside any span (no trace, no endpoint). */
const IDLE = 5_000_000

function samplesOf(at: number, withTraces: boolean): SyntheticSample[] {
  const traced = ALL.filter((s) => s.at === at)
  return [
    { stack: ['main@app.js', 'gc@runtime.js'], values: [IDLE] },
    ...traced.map((s) => ({
      stack: s.stack,
      values: [s.value],
      labels: (withTraces
        ? { trace_id: s.traceId, span_id: s.spanId, endpoint: s.endpoint }
        : { endpoint: s.endpoint }) as Record<string, string>,
    })),
  ]
}

describe('traces and endpoints', () => {
  let app: FastifyInstance
  let dataDir: string

  const ingest = (service: string, at: number, samples: SyntheticSample[], headers = {}) =>
    app.inject({
      method: 'POST',
      url: `/ingest?name=${service}&from=${at / 1000}&until=${at / 1000 + 10}`,
      headers: { 'content-type': 'application/octet-stream', ...headers },
      payload: encodeProfile({ sampleTypes: [['cpu', 'nanoseconds']], samples }),
    })
  const get = async <T>(path: string, params: Record<string, string | number>): Promise<T> => {
    const query = new URLSearchParams(
      Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]),
    )
    const res = await app.inject({ url: `/api/v1/${path}?${query}` })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<T>()
  }
  const count = async (sql: string): Promise<number> => {
    const { client, database } = app.store
    const result = await client.query({
      query: sql.replaceAll('{db}', database),
      format: 'JSONEachRow',
    })
    const rows = await result.json<{ n: string | number }>()
    return Number(rows[0]?.n ?? 0)
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-traces-'))
    app = await buildApp(
      resolveConfig({
        dataDir,
        logLevel: 'silent',
        insertBatchWaitMs: 5,
        rateLimitIngestPerMinute: 0,
        tracingUrl: 'http://jaeger.example:16686/trace/{traceId}?start={from}',
      }),
    )
    for (const at of [...BASE_AT, ...COMP_AT]) {
      expect((await ingest('shop', at, samplesOf(at, true))).statusCode).toBe(200)
      expect((await ingest('plain', at, samplesOf(at, false))).statusCode).toBe(200)
    }
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('keeps trace and span ids out of series: as many series as without them', async () => {
    const series = (service: string) =>
      count(`SELECT uniqExact(series_id) AS n FROM {db}.series WHERE service = '${service}'`)
    // One without labels (idle), one per endpoint.
    expect(await series('shop')).toBe(3)
    expect(await series('shop')).toBe(await series('plain'))
    expect(
      await count(`SELECT count() AS n FROM {db}.series
        WHERE service = 'shop' AND (mapContains(labels, 'trace_id') OR mapContains(labels, 'span_id'))`),
    ).toBe(0)
    // Every traced sample is in trace_samples once.
    expect(await count(`SELECT count() AS n FROM {db}.trace_samples WHERE service = 'shop'`)).toBe(
      ALL.length,
    )
    // Flame graphs of the whole window are the same with and without traces.
    const window = { type: 'cpu', from: BASE.from, to: COMP.to }
    const shop = await get<FlamegraphResponse>('flamegraph', { service: 'shop', ...window })
    const plain = await get<FlamegraphResponse>('flamegraph', { service: 'plain', ...window })
    expect(shop.root).toEqual(plain.root)
  })

  it("shows one trace's profile, and the profile of chosen local root spans", async () => {
    const trace = ALL.find((s) => s.endpoint === CHECKOUT && COMP_AT.includes(s.at))!
    const own = ALL.filter((s) => s.traceId === trace.traceId)
    const fg = await get<FlamegraphResponse>('flamegraph', {
      service: 'shop',
      type: 'cpu',
      ...COMP,
      traceId: trace.traceId.toUpperCase(),
    })
    expect(fg.total).toBe(own.reduce((sum, s) => sum + s.value, 0))
    expect(fg.stacks).toBe(own.length)
    const top = await get<TopResponse>('top', {
      service: 'shop',
      type: 'cpu',
      ...COMP,
      traceId: trace.traceId,
    })
    expect(
      top.functions
        .filter((f) => f.self > 0)
        .map((f) => f.name)
        .sort(),
    ).toEqual(own.map((s) => s.stack.at(-1)!.split('@')[0]!).sort())
    // Two spans of two traces: both, and nothing else.
    const two = ALL.filter((s) => s.at === BASE_AT[0]).slice(0, 2)
    const spans = await get<FlamegraphResponse>('flamegraph', {
      service: 'shop',
      type: 'cpu',
      ...BASE,
      spanIds: two.map((s) => s.spanId).join(','),
    })
    expect(spans.total).toBe(two.reduce((sum, s) => sum + s.value, 0))
    // An unknown trace: an empty profile, not an error.
    const none = await get<FlamegraphResponse>('flamegraph', {
      service: 'shop',
      type: 'cpu',
      ...COMP,
      traceId: 'f'.repeat(32),
    })
    expect(none.total).toBe(0)
  })

  it('tables CPU per endpoint with the calls seen', async () => {
    const res = await get<EndpointsResponse>('endpoints', { service: 'shop', ...BASE })
    const inBase = ALL.filter((s) => BASE_AT.includes(s.at))
    const total = inBase.reduce((sum, s) => sum + s.value, 0) + IDLE * BASE_AT.length
    expect(res.types).toEqual({ cpu: { unit: 'nanoseconds', total } })
    const expected = [CHECKOUT, ITEMS].map((endpoint) => {
      const own = inBase.filter((s) => s.endpoint === endpoint)
      const value = own.reduce((sum, s) => sum + s.value, 0)
      return {
        endpoint,
        values: { cpu: value },
        shares: { cpu: value / total },
        calls: new Set(own.map((s) => s.spanId)).size,
      }
    })
    expected.push({
      endpoint: '',
      values: { cpu: IDLE * BASE_AT.length },
      shares: { cpu: (IDLE * BASE_AT.length) / total },
      calls: 0,
    })
    expected.sort((a, b) => b.values.cpu - a.values.cpu)
    expect(res.endpoints.map((e) => e.endpoint)).toEqual(expected.map((e) => e.endpoint))
    for (const [i, e] of res.endpoints.entries()) {
      expect(e.values).toEqual(expected[i]!.values)
      expect(e.shares.cpu).toBeCloseTo(expected[i]!.shares.cpu, 12)
      expect(e.calls).toBe(expected[i]!.calls)
    }
    // A selector narrows it like any query.
    const only = await get<EndpointsResponse>('endpoints', {
      service: 'shop',
      ...BASE,
      query: `{endpoint="${ITEMS}"}`,
    })
    expect(only.endpoints.map((e) => e.endpoint)).toEqual([ITEMS])
  })

  it('lists the traces that ran a function, heaviest first', async () => {
    const res = await get<TracesResponse>('traces', {
      service: 'shop',
      type: 'cpu',
      ...COMP,
      function: 'applyCoupons',
      file: 'coupons.js',
      limit: 5,
    })
    const hits = new Map<string, number>()
    for (const s of ALL) {
      if (COMP_AT.includes(s.at) && s.stack.includes(SLOW)) {
        hits.set(s.traceId, (hits.get(s.traceId) ?? 0) + s.value)
      }
    }
    const expected = [...hits].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5)
    expect(res.traces.map((t) => [t.traceId, t.value])).toEqual(expected)
    expect(res.more).toBe(hits.size - 5)
    for (const t of res.traces) {
      expect(t.endpoint).toBe(CHECKOUT)
      expect(t.tracingUrl).toBe(`http://jaeger.example:16686/trace/${t.traceId}?start=${t.first}`)
      expect(t.spanIds).toEqual([ALL.find((s) => s.traceId === t.traceId)!.spanId])
    }
    // One trace by its id: its summary alone.
    const one = await get<TracesResponse>('traces', {
      service: 'shop',
      type: 'cpu',
      ...COMP,
      traceId: expected[0]![0],
    })
    expect(one.traces.map((t) => t.traceId)).toEqual([expected[0]![0]])
    // No trace of GET /items ran it; by name alone it is the same.
    const byName = await get<TracesResponse>('traces', {
      service: 'shop',
      type: 'cpu',
      ...COMP,
      function: 'applyCoupons',
      limit: 1000,
    })
    expect(byName.traces.length).toBe(hits.size)
  })

  it('compares endpoints per call across a deploy, naming the function that grew', async () => {
    const res = await get<EndpointsDiffResponse>('endpoints/diff', {
      service: 'shop',
      baseFrom: BASE.from,
      baseTo: BASE.to,
      compFrom: COMP.from,
      compTo: COMP.to,
    })
    const perCall = (at: number[], endpoint: string) => {
      const own = ALL.filter((s) => at.includes(s.at) && s.endpoint === endpoint)
      return own.reduce((sum, s) => sum + s.value, 0) / new Set(own.map((s) => s.spanId)).size
    }
    expect(res.endpoints.map((e) => e.endpoint)).toEqual([CHECKOUT, ITEMS])
    const [checkout, items] = res.endpoints
    expect(checkout!.baseline.perCall).toBeCloseTo(perCall(BASE_AT, CHECKOUT), 6)
    expect(checkout!.comparison.perCall).toBeCloseTo(perCall(COMP_AT, CHECKOUT), 6)
    expect(checkout!.perCallChange).toBeCloseTo(
      perCall(COMP_AT, CHECKOUT) / perCall(BASE_AT, CHECKOUT) - 1,
      6,
    )
    expect(checkout!.grewMost?.name).toBe('applyCoupons')
    expect(items!.perCallChange).toBeCloseTo(
      perCall(COMP_AT, ITEMS) / perCall(BASE_AT, ITEMS) - 1,
      6,
    )
  })

  it('stores 10,000 traces in a window without one more series than the same load without them', async () => {
    const traces = 10_000
    const uploads = 20
    const perUpload = traces / uploads
    const at = (u: number) => NOW - 40 * MINUTE + u * 10_000
    for (let u = 0; u < uploads; u++) {
      const samples = Array.from({ length: perUpload }, (_, i) => {
        const t = u * perUpload + i
        const endpoint = t % 3 === 0 ? ITEMS : CHECKOUT
        return {
          stack: STACKS[endpoint]!,
          values: [1_000_000],
          labels: { trace_id: hex(0xf00000 + t, 32), span_id: hex(0xe0000 + t, 16), endpoint },
        }
      })
      const plain = samples.map((x) => ({ ...x, labels: { endpoint: x.labels.endpoint } }))
      expect((await ingest('many', at(u), samples)).statusCode).toBe(200)
      expect((await ingest('many-plain', at(u), plain)).statusCode).toBe(200)
    }
    const of = (table: string, what: string, service: string) =>
      count(`SELECT ${what} AS n FROM {db}.${table} WHERE service = '${service}'`)
    // The upload's own series (its profiles rows name it) and one per endpoint.
    expect(await of('series', 'uniqExact(series_id)', 'many')).toBe(3)
    expect(await of('series', 'uniqExact(series_id)', 'many-plain')).toBe(3)
    // Samples aggregate per (series, stack) alike; the traces are in their own table.
    expect(await of('samples', 'count()', 'many')).toBe(
      await of('samples', 'count()', 'many-plain'),
    )
    expect(await of('trace_samples', 'uniqExact(trace_id)', 'many')).toBe(traces)
    const window = { type: 'cpu', from: at(0), to: at(uploads) }
    const traced = await get<FlamegraphResponse>('flamegraph', { service: 'many', ...window })
    const plain = await get<FlamegraphResponse>('flamegraph', { service: 'many-plain', ...window })
    expect(traced.root).toEqual(plain.root)
    expect(traced.total).toBe(traces * 1_000_000)
  })

  it('keeps samples whose trace id is bad, without that id, and counts it', async () => {
    const at = NOW - MINUTE
    const res = await ingest('badids', at, [
      { stack: ['main@app.js', 'bad@app.js'], values: [3], labels: { trace_id: 'not-hex' } },
      {
        stack: ['main@app.js', 'good@app.js'],
        values: [4],
        labels: { trace_id: 'A1B2', span_id: 'z'.repeat(40) },
      },
    ])
    expect(res.statusCode, res.body).toBe(200)
    const window = { service: 'badids', type: 'cpu', from: at - MINUTE, to: at + MINUTE }
    const whole = await get<FlamegraphResponse>('flamegraph', window)
    expect(whole.total).toBe(7)
    const trace = await get<FlamegraphResponse>('flamegraph', { ...window, traceId: 'a1b2' })
    expect(trace.total).toBe(4)
    expect(
      await count(`SELECT count() AS n FROM {db}.trace_samples WHERE service = 'badids'`),
    ).toBe(1)
    const metrics = (await app.inject({ url: '/metrics' })).body
    expect(metrics).toMatch(/kiln_ingest_trace_ids_dropped_total\{reason="invalid"\} 2\b/)
  })

  it('takes trace ids in the upload name as every sample trace, not as series', async () => {
    const at = NOW - MINUTE
    const upload = (name: string, labels: string) =>
      app.inject({
        method: 'POST',
        url: `/ingest?name=${encodeURIComponent(`${name}{${labels}}`)}&from=${at / 1000}&until=${at / 1000 + 10}`,
        headers: { 'content-type': 'application/octet-stream' },
        payload: encodeProfile({
          sampleTypes: [['cpu', 'nanoseconds']],
          samples: [
            { stack: ['main@app.js', 'a@app.js'], values: [5] },
            { stack: ['main@app.js', 'b@app.js'], values: [6], labels: { trace_id: 'cc' } },
          ],
        }),
      })
    for (const trace of ['aa', 'bb']) {
      const res = await upload('named', `pod=p1,trace_id=${trace},span_id=1${trace}`)
      expect(res.statusCode, res.body).toBe(200)
    }
    expect(await count(`SELECT count() AS n FROM {db}.series WHERE service = 'named'`)).toBe(1)
    expect(
      await count(
        `SELECT count() AS n FROM {db}.series WHERE service = 'named' AND mapContains(labels, 'trace_id')`,
      ),
    ).toBe(0)
    const window = { service: 'named', type: 'cpu', from: at - MINUTE, to: at + MINUTE }
    // The sample's own trace id wins over the upload's.
    expect((await get<FlamegraphResponse>('flamegraph', { ...window, traceId: 'aa' })).total).toBe(
      5,
    )
    expect((await get<FlamegraphResponse>('flamegraph', { ...window, traceId: 'cc' })).total).toBe(
      12,
    )
    const bySpan = await get<FlamegraphResponse>('flamegraph', { ...window, spanIds: '1bb' })
    expect(bySpan.total).toBe(11)
  })

  it('takes the most span ids a query allows over real HTTP', async () => {
    // inject() skips Node's HTTP parser, whose 16 KiB default header limit answered 431 here.
    const address = await app.listen({ port: 0, host: '127.0.0.1' })
    const spans = ALL.filter((s) => s.at === COMP_AT[0]).map((s) => s.spanId)
    const ids = [...new Set(spans)]
    const fillers = Array.from({ length: 1000 - ids.length }, (_, i) => hex(0xf0000000 + i, 16))
    const query = new URLSearchParams({
      service: 'shop',
      type: 'cpu',
      ...COMP,
      spanIds: [...ids, ...fillers].join(','),
    } as unknown as Record<string, string>)
    const res = await fetch(`${address}/api/v1/flamegraph?${query}`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as FlamegraphResponse
    const expected = ALL.filter((s) => s.at === COMP_AT[0]).reduce((sum, s) => sum + s.value, 0)
    expect(body.total).toBe(expected)
  })

  it('refuses bad trace filters and trace filters on heap', async () => {
    for (const query of [
      'flamegraph?service=shop&type=heap_inuse_space&traceId=abc',
      'flamegraph?service=shop&type=cpu&traceId=xyz',
      `flamegraph?service=shop&type=cpu&spanIds=${Array.from({ length: 1001 }, (_, i) => i.toString(16)).join(',')}`,
      'traces?service=shop&type=cpu&file=x.js',
    ]) {
      const res = await app.inject({ url: `/api/v1/${query}` })
      expect(res.statusCode, query).toBe(400)
      expect(res.json().code, query).toMatch(/^KILN_ERR_/)
    }
  })

  it('stores the trace samples of a retried, half-stored upload once', async () => {
    // Without the ingest log: the store's refusal between two inserts is the answer's (with the
    // log, the answer comes before the inserts; its resume: ingest-log.test.ts). The last test
    // of the file: the store is reopened that way (chDB opens one data directory at a time).
    await app.close()
    app = await buildApp(
      resolveConfig({
        dataDir,
        logLevel: 'silent',
        insertBatchWaitMs: 5,
        rateLimitIngestPerMinute: 0,
        ingestLog: false,
      }),
    )
    const { client, database } = app.store
    const at = NOW - 2 * MINUTE
    const samples = [
      {
        stack: ['main@app.js', 'work@app.js'],
        values: [7],
        labels: { trace_id: 'a1', span_id: 'b1' },
      },
    ]
    const headers = { [UPLOAD_ID_HEADER]: 'upload-trace-half-1' }
    // The store goes away after the samples went in: `trace_samples` detached.
    await client.command({ query: `DETACH TABLE ${database}.trace_samples` })
    try {
      expect((await ingest('halftraced', at, samples, headers)).statusCode).toBe(503)
    } finally {
      await client.command({ query: `ATTACH TABLE ${database}.trace_samples` })
    }
    for (let attempt = 2; attempt <= 3; attempt++) {
      const res = await ingest('halftraced', at, samples, {
        ...headers,
        [UPLOAD_ATTEMPT_HEADER]: String(attempt),
      })
      expect(res.statusCode, res.body).toBe(200)
    }
    const rows = (table: string) =>
      count(`SELECT count() AS n FROM {db}.${table} WHERE service = 'halftraced'`)
    expect(await rows('samples')).toBe(1)
    expect(await rows('trace_samples')).toBe(1)
    expect(await rows('profiles')).toBe(1)
  })
})
