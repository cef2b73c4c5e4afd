import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { Profile } from 'pprof-format'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FlameNode, FlamegraphResponse, TopResponse } from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import {
  ingestUploads,
  inWindow,
  knownSamples,
  queryString,
  sum,
  type Upload,
  recentNoon,
} from './helpers/query-fixture.js'

const T0 = recentNoon()
const S = 1000
const WINDOW = { from: T0, to: T0 + 60 * S }

/** CPU of two instances, values large enough that pprof's display rounding would show. */
function uploads(): Upload[] {
  return ['a', 'b'].flatMap((instance, i) =>
    [0, 1, 2].map((k): Upload => ({
      service: 'shop',
      at: T0 + k * 10 * S,
      labels: { instance },
      sampleType: ['cpu', 'nanoseconds'],
      samples: [
        { stack: ['main@app.js', 'parse@json.js'], value: 123_456_789 + 1_000 * k + i },
        { stack: ['main@app.js', 'render@view.js', 'render@view.js'], value: 45_678_901 + k },
        { stack: ['main@app.js', 'render@view.js'], value: 7_000_003 * (i + 1) },
        { stack: ['main@app.js'], value: 13 },
      ],
    })),
  )
}

function heapUploads(): Upload[] {
  return [1000, 2001, 3003].map((bytes, k) => ({
    service: 'heapy',
    at: T0 + k * 10 * S,
    labels: { instance: 'a' },
    sampleType: ['inuse_space', 'bytes'],
    samples: [
      { stack: ['main@m.js', 'cache@c.js'], value: bytes * 1000 },
      { stack: ['main@m.js', 'buffers@b.js'], value: 4096 },
    ],
  }))
}

/** Collapsed stacks (`a;b;c` -> value) of a flame graph's leaves and selfs. */
function collapsed(root: FlameNode): Map<string, number> {
  const out = new Map<string, number>()
  const walk = (node: FlameNode, path: string[]) => {
    if (node.self > 0 && path.length > 0) out.set(path.join(';'), node.self)
    for (const c of node.children) walk(c, [...path, c.name])
  }
  walk(root, [])
  return out
}

/** Collapsed stacks of a decoded pprof (first sample type). */
function collapsedPprof(profile: Profile): Map<string, number> {
  const strings = profile.stringTable.strings
  const fnName = new Map(profile.function.map((f) => [String(f.id), strings[Number(f.name)]!]))
  const locName = new Map(
    profile.location.map((l) => [String(l.id), fnName.get(String(l.line[0]!.functionId))!]),
  )
  const out = new Map<string, number>()
  for (const sample of profile.sample) {
    const key = [...sample.locationId]
      .reverse()
      .map((id) => locName.get(String(id)))
      .join(';')
    out.set(key, (out.get(key) ?? 0) + Number(sample.value[0]))
  }
  return out
}

function goToolPprof(args: string[]): string {
  const result = spawnSync('go', ['tool', 'pprof', ...args], { encoding: 'utf8', timeout: 60_000 })
  expect(result.error, 'go must be on PATH (Debian: apt-get install golang-go)').toBeUndefined()
  expect(result.status, result.stderr).toBe(0)
  return result.stdout
}

describe('merged pprof export', () => {
  let app: FastifyInstance
  let dir: string
  const shop = uploads()
  const known = knownSamples(shop)

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-export-'))
    app = await buildApp(
      resolveConfig({ dataDir: join(dir, 'data'), logLevel: 'silent', insertBatchWaitMs: 1 }),
    )
    await ingestUploads(app, [...shop, ...heapUploads()])
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const exportTo = async (file: string, params: Record<string, string | number>) => {
    const res = await app.inject({ url: `/api/v1/export/pprof?${queryString(params)}` })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.headers['content-type']).toBe('application/octet-stream')
    expect(res.headers['content-disposition']).toMatch(/attachment; filename=".+\.pb\.gz"/)
    writeFileSync(join(dir, file), res.rawPayload)
    return { path: join(dir, file), profile: Profile.decode(gunzipSync(res.rawPayload)) }
  }

  const getJson = async <T>(path: string, params: Record<string, string | number>) => {
    const res = await app.inject({ url: `/api/v1${path}?${queryString(params)}` })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<T>()
  }

  it('holds the flame graph stack by stack', async () => {
    for (const selector of ['', '{instance="b"}']) {
      const params = { service: 'shop', type: 'cpu', ...WINDOW, query: selector }
      const graph = await getJson<FlamegraphResponse>('/flamegraph', params)
      const { profile } = await exportTo('shop.pb.gz', params)
      const strings = profile.stringTable.strings
      expect(
        profile.sampleType.map((t) => `${strings[Number(t.type)]}/${strings[Number(t.unit)]}`),
      ).toEqual(['cpu/nanoseconds'])
      expect(collapsedPprof(profile)).toEqual(collapsed(graph.root))
      const samples = inWindow(known, WINDOW.from, WINDOW.to).filter(
        (s) => selector === '' || s.labels.instance === 'b',
      )
      expect(graph.total).toBe(sum(samples))
    }
  })

  it('reads in go tool pprof with the flame graph total and top function', async () => {
    const params = { service: 'shop', type: 'cpu', ...WINDOW }
    const graph = await getJson<FlamegraphResponse>('/flamegraph', params)
    const top = await getJson<TopResponse>('/top', { ...params, sort: 'self', limit: 1 })
    const { path } = await exportTo('cpu.pb.gz', params)

    const text = goToolPprof(['-top', '-unit=ns', '-nodefraction=0', path])
    const total = /of (\d+)ns total/.exec(text)
    expect(total, text).not.toBeNull()
    expect(Number(total![1])).toBe(graph.total)
    // The first row of -top is the function with the largest flat (self) value.
    const rows = text.split('\n').filter((l) => /^\s*\d+ns\s/.test(l))
    const [flat, , , , , name] = rows[0]!.trim().split(/\s+/)
    expect(name).toBe(top.functions[0]!.name)
    expect(flat).toBe(`${top.functions[0]!.self}ns`)

    // -raw lists every sample: their sum is exact, whatever the display units.
    const raw = goToolPprof(['-raw', path])
    const values = [
      ...raw
        .split('Samples:')[1]!
        .split('Locations')[0]!
        .matchAll(/^\s+(\d+): /gm),
    ]
    expect(values.reduce((a, m) => a + Number(m[1]), 0)).toBe(graph.total)
  })

  it('answers bad input with a JSON error, not a file', async () => {
    const res = await app.inject({
      url: `/api/v1/export/pprof?${queryString({ service: 'shop', type: 'cpu', from: WINDOW.to, to: WINDOW.from })}`,
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'KILN_ERR_QUERY_INVALID' })
  })

  it('rounds gauge averages to integers and keeps the total within rounding', async () => {
    const params = { service: 'heapy', type: 'heap_inuse_space', ...WINDOW }
    const graph = await getJson<FlamegraphResponse>('/flamegraph', params)
    const { path, profile } = await exportTo('heap.pb.gz', params)
    const stacks = collapsed(graph.root)
    const exported = collapsedPprof(profile)
    for (const [stack, value] of stacks) expect(exported.get(stack)).toBe(Math.round(value))
    const text = goToolPprof(['-top', '-unit=B', '-nodefraction=0', path])
    const total = Number(/of (\d+)B total/.exec(text)?.[1])
    expect(Math.abs(total - graph.total)).toBeLessThanOrEqual(stacks.size * 0.5)
    expect(text).toMatch(/Type: heap_inuse_space/)
  })
})
