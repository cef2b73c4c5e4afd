import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FlamegraphResponse } from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { normalizeProfile } from '../src/ingest/pprof-normalize.js'
import { decodePprof } from '../src/ingest/pprof-decode.js'
import { encodeProfile, type SyntheticProfile } from './helpers/pprof-builder.js'

/*
 * One bad client among good ones, all in the same insert batches: the bad client's profiles
 * (values the store cannot hold) must be refused on their own, and every good profile stored,
 * acknowledged, and counted exactly once.
 */

const NOW = Date.now()
const FROM = NOW - 5 * 60_000
const CPU: [string, string][] = [['cpu', 'nanoseconds']]

/** Profiles pprof accepts whose numbers do not fit the store, each with why. */
const POISON: { name: string; profile: SyntheticProfile }[] = [
  {
    name: 'a negative value',
    profile: { sampleTypes: CPU, samples: [{ stack: ['a'], values: [-1] }] },
  },
  {
    name: 'values whose sum overflows Int64',
    profile: {
      sampleTypes: CPU,
      samples: Array.from({ length: 120 }, (_, i) => ({ stack: ['a', `f${i}`], values: [9e18] })),
    },
  },
  {
    name: 'a value above 2^53 (not exact as a JSON number)',
    profile: { sampleTypes: CPU, samples: [{ stack: ['a'], values: [2 ** 60] }] },
  },
  {
    name: 'an overflowing duration',
    profile: {
      sampleTypes: CPU,
      samples: [{ stack: ['a'], values: [1] }],
      durationNanos: 2n ** 63n - 1n,
    },
  },
]

describe('one bad client never fails or duplicates another', () => {
  let app: FastifyInstance
  let dataDir: string

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-isolation-'))
    // A long batch wait, so good and bad uploads share inserts.
    app = await buildApp(
      resolveConfig({
        dataDir,
        logLevel: 'silent',
        insertBatchWaitMs: 200,
        rateLimitIngestPerMinute: 0,
        // Every upload of a round in one batch: more than the default admits at once.
        maxIngestInFlight: 64,
      }),
    )
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  // Without `until`, the profile's own duration ends it (Pyroscope clients send both).
  const ingest = (service: string, profile: SyntheticProfile, at: number) =>
    app.inject({
      method: 'POST',
      url: `/ingest?name=${service}&from=${Math.floor(at / 1000)}${profile.durationNanos === undefined ? `&until=${Math.floor(at / 1000) + 10}` : ''}&format=pprof`,
      headers: { 'content-type': 'application/octet-stream' },
      payload: encodeProfile(profile),
    })

  it('refuses the poisoned uploads alone; every good upload is stored exactly once', async () => {
    const good = Array.from({ length: 24 }, (_, i) => ({
      service: `good-${i % 4}`,
      at: FROM + Math.floor(i / 4) * 10_000,
      value: 1000 * (i + 1),
    }))
    const requests = [
      ...good.map((g) =>
        ingest(
          g.service,
          { sampleTypes: CPU, samples: [{ stack: ['main', 'work'], values: [g.value] }] },
          g.at,
        ).then((res) => ({ kind: 'good' as const, res })),
      ),
      ...POISON.flatMap((p, i) =>
        [0, 1, 2].map((k) =>
          ingest('poison', p.profile, FROM + (i * 3 + k) * 1000).then((res) => ({
            kind: 'bad' as const,
            name: p.name,
            res,
          })),
        ),
      ),
    ]
    const results = await Promise.all(requests)
    for (const r of results) {
      if (r.kind === 'good') expect(r.res.statusCode, r.res.body).toBe(200)
      else {
        expect(r.res.statusCode, `${r.name}: ${r.res.body}`).toBeGreaterThanOrEqual(400)
        expect(r.res.statusCode, `${r.name}: ${r.res.body}`).toBeLessThan(500)
      }
    }
    for (let s = 0; s < 4; s++) {
      const service = `good-${s}`
      const expected = good.filter((g) => g.service === service).reduce((a, g) => a + g.value, 0)
      const res = await app.inject({
        url: `/api/v1/flamegraph?service=${service}&type=cpu&from=${FROM - 60_000}&to=${NOW + 60_000}`,
      })
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json<FlamegraphResponse>().total, service).toBe(expected)
    }
    const poison = await app.inject({
      url: `/api/v1/flamegraph?service=poison&type=cpu&from=${FROM - 60_000}&to=${NOW + 60_000}`,
    })
    expect(poison.json<FlamegraphResponse>().total).toBe(0)
  })

  it('stores each request of a batch the store partly refuses on its own, the good ones once', async () => {
    // Rows that get past validation but not past the store (a value written as 1e+30): the
    // writer's last line of defence, exercised through the writer itself.
    const limits = resolveConfig({})
    const batchOf = (service: string, value: number) =>
      normalizeProfile(
        decodePprof(
          encodeProfile(
            { sampleTypes: CPU, samples: [{ stack: ['main', 'work'], values: [value] }] },
            false,
          ),
        ),
        { tenant: 'default', service, labels: {}, fromMs: FROM, untilMs: FROM + 10_000, limits },
      ).batch
    const bad = batchOf('refused', 1)
    bad.samples[0]!.value = 1e30
    const goodValues = [111, 222, 333]
    const results = await Promise.allSettled([
      ...goodValues.map((v, i) => app.store.writer.write(batchOf(`partial-${i}`, v))),
      app.store.writer.write(bad),
    ])
    expect(results.slice(0, 3).map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ])
    expect(results[3]).toMatchObject({
      status: 'rejected',
      reason: { code: 'KILN_ERR_PROFILE_REJECTED', statusCode: 422 },
    })
    for (const [i, v] of goodValues.entries()) {
      const res = await app.inject({
        url: `/api/v1/flamegraph?service=partial-${i}&type=cpu&from=${FROM - 60_000}&to=${NOW + 60_000}`,
      })
      expect(res.json<FlamegraphResponse>().total).toBe(v)
    }
  })
})
