import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { Label } from 'pprof-format'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FlamegraphResponse, TimelineResponse } from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { buildProfile, encodeProfile, type SyntheticSample } from './helpers/pprof-builder.js'

/**
 * Heap in use is a gauge: each instance is averaged over its snapshots in the window, whatever
 * labels its samples carry, then instances add up.
 */

const MB = 1_000_000
const NOW = Date.now()
const T1 = Math.floor((NOW - 4 * 60_000) / 1000)
const T2 = T1 + 60
const FROM = (T1 - 60) * 1000
const TO = (T2 + 60) * 1000

interface Snapshot {
  pod: string
  at: number
  samples: SyntheticSample[]
}

/** Pod a's samples carry a `pool` label that changes between its two snapshots. */
const SNAPSHOTS: Snapshot[] = [
  {
    pod: 'a',
    at: T1,
    samples: [
      { stack: ['main', 'cache'], values: [100 * MB], labels: { pool: 'x' } },
      { stack: ['main', 'buffers'], values: [20 * MB] },
    ],
  },
  {
    pod: 'a',
    at: T2,
    samples: [
      { stack: ['main', 'cache'], values: [90 * MB], labels: { pool: 'y' } },
      { stack: ['main', 'buffers'], values: [30 * MB] },
    ],
  },
  { pod: 'b', at: T1, samples: [{ stack: ['main', 'cache'], values: [50 * MB] }] },
]

/** The window's gauge from the input: per pod, its selected bytes over its snapshot count. */
function expectedTotal(keep: (s: SyntheticSample) => boolean = () => true): number {
  let total = 0
  for (const pod of new Set(SNAPSHOTS.map((s) => s.pod))) {
    const own = SNAPSHOTS.filter((s) => s.pod === pod)
    const bytes = own
      .flatMap((s) => s.samples)
      .filter(keep)
      .reduce((sum, s) => sum + s.values[0]!, 0)
    total += bytes / own.length
  }
  return total
}

describe('gauges: averaged per instance, whatever the sample labels', () => {
  let app: FastifyInstance
  let dataDir: string

  const ingest = (name: string, at: number, payload: Buffer) =>
    app.inject({
      method: 'POST',
      url: `/ingest?name=${encodeURIComponent(name)}&from=${at}&until=${at + 10}`,
      headers: { 'content-type': 'application/octet-stream' },
      payload,
    })
  const flamegraph = async (service: string, query = '') => {
    const res = await app.inject({
      url: `/api/v1/flamegraph?service=${service}&type=heap_inuse_space&from=${FROM}&to=${TO}&query=${encodeURIComponent(query)}`,
    })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<FlamegraphResponse>()
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-gauge-'))
    app = await buildApp(
      resolveConfig({
        dataDir,
        logLevel: 'silent',
        insertBatchWaitMs: 2,
        rateLimitIngestPerMinute: 0,
      }),
    )
    for (const s of SNAPSHOTS) {
      const payload = encodeProfile({ sampleTypes: [['inuse_space', 'bytes']], samples: s.samples })
      const res = await ingest(`leaky{pod=${s.pod}}`, s.at, payload)
      expect(res.statusCode, res.body).toBe(200)
    }
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('averages two snapshots of one instance whose sample labels differ', async () => {
    const body = await flamegraph('leaky')
    // Pod a: (120 MB + 120 MB) / 2; pod b: 50 MB. Per label set, a would read as 240 MB.
    expect(expectedTotal()).toBe(170 * MB)
    expect(body.total).toBeCloseTo(expectedTotal(), 3)
  })

  it('counts every snapshot of the instance when a selector picks some samples', async () => {
    const pool = (value: string) => (s: SyntheticSample) => s.labels?.pool === value
    expect((await flamegraph('leaky', '{pool="x"}')).total).toBeCloseTo(expectedTotal(pool('x')), 3)
    expect((await flamegraph('leaky', '{pool="y"}')).total).toBeCloseTo(expectedTotal(pool('y')), 3)
    const podB = await flamegraph('leaky', '{pod="b"}')
    expect(podB.total).toBeCloseTo(50 * MB, 3)
  })

  it('gives the same average in a timeline bucket spanning both snapshots', async () => {
    const step = 10 * 60_000
    const res = await app.inject({
      url: `/api/v1/timeline?service=leaky&type=heap_inuse_space&from=${FROM}&to=${TO}&step=${step}`,
    })
    expect(res.statusCode, res.body).toBe(200)
    const { timestamps, values } = res.json<TimelineResponse>()
    // Each bucket: per pod, its bytes in the bucket over its snapshots in the bucket.
    const expected = timestamps.map((t) => {
      const inBucket = SNAPSHOTS.filter((s) => s.at * 1000 >= t && s.at * 1000 < t + step)
      if (inBucket.length === 0) return null
      let total = 0
      for (const pod of new Set(inBucket.map((s) => s.pod))) {
        const own = inBucket.filter((s) => s.pod === pod)
        total += own.flatMap((s) => s.samples).reduce((a, s) => a + s.values[0]!, 0) / own.length
      }
      return total
    })
    expect(values.map((v) => (v === null ? null : Math.round(v)))).toEqual(expected)
  })

  it("lets a sample's label win over the upload's label of the same name", async () => {
    const payload = encodeProfile({
      sampleTypes: [['inuse_space', 'bytes']],
      samples: [
        { stack: ['main', 'worker'], values: [7 * MB], labels: { pod: 'w' } },
        { stack: ['main', 'cache'], values: [3 * MB] },
      ],
    })
    expect((await ingest('override{pod=a}', T1, payload)).statusCode).toBe(200)
    expect((await flamegraph('override', '{pod="w"}')).total).toBeCloseTo(7 * MB, 3)
    expect((await flamegraph('override', '{pod="a"}')).total).toBeCloseTo(3 * MB, 3)
    // One instance, one snapshot: nothing is divided.
    expect((await flamegraph('override')).total).toBeCloseTo(10 * MB, 3)
  })

  it('refuses a sample that has the same label twice', async () => {
    const profile = buildProfile({
      sampleTypes: [['inuse_space', 'bytes']],
      samples: [{ stack: ['main', 'cache'], values: [MB], labels: { pool: 'x' } }],
    })
    const sample = profile.sample[0]!
    const [label] = sample.label
    const other = profile.stringTable.dedup('z')
    sample.label.push(new Label({ key: label!.key, str: other }))
    const res = await ingest('twice', T1, Buffer.from(profile.encode()))
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'KILN_ERR_PPROF_INVALID' })
    expect(res.json().message).toContain('"pool" twice')
  })
})
