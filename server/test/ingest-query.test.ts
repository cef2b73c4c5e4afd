import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FlameNode, FlamegraphResponse, ServicesResponse } from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { encodeProfile, type SyntheticProfile } from './helpers/pprof-builder.js'
import { recentNoon } from './helpers/query-fixture.js'

const T0 = recentNoon()

function find(node: FlameNode, path: string[]): FlameNode | undefined {
  let current: FlameNode | undefined = node
  for (const name of path) current = current?.children.find((c) => c.name === name)
  return current
}

describe('ingest and flame graph on the embedded store', () => {
  let app: FastifyInstance
  let dataDir: string

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-int-'))
    app = await buildApp(resolveConfig({ dataDir, logLevel: 'silent', insertBatchWaitMs: 1 }))
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const ingest = (name: string, body: Buffer, fromMs: number, untilMs = fromMs + 10_000) =>
    app.inject({
      method: 'POST',
      url: `/ingest?name=${encodeURIComponent(name)}&from=${Math.floor(fromMs / 1000)}&until=${Math.floor(untilMs / 1000)}&format=pprof`,
      headers: { 'content-type': 'application/octet-stream' },
      payload: body,
    })

  const flamegraph = async (service: string, type: string, from: number, to: number) => {
    const res = await app.inject({
      url: `/api/v1/flamegraph?service=${service}&type=${type}&from=${from}&to=${to}`,
    })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<FlamegraphResponse>()
  }

  it('sums cumulative profiles over a window, to the sample', async () => {
    const profiles: SyntheticProfile[] = [0, 1, 2].map((i) => ({
      sampleTypes: [
        ['sample', 'count'],
        ['wall', 'nanoseconds'],
        ['cpu', 'nanoseconds'],
      ],
      samples: [
        { stack: ['main', 'handler', 'parse'], values: [1, 100 + i, 50 + i] },
        { stack: ['main', 'handler'], values: [1, 30, 20] },
        { stack: ['main', 'gc'], values: [1, 7 * (i + 1), 0] },
      ],
    }))
    for (const [i, p] of profiles.entries()) {
      const res = await ingest(
        'checkout{env=prod,service_version=1.0.0}',
        encodeProfile(p),
        T0 + i * 10_000,
      )
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toEqual({ profiles: 2, samples: 3 })
    }
    const sum = (type: 1 | 2, pred: (stack: string[]) => boolean) =>
      profiles
        .flatMap((p) => p.samples)
        .filter((s) => pred(s.stack))
        .reduce((acc, s) => acc + s.values[type]!, 0)

    const wall = await flamegraph('checkout', 'wall', T0, T0 + 60_000)
    expect(wall.total).toBe(sum(1, () => true))
    expect(wall.root.value).toBe(wall.total)
    expect(find(wall.root, ['main', 'handler'])).toMatchObject({
      value: sum(1, (s) => s[1] === 'handler'),
      self: sum(1, (s) => s.length === 2 && s[1] === 'handler'),
    })
    expect(find(wall.root, ['main', 'handler', 'parse'])?.self).toBe(
      sum(1, (s) => s[2] === 'parse'),
    )

    // CPU of a Node time profile is estimated by stack (node-cpu.ts): each running sample its
    // wall time, scaled so each profile adds up to the CPU it measured (here less than wall).
    const cpu = await flamegraph('checkout', 'cpu', T0, T0 + 60_000)
    expect(cpu.total).toBe(sum(2, () => true))
    const estimated = (pred: (stack: string[]) => boolean) =>
      profiles.reduce((acc, p) => {
        const measured = p.samples.reduce((a, s) => a + s.values[2]!, 0)
        const sampled = p.samples.reduce((a, s) => a + s.values[1]!, 0)
        const mine = p.samples.filter((s) => pred(s.stack))
        return acc + mine.reduce((a, s) => a + Math.round((s.values[1]! * measured) / sampled), 0)
      }, 0)
    // Within a few ns: each profile's rounding goes to its largest stack.
    expect(find(cpu.root, ['main', 'gc'])?.value).toBeCloseTo(
      estimated((s) => s[1] === 'gc'),
      -1,
    )
    expect(find(cpu.root, ['main', 'handler', 'parse'])?.value).toBeCloseTo(
      estimated((s) => s[2] === 'parse'),
      -1,
    )
    expect(find(cpu.root, ['Node.js'])).toBeUndefined()

    // A window holding only the second profile.
    const one = await flamegraph('checkout', 'wall', T0 + 10_000, T0 + 20_000)
    expect(one.total).toBe(profiles[1]!.samples.reduce((a, s) => a + s.values[1]!, 0))
  })

  it('averages gauge profiles over snapshots instead of summing them', async () => {
    const heap = (bytes: number): SyntheticProfile => ({
      sampleTypes: [
        ['objects', 'count'],
        ['space', 'bytes'],
      ],
      samples: [
        { stack: ['main', 'cache'], values: [10, bytes] },
        { stack: ['main', 'buffers'], values: [5, 1000] },
      ],
    })
    const sizes = [4000, 6000, 8000]
    for (const [i, bytes] of sizes.entries()) {
      const res = await ingest('heapy{instance=a}', encodeProfile(heap(bytes)), T0 + i * 10_000)
      expect(res.statusCode, res.body).toBe(200)
    }
    // A second instance: gauges sum across series after averaging each.
    await ingest('heapy{instance=b}', encodeProfile(heap(2000)), T0)
    const graph = await flamegraph('heapy', 'heap_inuse_space', T0, T0 + 60_000)
    const avgA = sizes.reduce((a, b) => a + b, 0) / sizes.length
    expect(find(graph.root, ['main', 'cache'])?.value).toBeCloseTo(avgA + 2000, 6)
    expect(find(graph.root, ['main', 'buffers'])?.value).toBeCloseTo(1000 + 1000, 6)
  })

  it('lists services with their types', async () => {
    const res = await app.inject({ url: '/api/v1/services' })
    const { services } = res.json<ServicesResponse>()
    expect(services.map((s) => s.name)).toEqual(['checkout', 'heapy'])
    expect(services[0]!.types).toEqual(['cpu', 'wall'])
    expect(services[1]!.types).toEqual(['heap_inuse_objects', 'heap_inuse_space'])
  })

  it('answers bad input with a JSON error and keeps serving', async () => {
    const cases: [string, Buffer, number, string][] = [
      ['svc', Buffer.from('not a profile at all'), 400, 'KILN_ERR_PPROF_INVALID'],
      ['svc', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01]), 400, 'KILN_ERR_GZIP_INVALID'],
      [
        "x'; DROP TABLE samples;--",
        encodeProfile({ sampleTypes: [['cpu', 'nanoseconds']], samples: [] }),
        400,
        'KILN_ERR_APP_NAME_INVALID',
      ],
    ]
    for (const [name, body, status, code] of cases) {
      const res = await ingest(name, body, T0)
      expect(res.statusCode, res.body).toBe(status)
      expect(res.json()).toMatchObject({ statusCode: status, code })
    }
    const graph = await flamegraph('checkout', 'wall', T0, T0 + 60_000)
    expect(graph.total).toBeGreaterThan(0)
  })
})
