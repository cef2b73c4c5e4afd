import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DiffNode, DiffResponse, FlamegraphResponse } from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { decodeLevels, plainTree, type PlainNode } from './helpers/flame-levels.js'
import { encodeProfile } from './helpers/pprof-builder.js'

/*
 * Pyroscope's legacy render API over data ingested here: the flamebearer decodes back into the
 * same tree as Kiln's own flame graph, its timeline adds up to the total, and every query form and
 * time format Pyroscope clients write is read.
 */

const MINUTE = 60_000
const NOW = Math.floor(Date.now() / 10_000) * 10_000
const UPLOADS = Array.from({ length: 6 }, (_, i) => NOW - 30 * MINUTE + i * 10_000)
const SAMPLES = [
  { stack: ['main@app.js', 'handle@server.js', 'render@view.js'], values: [300] },
  { stack: ['main@app.js', 'handle@server.js', 'parse@json.js'], values: [200] },
  { stack: ['main@app.js', 'gc@runtime.js'], values: [50] },
]

interface Render {
  flamebearer: { names: string[]; levels: number[][]; numTicks: number; maxSelf: number }
  metadata: { format: string; units: string; name: string }
  timeline: { startTime: number; samples: number[]; durationDelta: number }
}

describe('Pyroscope render API', () => {
  let app: FastifyInstance
  let dataDir: string
  const render = async (path: string, query: Record<string, string>) => {
    const res = await app.inject({ url: `${path}?${new URLSearchParams(query)}` })
    return res
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-render-'))
    app = await buildApp(
      resolveConfig({
        dataDir,
        logLevel: 'silent',
        insertBatchWaitMs: 5,
        rateLimitIngestPerMinute: 0,
      }),
    )
    for (const at of UPLOADS) {
      const res = await app.inject({
        method: 'POST',
        url: `/ingest?name=${encodeURIComponent('shop.api{env=prod}')}&from=${at / 1000}&until=${at / 1000 + 10}`,
        headers: { 'content-type': 'application/octet-stream' },
        payload: encodeProfile({ sampleTypes: [['cpu', 'nanoseconds']], samples: SAMPLES }),
      })
      expect(res.statusCode, res.body).toBe(200)
    }
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it("encodes Kiln's flame graph as a flamebearer, with a timeline adding up to its total", async () => {
    const res = await render('/pyroscope/render', {
      query: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="shop.api", env="prod"}',
      from: 'now-1h',
      until: 'now',
    })
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json<Render>()
    const own = (
      await app.inject({
        url: `/api/v1/flamegraph?service=shop.api&type=cpu&from=now-1h&to=now&query=${encodeURIComponent('{env="prod"}')}`,
      })
    ).json<FlamegraphResponse>()
    const total = UPLOADS.length * 550
    expect(body.flamebearer.numTicks).toBe(total)
    expect(body.flamebearer.maxSelf).toBe(UPLOADS.length * 300)
    expect(body.flamebearer.names[0]).toBe('total')
    expect(body.flamebearer.levels[0]!.slice(0, 4)).toEqual([0, total, 0, 0])
    expect(plainTree(decodeLevels(body.flamebearer.names, body.flamebearer.levels))).toEqual(
      plainTree(own.root),
    )
    expect(body.metadata).toMatchObject({ format: 'single', units: 'samples', name: 'cpu' })
    expect(body.timeline.samples.reduce((a, b) => a + b, 0)).toBe(total)
    // One hour in ~1500 points, rounded up to a step Pyroscope uses: 10 s.
    expect(body.timeline.durationDelta).toBe(10)
  })

  it('reads the old app.type query form, /render, and Pyroscope time formats', async () => {
    const expected = UPLOADS.length * 550
    for (const [path, query] of [
      ['/render', { query: 'shop.api.cpu{}', from: 'now-1h' }],
      [
        '/render',
        { query: 'shop.api.cpu', from: String((NOW - 40 * MINUTE) / 1000), until: 'now' },
      ],
      [
        '/pyroscope/render',
        {
          query: 'wall:cpu:nanoseconds:wall:nanoseconds{service_name="shop.api"}',
          from: 'now-1mon',
        },
      ],
      [
        '/pyroscope/render',
        {
          query:
            '{service_name="shop.api", __profile_type__="process_cpu:cpu:nanoseconds:cpu:nanoseconds"}',
          from: new Date(NOW - DAY()).toISOString().slice(0, 10).replaceAll('-', ''),
          'max-nodes': '3',
        },
      ],
    ] as const) {
      const res = await render(path, query)
      expect(res.statusCode, `${path} ${JSON.stringify(query)}: ${res.body}`).toBe(200)
      expect(res.json<Render>().flamebearer.numTicks, JSON.stringify(query)).toBe(expected)
    }
  })

  it('refuses what it cannot read with a 400 and a stable code', async () => {
    for (const [query, code] of [
      [{ query: 'nope:x:y:z:w{service_name="shop.api"}' }, 'KILN_ERR_QUERY_INVALID'],
      [{ query: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{}' }, 'KILN_ERR_QUERY_INVALID'],
      [{ query: 'shop.api.cpu{env=' }, 'KILN_ERR_QUERY_INVALID'],
      [{ query: 'shop.api.cpu', from: 'yesterday' }, 'KILN_ERR_TIME_INVALID'],
      [{ query: 'shop.api.cpu', format: 'dot' }, 'KILN_ERR_QUERY_INVALID'],
      [{}, 'KILN_ERR_QUERY_INVALID'],
    ] as const) {
      const res = await render('/pyroscope/render', query)
      expect(res.statusCode, JSON.stringify(query)).toBe(400)
      expect(res.json().code, JSON.stringify(query)).toBe(code)
    }
  })
  it("diffs two windows (render-diff): each side of the double flamebearer is that side of Kiln's diff", async () => {
    const mid = UPLOADS[3]!
    const res = await render('/pyroscope/render-diff', {
      leftQuery: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="shop.api"}',
      leftFrom: String(UPLOADS[0]! - 1000),
      leftUntil: String(mid),
      rightQuery: 'shop.api.cpu{env="prod"}',
      rightFrom: String(mid),
      rightUntil: 'now',
      'max-nodes': '4',
    })
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json<{
      flamebearer: Render['flamebearer']
      metadata: { format: string }
      leftTicks: number
      rightTicks: number
    }>()
    const own = (
      await app.inject({
        url: `/api/v1/diff?${new URLSearchParams({
          service: 'shop.api',
          type: 'cpu',
          baseFrom: String(UPLOADS[0]! - 1000),
          baseTo: String(mid),
          compFrom: String(mid),
          compTo: 'now',
          compQuery: '{env="prod"}',
          maxNodes: '4',
        })}`,
      })
    ).json<DiffResponse>()
    // Expected from the input: three uploads on each side, 550 each.
    expect([body.leftTicks, body.rightTicks]).toEqual([3 * 550, 3 * 550])
    expect(body.metadata.format).toBe('double')
    const side = (n: DiffNode, base: boolean): PlainNode => ({
      name: n.name,
      value: base ? n.baseTotal : n.compTotal,
      self: base ? n.baseSelf : n.compSelf,
      children: n.children.map((c) => side(c, base)).filter((c) => c.value !== 0),
    })
    const { names, levels } = body.flamebearer
    expect(plainTree(decodeLevels(names, levels, 7, 0))).toEqual(plainTree(side(own.root, true)))
    expect(plainTree(decodeLevels(names, levels, 7, 3))).toEqual(plainTree(side(own.root, false)))
    // Two profile types cannot be compared.
    const mixed = await render('/pyroscope/render-diff', {
      leftQuery: 'shop.api.cpu{}',
      rightQuery: 'shop.api.inuse_space{}',
    })
    expect(mixed.statusCode).toBe(400)
  })
})

function DAY(): number {
  return 24 * 60 * MINUTE
}
