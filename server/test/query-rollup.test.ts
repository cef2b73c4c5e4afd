import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type {
  DiffResponse,
  FlamegraphResponse,
  LabelValuesResponse,
  LabelsResponse,
  ProfileTypeName,
  TimelineResponse,
  TopResponse,
} from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { DEFAULT_TENANT } from '../src/http/access-policy.js'
import { queryLabelNames, queryLabelValues } from '../src/query/catalog.js'
import { queryDiff } from '../src/query/diff.js'
import { queryFlamegraph } from '../src/query/flamegraph.js'
import { DEFAULT_MAX_NODES, DEFAULT_MAX_STACKS } from '../src/query/schemas.js'
import { parseSelector } from '../src/query/selector.js'
import { queryTimeline } from '../src/query/timeline.js'
import { queryTop } from '../src/query/top.js'
import { ROLLUP } from '../src/store/schema.js'
import { selectRows } from '../src/store/select-rows.js'
import {
  ingestUploads,
  inWindow,
  knownSamples,
  queryString,
  sum,
  type KnownSample,
  type Upload,
} from './helpers/query-fixture.js'

/**
 * The hourly rollup gives the same answers as the raw samples. Every query is asked twice: over
 * HTTP, where whole hours come from `samples_hourly` once a run rolled them up, and directly with
 * no rollup (every sample read from `samples`); the two must be equal to the last digit, for
 * cumulative and gauge types, windows that are whole hours, ragged ones and ones with no whole
 * hour. Totals are also checked against sums computed here from the input.
 */

const S = 1000
const MIN = 60 * S
const HOUR = 60 * MIN
/** Four hours of data, ending well in the past (ingest refuses the future). */
const H0 = Math.floor(Date.now() / HOUR) * HOUR - 8 * HOUR
const UPLOADS_PER_HOUR = 6

const WINDOWS = {
  aligned: { from: H0, to: H0 + 4 * HOUR },
  ragged: { from: H0 + 7 * MIN, to: H0 + 3 * HOUR + 53 * MIN },
  oneHour: { from: H0 + 30 * MIN, to: H0 + 2 * HOUR + 10 * MIN },
  short: { from: H0 + 10 * MIN, to: H0 + 50 * MIN },
  wide: { from: H0 - 2 * HOUR + 5 * S, to: H0 + 6 * HOUR },
}
type WindowName = keyof typeof WINDOWS
/** Windows holding at least one whole hour, which the rollup answers (in part). */
const ROLLED: WindowName[] = ['aligned', 'ragged', 'oneHour', 'wide']

const MAIN = 'main@app.js'
const HANDLE = 'handle@app.js'
const RENDER = 'render@view.js'

/**
 * CPU of three instances every 10 minutes: stacks that come and go by hour, sample labels (more
 * series), and one upload sent twice (a retry: stored once, `sentTwice` leaves it out of the
 * expectations).
 */
function cpuUploads(): Upload[] {
  const instances = [
    { instance: 'api-1', env: 'prod' },
    { instance: 'api-2', env: 'prod' },
    { instance: 'worker-1', env: 'staging' },
  ]
  const uploads: Upload[] = []
  for (const [i, labels] of instances.entries()) {
    for (let k = 0; k < 4 * UPLOADS_PER_HOUR; k++) {
      const samples: Upload['samples'] = [
        { stack: [MAIN, HANDLE, RENDER, RENDER, 'escape@view.js'], value: 100 + 10 * i + k },
        { stack: [MAIN, HANDLE, RENDER], value: 40 + i },
        { stack: [MAIN, 'gc@gc.js'], value: k < 12 ? 20 : 5 },
        {
          stack: [MAIN, HANDLE, 'util@b.js', 'json@json.js'],
          value: 10 + 3 * k,
          labels: { route: '/api' },
        },
      ]
      if (k % UPLOADS_PER_HOUR === 2) samples.push({ stack: [MAIN, 'cron@cron.js'], value: 77 })
      if (k >= 18) samples.push({ stack: [MAIN, HANDLE], value: 7, labels: { route: '/home' } })
      const upload: Upload = {
        service: 'shop',
        at: H0 + k * 10 * MIN + i * 7 * S,
        labels,
        sampleType: ['cpu', 'nanoseconds'],
        samples,
      }
      uploads.push(upload)
      if (i === 0 && k === 3) uploads.push({ ...upload, resent: true })
    }
  }
  return uploads
}

