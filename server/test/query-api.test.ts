import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  OTHER_NODE_NAME,
  type DiffNode,
  type DiffResponse,
  type FlameNode,
  type FlamegraphResponse,
  type LabelValuesResponse,
  type LabelsResponse,
  type ProfileTypesResponse,
  type TimelineResponse,
  type TopResponse,
  type VersionsResponse,
} from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import {
  countNodes,
  expectedFunction,
  expectedNode,
  fileOf,
  findNode,
  frames,
  ingestUploads,
  inWindow,
  knownSamples,
  nameOf,
  paths,
  queryString,
  sum,
  type KnownSample,
  type Upload,
  recentNoon,
} from './helpers/query-fixture.js'

const T0 = recentNoon()
const S = 1000
/** Version 1.0.0 uploads at T0, +10 s, +20 s; version 1.1.0 at +60 s, +70 s, +80 s. */
const A = { from: T0, to: T0 + 60 * S }
const B = { from: T0 + 60 * S, to: T0 + 120 * S }
const ALL = { from: T0, to: T0 + 120 * S }

const INSTANCES = [
  { instance: 'api-1', env: 'prod' },
  { instance: 'api-2', env: 'prod' },
  { instance: 'worker-1', env: 'staging' },
]

/** The documented tie-break of every ranking: name, then file. */
const byFrame = (a: { name: string; file: string }, b: { name: string; file: string }) =>
  `${a.name}@${a.file}` < `${b.name}@${b.file}` ? -1 : 1

const MAIN = 'main@app.js'
const HANDLE = 'handle@app.js'
const RENDER = 'render@view.js'

/** CPU uploads of `shop`: recursion, one name in two files, sample labels, stacks that come and go. */
function shopUploads(): Upload[] {
  const uploads: Upload[] = []
  for (const [v, version] of ['1.0.0', '1.1.0'].entries()) {
    for (const [i, labels] of INSTANCES.entries()) {
      for (let k = 0; k < 3; k++) {
        const samples: Upload['samples'] = [
          { stack: [MAIN, HANDLE, RENDER, RENDER, 'escape@view.js'], value: 100 + 10 * i + k },
          { stack: [MAIN, HANDLE, RENDER], value: 40 + i },
          { stack: [MAIN, HANDLE, 'util@a.js'], value: 30 },
          { stack: [MAIN, 'gc@gc.js'], value: v === 0 ? 20 : 5 },
          {
            stack: [MAIN, HANDLE, 'util@b.js', 'json@json.js'],
            value: v === 0 ? 10 : 120 + k,
            labels: { route: '/api' },
          },
        ]
        if (v === 1) samples.push({ stack: [MAIN, HANDLE], value: 7, labels: { route: '/home' } })
        if (v === 0) samples.push({ stack: ['idle@idle.js'], value: 50 + i })
        uploads.push({
          service: 'shop',
          at: T0 + v * 60 * S + k * 10 * S,
          labels: { ...labels, service_version: version },
          sampleType: ['cpu', 'nanoseconds'],
          samples,
        })
      }
    }
  }
  return uploads
}

/** Heap snapshots (a gauge) of two instances. */
const HEAP_A = [4000, 6000, 8000]
function heapUploads(): Upload[] {
  const snapshot = (at: number, instance: string, bytes: number): Upload => ({
    service: 'heapy',
    at,
    labels: { instance },
    sampleType: ['inuse_space', 'bytes'],
    samples: [
      { stack: ['main@m.js', 'cache@c.js'], value: bytes },
      { stack: ['main@m.js', 'buffers@b.js'], value: 1000 },
    ],
  })
  return [
    ...HEAP_A.map((bytes, k) => snapshot(T0 + k * 10 * S, 'a', bytes)),
    snapshot(T0, 'b', 2000),
    snapshot(T0 + 30 * S, 'b', 3000),
  ]
}

