import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DiffResponse, TimelineResponse } from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { encodeProfile } from './helpers/pprof-builder.js'

/**
 * Coverage: scheduled agents collect in some windows only. Two windows with the same load per
 * instance but different coverage must compare as equal in absolute terms.
 */

const S = 1000
const NS = 1e9
const WINDOW = 10 * S
const now = Date.now()
const BASE_FROM = Math.floor((now - 20 * 60 * S) / (60 * S)) * 60 * S
const COMP_FROM = BASE_FROM + 10 * 60 * S

interface Collected {
  pod: string
  at: number
  /** CPU seconds per function over the 10 s window. */
  cpu: Record<string, number>
}

/** Baseline: two pods, always on, six windows each. `parse` costs 0.5 s per window. */
const BASELINE: Collected[] = ['a', 'b'].flatMap((pod) =>
  Array.from({ length: 6 }, (_, i) => ({
    pod,
    at: BASE_FROM + i * WINDOW,
    cpu: { work: 1, parse: 0.5 },
  })),
)
/** Comparison: scheduled, pod a collected three windows only. `parse` now costs 1 s. */
const COMPARISON: Collected[] = Array.from({ length: 3 }, (_, i) => ({
  pod: 'a',
  at: COMP_FROM + 2 * i * WINDOW,
  cpu: { work: 1, parse: 1 },
}))

const collectedMs = (set: Collected[]) => set.length * WINDOW
const cpuOf = (set: Collected[], fn: string) => set.reduce((a, c) => a + (c.cpu[fn] ?? 0) * NS, 0)

describe('coverage: load per collected instance-second', () => {
  let app: FastifyInstance
  let dataDir: string
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-coverage-'))
    app = await buildApp(
      resolveConfig({
        dataDir,
        logLevel: 'silent',
        insertBatchWaitMs: 1,
        rateLimitIngestPerMinute: 0,
      }),
    )
    for (const c of [...BASELINE, ...COMPARISON]) {
      const payload = encodeProfile({
        sampleTypes: [['cpu', 'nanoseconds']],
        samples: Object.entries(c.cpu).map(([fn, seconds]) => ({
          stack: ['main', fn],
          values: [seconds * NS],
        })),
      })
      const res = await app.inject({
        method: 'POST',
        url: `/ingest?name=fleet{pod=${c.pod}}&from=${c.at}&until=${c.at + WINDOW}`,
        headers: { 'content-type': 'application/octet-stream' },
        payload,
      })
      expect(res.statusCode, res.body).toBe(200)
    }
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const diff = async (query = '') => {
    const res = await app.inject({
      url:
        `/api/v1/diff?service=fleet&type=cpu&rankBy=absolute&baseFrom=${BASE_FROM}` +
        `&baseTo=${COMP_FROM}&compFrom=${COMP_FROM}&compTo=${COMP_FROM + 10 * 60 * S}` +
        `&baseQuery=${encodeURIComponent(query)}&compQuery=${encodeURIComponent(query)}`,
    })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<DiffResponse>()
  }

  it('puts the comparison at the baseline coverage in absolute deltas', async () => {
    const body = await diff()
    expect(body.baseline.coverageMs).toBe(collectedMs(BASELINE))
    expect(body.comparison.coverageMs).toBe(collectedMs(COMPARISON))
    const scale = collectedMs(BASELINE) / collectedMs(COMPARISON)
    expect(body.comparisonScale).toBe(scale)
    // Raw sums differ fourfold; per instance-second, `work` did not change and `parse` grew.
    expect(body.comparison.total).toBe(cpuOf(COMPARISON, 'work') + cpuOf(COMPARISON, 'parse'))
    const grew = body.changes.self.grew
    expect(grew.map((f) => f.name)).toEqual(['parse'])
    const parseDelta = cpuOf(COMPARISON, 'parse') * scale - cpuOf(BASELINE, 'parse')
    expect(grew[0]!.selfDelta).toBeCloseTo(parseDelta, 0)
    expect(body.changes.self.shrank.map((f) => f.name)).not.toContain('work')
  })

  it('narrows coverage by upload labels, not by labels set per sample', async () => {
    const podA = await diff('{pod="a"}')
    expect(podA.baseline.coverageMs).toBe(collectedMs(BASELINE.filter((c) => c.pod === 'a')))
    expect(podA.comparison.coverageMs).toBe(collectedMs(COMPARISON))
    const bySampleLabel = await diff('{route="/x"}')
    expect(bySampleLabel.baseline.coverageMs).toBe(collectedMs(BASELINE))
  })

  it('gives the timeline its coverage, so buckets compare per instance', async () => {
    const step = 60 * S
    const res = await app.inject({
      url: `/api/v1/timeline?service=fleet&type=cpu&from=${BASE_FROM}&to=${COMP_FROM + 10 * 60 * S}&step=${step}`,
    })
    expect(res.statusCode, res.body).toBe(200)
    const { timestamps, values, coverage } = res.json<TimelineResponse>()
    const all = [...BASELINE, ...COMPARISON]
    const inBucket = (t: number) => all.filter((c) => c.at >= t && c.at < t + step)
    expect(coverage).toEqual(
      timestamps.map((t) => (inBucket(t).length ? collectedMs(inBucket(t)) : null)),
    )
    // Per collected instance-ms, `work` is the same load in every bucket; `parse` doubles.
    const rates = values.map((v, i) => (v === null ? null : v / coverage[i]!))
    const expected = timestamps.map((t) => {
      const set = inBucket(t)
      if (set.length === 0) return null
      return (cpuOf(set, 'work') + cpuOf(set, 'parse')) / collectedMs(set)
    })
    expect(rates).toEqual(expected)
    const distinct = new Set(rates.filter((r) => r !== null))
    expect(distinct).toEqual(new Set([(1.5 * NS) / WINDOW, (2 * NS) / WINDOW]))
  })

  it('has no coverage for gauges', async () => {
    const res = await app.inject({
      url: `/api/v1/timeline?service=fleet&type=heap_inuse_space&from=${BASE_FROM}&to=${now}`,
    })
    expect(res.json<TimelineResponse>().coverage.every((c) => c === null)).toBe(true)
  })
})