/**
 * Heap snapshots (a gauge) every 10 minutes: `a` grows; `b` skips its second hour; a series set
 * by a sample label is in every other snapshot of `a` only; `b` sends one snapshot twice (a
 * retry: stored once).
 */
function heapUploads(): Upload[] {
  const uploads: Upload[] = []
  for (let k = 0; k < 4 * UPLOADS_PER_HOUR; k++) {
    const at = H0 + k * 10 * MIN + 3 * S
    const a: Upload['samples'] = [
      { stack: ['main@m.js', 'cache@c.js'], value: 1000 * (k + 1) },
      { stack: ['main@m.js', 'buffers@b.js'], value: 500 },
    ]
    if (k % 2 === 0)
      a.push({ stack: ['main@m.js', 'lru@l.js'], value: 300 + k, labels: { pool: 'x' } })
    uploads.push(heap(at, 'a', a))
    if (k >= UPLOADS_PER_HOUR && k < 2 * UPLOADS_PER_HOUR) continue
    const b = heap(at + 2 * S, 'b', [
      { stack: ['main@m.js', 'cache@c.js'], value: 2000 + k },
      { stack: ['main@m.js', 'buffers@b.js'], value: 300 },
    ])
    uploads.push(b)
    if (k === 13) uploads.push({ ...b, resent: true })
  }
  return uploads
}

function heap(at: number, instance: string, samples: Upload['samples']): Upload {
  return {
    service: 'heapy',
    at,
    labels: { instance },
    sampleType: ['inuse_space', 'bytes'],
    samples,
  }
}

/**
 * A gauge's window total computed from the input: per instance (the upload's labels), the sum of
 * its `selected` samples over its number of snapshots among `all` the window's samples.
 */
function gaugeTotal(selected: KnownSample[], all: KnownSample[]): number {
  const instanceOf = (s: KnownSample) => JSON.stringify(Object.entries(s.uploadLabels).sort())
  const snapshots = new Map<string, Set<number>>()
  for (const s of all) {
    const times = snapshots.get(instanceOf(s)) ?? new Set<number>()
    times.add(s.at)
    snapshots.set(instanceOf(s), times)
  }
  return selected.reduce((total, s) => total + s.value / snapshots.get(instanceOf(s))!.size, 0)
}

/** A response as it travels in JSON, to compare with one computed directly. */
const asJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T