describe('query API on the embedded store, to the sample', () => {
  let app: FastifyInstance
  let dataDir: string
  const shop = shopUploads()
  const known = knownSamples(shop)

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-query-'))
    app = await buildApp(resolveConfig({ dataDir, logLevel: 'silent', insertBatchWaitMs: 1 }))
    await ingestUploads(app, [...shop, ...heapUploads()])
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const get = async <T>(path: string, params: Record<string, string | number>): Promise<T> => {
    const res = await app.inject({ url: `/api/v1${path}?${queryString(params)}` })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<T>()
  }
  const getError = async (path: string, params: Record<string, string | number>) => {
    const res = await app.inject({ url: `/api/v1${path}?${queryString(params)}` })
    return { status: res.statusCode, body: res.json<{ code: string; message: string }>() }
  }
  const flamegraph = (params: Record<string, string | number>) =>
    get<FlamegraphResponse>('/flamegraph', { service: 'shop', type: 'cpu', ...params })

  /** Every node of the tree has the total and self computed from the input. */
  const expectTreeMatches = (root: FlameNode, samples: KnownSample[]) => {
    expect(root.value).toBe(sum(samples))
    const all = paths(samples)
    expect(countNodes(root)).toBe(all.length + 1)
    for (const path of all) {
      const { total, self } = expectedNode(samples, path)
      expect(findNode(root, path), path.join(' > ')).toMatchObject({ value: total, self })
    }
  }

  describe('flame graph', () => {
    it('matches every node of the input, per window', async () => {
      for (const w of [A, B, ALL]) {
        const graph = await flamegraph(w)
        const samples = inWindow(known, w.from, w.to)
        expect(graph.total).toBe(sum(samples))
        expect(graph.stacks).toBe(new Set(samples.map((s) => s.stack.join('|'))).size)
        expect(graph.query).toBe('{}')
        expectTreeMatches(graph.root, samples)
      }
    })

    it('keeps a recursive function as two nodes and one name in two files apart', async () => {
      const samples = inWindow(known, A.from, A.to)
      const graph = await flamegraph(A)
      const outer = findNode(graph.root, [MAIN, HANDLE, RENDER])!
      const inner = findNode(graph.root, [MAIN, HANDLE, RENDER, RENDER])!
      expect(outer.value).toBe(expectedNode(samples, [MAIN, HANDLE, RENDER]).total)
      expect(inner.value).toBe(expectedNode(samples, [MAIN, HANDLE, RENDER, RENDER]).total)
      expect(outer.self).toBe(
        sum(samples.filter((s) => s.stack.length === 3 && s.stack[2] === RENDER)),
      )
      const utils = findNode(graph.root, [MAIN, HANDLE])!.children.filter((c) => c.name === 'util')
      expect(utils.map((u) => u.file).sort()).toEqual(['a.js', 'b.js'])
    })

    const selectors: [string, (s: KnownSample) => boolean][] = [
      ['{env="prod"}', (s) => s.labels.env === 'prod'],
      ['{env!="prod"}', (s) => s.labels.env !== 'prod'],
      ['{instance=~"api-.*"}', (s) => s.labels.instance!.startsWith('api-')],
      ['{instance=~"api"}', () => false], // anchored: matches no instance
      ['{instance!~"api-[0-9]+"}', (s) => !/^api-[0-9]+$/.test(s.labels.instance!)],
      ['{route="/api"}', (s) => s.labels.route === '/api'],
      ['{route=""}', (s) => s.labels.route === undefined],
      ['{route!=""}', (s) => s.labels.route !== undefined],
      ['{env="prod", route=~"/a.*|/home"}', (s) => s.labels.env === 'prod' && !!s.labels.route],
      [
        '{service_version="1.1.0", instance="api-2"}',
        (s) => s.labels.service_version === '1.1.0' && s.labels.instance === 'api-2',
      ],
      ['{env="prod\' OR 1=1 --"}', () => false],
    ]
    it.each(selectors)('filters series by %s', async (query, keep) => {
      const samples = inWindow(known, ALL.from, ALL.to).filter(keep)
      const graph = await flamegraph({ ...ALL, query })
      expect(graph.total).toBe(sum(samples))
      expectTreeMatches(graph.root, samples)
    })

    it('truncates to maxNodes with exact totals and "other" per parent', async () => {
      const samples = inWindow(known, ALL.from, ALL.to)
      for (const maxNodes of [2, 4, 7, 10]) {
        const graph = await flamegraph({ ...ALL, maxNodes })
        expect(countNodes(graph.root)).toBeLessThanOrEqual(maxNodes)
        expect(graph.root.value).toBe(sum(samples))
        const check = (node: FlameNode, path: string[]): void => {
          expect(node.value).toBe(node.self + node.children.reduce((a, c) => a + c.value, 0))
          for (const child of node.children) {
            if (child.name === OTHER_NODE_NAME && child.file === undefined) continue
            const childPath = [...path, `${child.name}@${child.file}`]
            const { total, self } = expectedNode(samples, childPath)
            expect(child).toMatchObject({ value: total, self })
            check(child, childPath)
          }
        }
        check(graph.root, [])
      }
      // main is about 90% of the window: with 4 nodes it stays, folded below.
      const four = await flamegraph({ ...ALL, maxNodes: 4 })
      expect(four.root.children.map((c) => c.name)).toEqual(['main', OTHER_NODE_NAME])
    })

    it('answers bad input with KILN_ERR_QUERY_INVALID or a validation error', async () => {
      const cases: [Record<string, string | number>, number, string, RegExp][] = [
        [{ ...ALL, query: '{env="prod"' }, 400, 'KILN_ERR_QUERY_INVALID', /expected ','/],
        [{ ...ALL, query: 'env="prod"' }, 400, 'KILN_ERR_QUERY_INVALID', /expected '\{'/],
        [{ ...ALL, query: '{instance=~"api-("}' }, 400, 'KILN_ERR_QUERY_INVALID', /regex/],
        [{ from: ALL.to, to: ALL.from }, 400, 'KILN_ERR_QUERY_INVALID', /before/],
        [{ ...ALL, type: 'nope' }, 400, 'KILN_ERR_BAD_REQUEST', /type/],
        [{ ...ALL, maxNodes: 1 }, 400, 'KILN_ERR_BAD_REQUEST', /maxNodes/],
        // Beyond the latest time a Date holds: the client's mistake, not a store error.
        [{ ...ALL, to: 'now+20000000w' }, 400, 'KILN_ERR_TIME_INVALID', /to/],
        // Times as people write them, and nothing else: the schema would read these as numbers.
        [{ ...ALL, from: '0x10' }, 400, 'KILN_ERR_TIME_INVALID', /from/],
        [{ ...ALL, to: '1e13' }, 400, 'KILN_ERR_TIME_INVALID', /to/],
        [{ ...ALL, from: 'yesterday' }, 400, 'KILN_ERR_TIME_INVALID', /from.*now-1h/],
        [{ ...ALL, from: 'now-1y' }, 400, 'KILN_ERR_TIME_INVALID', /from/],
        [{ ...ALL, to: '2026-12-01T09:00:00' }, 400, 'KILN_ERR_TIME_INVALID', /to/],
      ]
      for (const [params, status, code, message] of cases) {
        const { status: s, body } = await getError('/flamegraph', {
          service: 'shop',
          type: 'cpu',
          ...params,
        })
        expect(s, JSON.stringify(body)).toBe(status)
        expect(body.code).toBe(code)
        expect(body.message).toMatch(message)
      }
    })

    it('reads times as people write them: seconds, nanoseconds, RFC 3339, relative', async () => {
      const inMs = await flamegraph(ALL)
      const iso = (ms: number) => new Date(ms).toISOString()
      for (const window of [
        { from: ALL.from / 1000, to: ALL.to / 1000 },
        { from: `${ALL.from}000000`, to: `${ALL.to}000000` },
        { from: iso(ALL.from), to: iso(ALL.to).replace('Z', '+00:00') },
      ]) {
        const res = await flamegraph(window)
        expect([res.from, res.to]).toEqual([ALL.from, ALL.to])
        expect(res.root).toEqual(inMs.root)
      }
      // Relative to the request's now: the window ends within the second of it.
      const before = Date.now()
      const relative = await flamegraph({ from: 'now-15m', to: 'now' })
      expect(relative.to - relative.from).toBe(15 * 60 * S)
      expect(relative.to).toBeGreaterThanOrEqual(before)
      expect(relative.to).toBeLessThanOrEqual(Date.now())
    })

    it('averages gauges per series before summing, with a selector', async () => {
      const window = { from: T0, to: T0 + 60 * S }
      const avgA = HEAP_A.reduce((a, b) => a + b, 0) / HEAP_A.length
      const both = await get<FlamegraphResponse>('/flamegraph', {
        service: 'heapy',
        type: 'heap_inuse_space',
        ...window,
      })
      expect(findNode(both.root, ['main@m.js', 'cache@c.js'])?.value).toBeCloseTo(avgA + 2500, 9)
      const onlyA = await get<FlamegraphResponse>('/flamegraph', {
        service: 'heapy',
        type: 'heap_inuse_space',
        ...window,
        query: '{instance="a"}',
      })
      expect(onlyA.total).toBeCloseTo(avgA + 1000, 9)
    })
  })

  describe('top', () => {
    it('lists every function with self and total (once per stack under recursion)', async () => {
      const samples = inWindow(known, ALL.from, ALL.to)
      const top = await get<TopResponse>('/top', {
        service: 'shop',
        type: 'cpu',
        ...ALL,
        limit: 100,
      })
      expect(top.total).toBe(sum(samples))
      const expected = frames(samples)
        .map((f) => ({
          name: nameOf(f),
          file: fileOf(f),
          line: 1,
          ...expectedFunction(samples, f),
        }))
        .sort((a, b) => b.self - a.self || b.total - a.total || byFrame(a, b))
      expect(top.functions).toEqual(expected)
      // Recursion: render's total counts the recursive stack once, not twice.
      const render = top.functions.find((f) => f.name === 'render')!
      expect(render.total).toBe(sum(samples.filter((s) => s.stack.includes(RENDER))))
      expect(render.total).toBeLessThan(
        samples.reduce((a, s) => a + s.value * s.stack.filter((f) => f === RENDER).length, 0),
      )
    })

    it('sorts by total and limits, with a selector', async () => {
      const samples = inWindow(known, B.from, B.to).filter((s) => s.labels.env === 'staging')
      const top = await get<TopResponse>('/top', {
        service: 'shop',
        type: 'cpu',
        ...B,
        query: '{env="staging"}',
        sort: 'total',
        limit: 3,
      })
      const expected = frames(samples)
        .map((f) => ({ name: nameOf(f), file: fileOf(f), ...expectedFunction(samples, f) }))
        .sort((a, b) => b.total - a.total || b.self - a.self || byFrame(a, b))
        .slice(0, 3)
      expect(top.functions.map((f) => [f.name, f.self, f.total])).toEqual(
        expected.map((f) => [f.name, f.self, f.total]),
      )
      expect(top.sort).toBe('total')
    })
  })

  describe('diff', () => {
    const diffParams = {
      service: 'shop',
      type: 'cpu',
      baseFrom: A.from,
      baseTo: A.to,
      compFrom: B.from,
      compTo: B.to,
    }

    const expectDiffMatches = (diff: DiffResponse, base: KnownSample[], comp: KnownSample[]) => {
      expect(diff.baseline.total).toBe(sum(base))
      expect(diff.comparison.total).toBe(sum(comp))
      expect(diff.root).toMatchObject({ baseTotal: sum(base), compTotal: sum(comp) })
      const all = paths([...base, ...comp])
      expect(countNodes(diff.root)).toBe(all.length + 1)
      for (const path of all) {
        const b = expectedNode(base, path)
        const c = expectedNode(comp, path)
        expect(findNode<DiffNode>(diff.root, path), path.join(' > ')).toMatchObject({
          baseTotal: b.total,
          baseSelf: b.self,
          compTotal: c.total,
          compSelf: c.self,
        })
      }
    }

    it('gives every node both windows, absolute, and both totals', async () => {
      const base = inWindow(known, A.from, A.to)
      const comp = inWindow(known, B.from, B.to)
      const diff = await get<DiffResponse>('/diff', diffParams)
      expect(diff.baseline).toMatchObject({ from: A.from, to: A.to, query: '{}' })
      expectDiffMatches(diff, base, comp)
      // idle only in the baseline, the /home handler only in the comparison.
      expect(findNode<DiffNode>(diff.root, ['idle@idle.js'])).toMatchObject({ compTotal: 0 })
      expect(findNode<DiffNode>(diff.root, [MAIN, HANDLE])!.compSelf).toBe(
        sum(comp.filter((s) => s.stack.length === 2 && s.stack[1] === HANDLE)),
      )
    })

    it('compares two versions by selector like two time windows', async () => {
      const byVersion = await get<DiffResponse>('/diff', {
        service: 'shop',
        type: 'cpu',
        baseFrom: ALL.from,
        baseTo: ALL.to,
        compFrom: ALL.from,
        compTo: ALL.to,
        baseQuery: '{service_version="1.0.0", env="prod"}',
        compQuery: '{service_version="1.1.0", env="prod"}',
      })
      expect(byVersion.comparison.query).toBe('{service_version="1.1.0", env="prod"}')
      const prod = known.filter((s) => s.labels.env === 'prod')
      expectDiffMatches(
        byVersion,
        prod.filter((s) => s.labels.service_version === '1.0.0'),
        prod.filter((s) => s.labels.service_version === '1.1.0'),
      )
    })

    it('ranks the functions that grew and shrank, by share and by absolute value', async () => {
      const base = inWindow(known, A.from, A.to)
      const comp = inWindow(known, B.from, B.to)
      const [bt, ct] = [sum(base), sum(comp)]
      const all = frames([...base, ...comp]).map((f) => {
        const b = expectedFunction(base, f)
        const c = expectedFunction(comp, f)
        return {
          name: nameOf(f),
          file: fileOf(f),
          selfShare: c.self / ct - b.self / bt,
          totalShare: c.total / ct - b.total / bt,
          selfDelta: c.self - b.self,
          totalDelta: c.total - b.total,
        }
      })
      const ranked = (key: keyof (typeof all)[number], sign: 1 | -1) =>
        all
          .filter((f) => sign * (f[key] as number) > 1e-12)
          .sort((x, y) => sign * ((y[key] as number) - (x[key] as number)) || byFrame(x, y))
          .map((f) => `${f.name}@${f.file}`)

      const share = await get<DiffResponse>('/diff', { ...diffParams, limit: 50 })
      const names = (list: { name: string; file?: string }[]) =>
        list.map((f) => `${f.name}@${f.file}`)
      expect(share.changes.rankBy).toBe('share')
      expect(names(share.changes.self.grew)).toEqual(ranked('selfShare', 1))
      expect(names(share.changes.self.shrank)).toEqual(ranked('selfShare', -1))
      expect(names(share.changes.total.grew)).toEqual(ranked('totalShare', 1))
      expect(names(share.changes.total.shrank)).toEqual(ranked('totalShare', -1))
      expect(share.changes.self.grew[0]!.name).toBe('json')
      const json = share.changes.self.grew[0]!
      const expectedJson = all.find((f) => f.name === 'json')!
      expect(json.selfShare).toBeCloseTo(expectedJson.selfShare, 12)
      expect(json.selfDelta).toBe(expectedJson.selfDelta)

      const absolute = await get<DiffResponse>('/diff', {
        ...diffParams,
        rankBy: 'absolute',
        limit: 2,
      })
      expect(names(absolute.changes.self.grew)).toEqual(ranked('selfDelta', 1).slice(0, 2))
      expect(names(absolute.changes.total.shrank)).toEqual(ranked('totalDelta', -1).slice(0, 2))
    })

    it('defaults to the last 15 minutes against the 15 before, and checks window order', async () => {
      const diff = await get<DiffResponse>('/diff', { service: 'shop', type: 'cpu' })
      expect(diff.comparison.to - diff.comparison.from).toBe(15 * 60 * S)
      expect(diff.baseline.to).toBe(diff.comparison.from)
      expect(diff.baseline.to - diff.baseline.from).toBe(15 * 60 * S)
      const { status, body } = await getError('/diff', {
        ...diffParams,
        baseFrom: A.to,
        baseTo: A.from,
      })
      expect(status).toBe(400)
      expect(body).toMatchObject({ code: 'KILN_ERR_QUERY_INVALID' })
      expect(body.message).toMatch(/baseFrom/)
      const bad = await getError('/diff', { ...diffParams, compQuery: '{env=~"("}' })
      expect(bad.body.code).toBe('KILN_ERR_QUERY_INVALID')
    })

    it('truncates the diff tree to maxNodes, keeping both totals', async () => {
      const diff = await get<DiffResponse>('/diff', { ...diffParams, maxNodes: 6 })
      expect(countNodes(diff.root)).toBeLessThanOrEqual(6)
      const check = (n: DiffNode): void => {
        const kids = n.children
        expect(n.baseTotal).toBe(n.baseSelf + kids.reduce((a, c) => a + c.baseTotal, 0))
        expect(n.compTotal).toBe(n.compSelf + kids.reduce((a, c) => a + c.compTotal, 0))
        kids.forEach(check)
      }
      check(diff.root)
      expect(diff.root.baseTotal).toBe(sum(inWindow(known, A.from, A.to)))
    })
  })

  describe('timeline', () => {
    const bucketSums = (samples: KnownSample[], first: number, step: number, n: number) =>
      Array.from({ length: n }, (_, i) => {
        const inBucket = samples.filter(
          (s) => s.at >= first + i * step && s.at < first + (i + 1) * step,
        )
        return inBucket.length === 0 ? null : sum(inBucket)
      })

    it('sums cumulative totals per bucket, from profiles or samples alike', async () => {
      const step = 20 * S
      const plain = await get<TimelineResponse>('/timeline', {
        service: 'shop',
        type: 'cpu',
        ...ALL,
        step,
      })
      const n = (ALL.to - ALL.from) / step
      expect(plain.timestamps).toEqual(Array.from({ length: n }, (_, i) => ALL.from + i * step))
      expect(plain.values).toEqual(bucketSums(known, ALL.from, step, n))
      // A selector matching every series takes the samples path: the same numbers.
      const everything = await get<TimelineResponse>('/timeline', {
        service: 'shop',
        type: 'cpu',
        ...ALL,
        step,
        query: '{instance=~".+"}',
      })
      expect(everything.values).toEqual(plain.values)
      const staging = await get<TimelineResponse>('/timeline', {
        service: 'shop',
        type: 'cpu',
        ...ALL,
        step,
        query: '{env="staging"}',
      })
      expect(staging.values).toEqual(
        bucketSums(
          known.filter((s) => s.labels.env === 'staging'),
          ALL.from,
          step,
          n,
        ),
      )
    })

    it('splits totals by a label, per sample label too, and the groups add up', async () => {
      const step = 20 * S
      const n = (ALL.to - ALL.from) / step
      for (const label of ['instance', 'route']) {
        const split = await get<TimelineResponse>('/timeline', {
          service: 'shop',
          type: 'cpu',
          ...ALL,
          step,
          groupBy: label,
        })
        const values = [...new Set(known.map((k) => k.labels[label] ?? ''))]
        expect(split.groups!.map((g) => g.value).sort()).toEqual(values.sort())
        for (const group of split.groups!) {
          const mine = known.filter((k) => (k.labels[label] ?? '') === group.value)
          expect(group.values, `${label}=${group.value}`).toEqual(
            bucketSums(mine, ALL.from, step, n),
          )
        }
        // Largest first.
        const totals = split.groups!.map((g) => g.values.reduce<number>((a, v) => a + (v ?? 0), 0))
        expect(totals).toEqual([...totals].sort((a, b) => b - a))
      }
      const heap = await app.inject({
        url: `/api/v1/timeline?service=shop&type=heap_inuse_space&from=${ALL.from}&to=${ALL.to}&groupBy=instance`,
      })
      expect(heap.statusCode).toBe(400)
    })

    it('chooses the step from the window', async () => {
      const quarter = await get<TimelineResponse>('/timeline', {
        service: 'shop',
        type: 'cpu',
        from: T0,
        to: T0 + 15 * 60 * S,
      })
      expect(quarter.step).toBe(10 * S)
      expect(quarter.values).toHaveLength(90)
      expect(quarter.values.slice(0, 12)).toEqual(bucketSums(known, T0, 10 * S, 12))
      const day = await get<TimelineResponse>('/timeline', {
        service: 'shop',
        type: 'cpu',
        from: T0 - 12 * 3600 * S,
        to: T0 + 12 * 3600 * S,
      })
      expect(day.step).toBe(5 * 60 * S)
      expect(day.values).toHaveLength(288)
      expect(day.values.filter((v) => v !== null)).toEqual([sum(known)])
    })

    it('averages gauge series per bucket, then sums them', async () => {
      const tl = await get<TimelineResponse>('/timeline', {
        service: 'heapy',
        type: 'heap_inuse_space',
        from: T0,
        to: T0 + 60 * S,
        step: 30 * S,
      })
      const avgA = (HEAP_A.reduce((a, b) => a + b, 0) + 3 * 1000) / 3
      // Bucket 1: a's three snapshots and b at T0; bucket 2: b at +30 s.
      expect(tl.values[0]).toBeCloseTo(avgA + 2000 + 1000, 9)
      expect(tl.values[1]).toBe(3000 + 1000)
      expect(tl.aggregation).toBe('gauge')
    })

    it('refuses a step giving too many buckets', async () => {
      const { status, body } = await getError('/timeline', {
        service: 'shop',
        type: 'cpu',
        from: 0,
        to: T0,
        step: 1000,
      })
      expect(status).toBe(400)
      expect(body.code).toBe('KILN_ERR_QUERY_INVALID')
    })
  })

  describe('catalog', () => {
    it('lists profile types', async () => {
      const res = await get<ProfileTypesResponse>('/profile-types', { service: 'heapy' })
      expect(res.types.map((t) => [t.name, t.unit, t.aggregation])).toEqual([
        ['heap_inuse_space', 'bytes', 'gauge'],
      ])
      expect(res.types[0]!.lastSeen).toBe(T0 + 30 * S + 10 * S)
    })

    it('lists label names and values of the series sampled in a window', async () => {
      const names = (samples: KnownSample[]) =>
        [...new Set(samples.flatMap((s) => Object.keys(s.labels)))].sort()
      const inA = await get<LabelsResponse>('/labels', { service: 'shop', ...A })
      expect(inA.names).toEqual(names(inWindow(known, A.from, A.to)))
      const late = await get<LabelsResponse>('/labels', {
        service: 'shop',
        from: B.to,
        to: B.to + 60 * S,
      })
      expect(late.names).toEqual([])

      const values = await get<LabelValuesResponse>('/label-values', {
        service: 'shop',
        name: 'route',
        ...B,
      })
      expect(values.values).toEqual(['/api', '/home'])
      expect(values.truncated).toBe(false)
      const inAOnly = await get<LabelValuesResponse>('/label-values', {
        service: 'shop',
        name: 'route',
        ...A,
      })
      expect(inAOnly.values).toEqual(['/api'])
      const narrowed = await get<LabelValuesResponse>('/label-values', {
        service: 'shop',
        name: 'instance',
        ...ALL,
        type: 'cpu',
        query: '{env="prod"}',
        limit: 1,
      })
      expect(narrowed).toMatchObject({ values: ['api-1'], truncated: true })
    })

    it('lists versions with first and last seen', async () => {
      const res = await get<VersionsResponse>('/versions', { service: 'shop' })
      const expected = ['1.0.0', '1.1.0'].map((version) => {
        const ats = shop.filter((u) => u.labels.service_version === version).map((u) => u.at)
        return {
          version,
          firstSeen: Math.min(...ats),
          lastSeen: Math.max(...ats) + 10 * S,
          profiles: ats.length,
        }
      })
      expect(res.versions).toEqual(expected)
    })
  })
})