describe('hourly rollup: the same answers as the raw samples', () => {
  let app: FastifyInstance
  let dataDir: string
  // A re-sent upload is stored once: the expectations count it once.
  const cpu = knownSamples(cpuUploads().filter((u) => !u.resent))
  const heapSamples = knownSamples(heapUploads().filter((u) => !u.resent))

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-rollup-'))
    // No margin: the runs start after the inserts ended (the schedule is off; run() by hand).
    app = await buildApp(
      resolveConfig({
        dataDir,
        logLevel: 'silent',
        insertBatchWaitMs: 1,
        rollupIntervalMs: 0,
        rollupMarginMs: 0,
      }),
    )
    await ingestUploads(app, [...cpuUploads(), ...heapUploads()])
    await app.store.rollup.run()
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const db = () => app.store.database
  const client = () => app.store.client

  /** GET a query route, and whether its statements read the rollup. */
  const get = async <T>(path: string, params: Record<string, string | number>) => {
    const spy = vi.spyOn(client(), 'query')
    try {
      const res = await app.inject({ url: `/api/v1${path}?${queryString(params)}` })
      expect(res.statusCode, res.body).toBe(200)
      const rolled = spy.mock.calls.some(([p]) => new RegExp(`\\.${ROLLUP.table}\\b`).test(p.query))
      return { body: res.json<T>(), rolled }
    } finally {
      spy.mockRestore()
    }
  }

  /** Direct query arguments of a window with no rollup. */
  const raw = (service: string, type: ProfileTypeName, name: WindowName, query = '') => ({
    tenant: DEFAULT_TENANT,
    service,
    type,
    ...WINDOWS[name],
    selector: parseSelector(query),
  })

  it('rolls up each hour with samples once', async () => {
    const runs = await selectRows<{ hour: string; n: string }>(
      client(),
      `SELECT toUnixTimestamp(bucket) * 1000 AS hour, count() AS n
        FROM ${db()}.${ROLLUP.runsTable} GROUP BY hour ORDER BY hour`,
      {},
    )
    expect(runs.map((r) => [Number(r.hour), Number(r.n)])).toEqual(
      [0, 1, 2, 3].map((h) => [H0 + h * HOUR, 1]),
    )
    expect(await app.store.rollup.run()).toBe(0)
    expect([...(await app.store.rollup.rolledHours()).keys()].sort()).toEqual(
      [0, 1, 2, 3].map((h) => H0 + h * HOUR),
    )
  })

  const flameCases: [string, ProfileTypeName, string][] = [
    ['shop', 'cpu', ''],
    ['shop', 'cpu', '{env="prod"}'],
    ['shop', 'cpu', '{route="/api"}'],
    ['heapy', 'heap_inuse_space', ''],
    ['heapy', 'heap_inuse_space', '{instance="a"}'],
    ['heapy', 'heap_inuse_space', '{pool=""}'],
  ]
  describe.each(flameCases)('flame graph of %s %s %s', (service, type, query) => {
    it.each(Object.keys(WINDOWS) as WindowName[])('equals raw over the %s window', async (w) => {
      const { body, rolled } = await get<FlamegraphResponse>('/flamegraph', {
        service,
        type,
        ...WINDOWS[w],
        query,
      })
      expect(rolled).toBe(ROLLED.includes(w))
      const direct = await queryFlamegraph(client(), db(), {
        ...raw(service, type, w, query),
        maxStacks: DEFAULT_MAX_STACKS,
        maxNodes: DEFAULT_MAX_NODES,
      })
      expect(body).toEqual(asJson(direct))
      // And both hold what the input says.
      const keep = (s: KnownSample) =>
        parseSelector(query).every((m) => (s.labels[m.name] ?? '') === m.value)
      const input = inWindow(type === 'cpu' ? cpu : heapSamples, WINDOWS[w].from, WINDOWS[w].to)
      const expected =
        type === 'cpu' ? sum(input.filter(keep)) : gaugeTotal(input.filter(keep), input)
      expect(body.total).toBeCloseTo(expected, 6)
      if (type === 'cpu') expect(body.total).toBe(expected)
    })
  })

  it('gives the same diff, per node and ranked, with one or both windows rolled up', async () => {
    const cases: [WindowName, string, WindowName, string][] = [
      ['ragged', '', 'aligned', ''],
      ['oneHour', '{env="staging"}', 'short', '{env="prod"}'],
      ['wide', '{route="/api"}', 'ragged', '{route=""}'],
    ]
    for (const type of ['cpu', 'heap_inuse_space'] as const) {
      const service = type === 'cpu' ? 'shop' : 'heapy'
      for (const [base, baseQuery, comp, compQuery] of cases) {
        const { body, rolled } = await get<DiffResponse>('/diff', {
          service,
          type,
          baseFrom: WINDOWS[base].from,
          baseTo: WINDOWS[base].to,
          compFrom: WINDOWS[comp].from,
          compTo: WINDOWS[comp].to,
          baseQuery,
          compQuery,
          limit: 50,
        })
        expect(rolled).toBe(true)
        const direct = await queryDiff(client(), db(), {
          baseline: raw(service, type, base, baseQuery),
          comparison: raw(service, type, comp, compQuery),
          maxStacks: DEFAULT_MAX_STACKS,
          maxNodes: DEFAULT_MAX_NODES,
          limit: 50,
          rankBy: 'share',
        })
        expect(body).toEqual(asJson(direct))
      }
    }
  })

  it('gives the same top functions', async () => {
    for (const [service, type, query] of flameCases) {
      for (const w of ROLLED) {
        for (const sort of ['self', 'total'] as const) {
          const { body, rolled } = await get<TopResponse>('/top', {
            service,
            type,
            ...WINDOWS[w],
            query,
            sort,
          })
          expect(rolled).toBe(true)
          const direct = await queryTop(client(), db(), {
            ...raw(service, type, w, query),
            sort,
            limit: 100,
            maxStacks: DEFAULT_MAX_STACKS,
          })
          expect(body).toEqual(asJson(direct))
        }
      }
    }
  })

  it('gives the same timeline when the step is whole hours, and reads raw otherwise', async () => {
    const cases: [string, ProfileTypeName, string, number, boolean][] = [
      // Cumulative without a selector reads the profiles table, rollup or not.
      ['shop', 'cpu', '{env="prod"}', HOUR, true],
      ['shop', 'cpu', '{route=~"/.*"}', 2 * HOUR, true],
      ['heapy', 'heap_inuse_space', '', HOUR, true],
      ['heapy', 'heap_inuse_space', '{instance="b"}', 3 * HOUR, true],
      ['heapy', 'heap_inuse_space', '', 15 * MIN, false],
    ]
    for (const [service, type, query, step, usesRollup] of cases) {
      for (const w of ['ragged', 'wide', 'aligned'] as const) {
        const { body, rolled } = await get<TimelineResponse>('/timeline', {
          service,
          type,
          ...WINDOWS[w],
          query,
          step,
        })
        expect(rolled, `${service} ${query} ${step} ${w}`).toBe(usesRollup)
        const direct = await queryTimeline(client(), db(), {
          ...raw(service, type, w, query),
          step,
        })
        expect(body).toEqual(asJson(direct))
        expect(body.values.some((v) => v !== null)).toBe(true)
      }
    }
    // Cumulative buckets also match the input, hour by hour.
    const { body } = await get<TimelineResponse>('/timeline', {
      service: 'shop',
      type: 'cpu',
      ...WINDOWS.ragged,
      query: '{env="prod"}',
      step: HOUR,
    })
    const prod = cpu.filter((s) => s.labels.env === 'prod')
    expect(body.values).toEqual(
      body.timestamps.map((t) => {
        const from = Math.max(t, WINDOWS.ragged.from)
        const samples = inWindow(prod, from, Math.min(t + HOUR, WINDOWS.ragged.to))
        return samples.length === 0 ? null : sum(samples)
      }),
    )
  })

  it('lists the same label names and values', async () => {
    for (const w of ROLLED) {
      const names = await get<LabelsResponse>('/labels', { service: 'shop', ...WINDOWS[w] })
      expect(names.rolled).toBe(true)
      expect(names.body).toEqual(
        asJson(
          await queryLabelNames(client(), db(), { ...raw('shop', 'cpu', w), type: undefined }),
        ),
      )
      expect(names.body.names).toContain('route')
      const values = await get<LabelValuesResponse>('/label-values', {
        service: 'heapy',
        type: 'heap_inuse_space',
        name: 'pool',
        ...WINDOWS[w],
      })
      expect(values.body).toEqual(
        asJson(
          await queryLabelValues(client(), db(), {
            ...raw('heapy', 'heap_inuse_space', w),
            name: 'pool',
            limit: 1000,
          }),
        ),
      )
      expect(values.body.values).toEqual(['x'])
    }
  })
})
