import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SCHEDULE_PATH, collectsIn, type SchedulePlan } from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import type { KilnOptions } from '../src/config/config-schema.js'
import { encodeProfile } from './helpers/pprof-builder.js'

/** Fleet scheduling against the real store: which instances collect in which window. */

describe('fleet schedule (POST /api/v1/schedule)', () => {
  let dataDir: string
  const apps: FastifyInstance[] = []
  const open = async (options: KilnOptions = {}) => {
    const app = await buildApp(
      resolveConfig({
        dataDir,
        logLevel: 'silent',
        insertBatchWaitMs: 1,
        rateLimitIngestPerMinute: 0,
        ...options,
      }),
    )
    apps.push(app)
    return app
  }
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-schedule-'))
  })
  afterAll(async () => {
    for (const app of apps) await app.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const checkIn = async (app: FastifyInstance, service: string, instance: string) => {
    const res = await app.inject({
      method: 'POST',
      url: SCHEDULE_PATH,
      payload: { service, instance },
    })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<SchedulePlan>()
  }
  /** Check every instance in, then once more so each plan sees the whole fleet. */
  const fleetPlans = async (app: FastifyInstance, service: string, n: number) => {
    const ids = Array.from({ length: n }, (_, i) => `host-${i}:${1000 + i}`)
    for (const id of ids) await checkIn(app, service, id)
    const plans = new Map<string, SchedulePlan>()
    for (const id of ids) plans.set(id, await checkIn(app, service, id))
    return plans
  }
  /** How many plans collect in each of `windows` consecutive windows. */
  const collecting = (plans: Iterable<SchedulePlan>, windows: number) =>
    Array.from({ length: windows }, (_, w) => [...plans].filter((p) => collectsIn(p, w)).length)

  it('spreads K collecting instances over the fleet, each a share of K/N', async () => {
    const app = await open({ scheduleConcurrent: 2, scheduleMaxShare: 0.5 })
    const n = 12
    const plans = await fleetPlans(app, 'checkout', n)
    const all = [...plans.values()]
    expect(new Set(all.map((p) => p.rank))).toEqual(new Set(Array.from({ length: n }, (_, i) => i)))
    for (const p of all) {
      expect(p.instances).toBe(n)
      expect(p.period).toBe(n / 2)
      expect(p.concurrent).toBe(2)
      expect(p.windowMs).toBe(10_000)
    }
    const counts = collecting(all, 3 * all[0]!.period)
    expect(new Set(counts)).toEqual(new Set([2]))
    // Each instance collects once per period: a share of K/N.
    for (const p of all) {
      const mine = Array.from({ length: 3 * p.period }, (_, w) => collectsIn(p, w))
      expect(mine.filter(Boolean)).toHaveLength(3)
    }
  })

  it('keeps a lone instance collecting at the largest share, and a huge fleet at the smallest', async () => {
    const app = await open({ scheduleMaxShare: 0.25, scheduleMinShare: 0.05 })
    const lone = await checkIn(app, 'lonely', 'only-one')
    expect(lone).toMatchObject({ instances: 1, rank: 0, period: 4, concurrent: 0.25 })
    const plans = await fleetPlans(app, 'huge', 60)
    const all = [...plans.values()]
    // 60 instances would give each a 1/60 share with K = 1; the floor is 1/20: 3 at a time.
    expect(all[0]!.period).toBe(20)
    expect(new Set(collecting(all, 40))).toEqual(new Set([3]))
  })

  it('gives every instance a window, within ±1 of K at once, for any fleet size', async () => {
    const app = await open({ scheduleConcurrent: 2, scheduleMaxShare: 0.5, scheduleMinShare: 0.01 })
    for (const n of [3, 5, 7, 11]) {
      const plans = [...(await fleetPlans(app, `sized-${n}`, n)).values()]
      const period = plans[0]!.period
      const counts = collecting(plans, 2 * period)
      const k = n / period
      for (const c of counts) expect(Math.abs(c - k)).toBeLessThanOrEqual(1)
      // Every instance collects in some window of each period.
      for (const p of plans) expect(p.slot).toBeLessThan(period)
      expect(counts.reduce((a, b) => a + b, 0)).toBe(2 * n)
    }
  })

  it('gives the same plans from two servers sharing the store, and after a restart', async () => {
    const a = await open({ scheduleConcurrent: 1, scheduleMaxShare: 0.5 })
    const b = await open({ scheduleConcurrent: 1, scheduleMaxShare: 0.5 })
    const ids = Array.from({ length: 5 }, (_, i) => `pod-${i}`)
    // Instances check in at either server, as a load balancer sends them.
    for (const [i, id] of ids.entries()) await checkIn(i % 2 ? a : b, 'shared', id)
    const strip = ({ serverTimeMs: _, ...plan }: SchedulePlan) => plan
    for (const id of ids) {
      expect(strip(await checkIn(a, 'shared', id))).toEqual(strip(await checkIn(b, 'shared', id)))
    }
    const before = strip(await checkIn(a, 'shared', 'pod-3'))
    await a.close()
    const restarted = await open({ scheduleConcurrent: 1, scheduleMaxShare: 0.5 })
    expect(strip(await checkIn(restarted, 'shared', 'pod-3'))).toEqual(before)
  })

  it("gives its clock as of the middle of its handling, so a slow store does not skew the agent's", async () => {
    const app = await open()
    const { checkins: writer } = app.store
    const write = writer.write.bind(writer)
    const storeDelayMs = 1000
    writer.write = async (batch) => {
      await new Promise((resolve) => setTimeout(resolve, storeDelayMs))
      return write(batch)
    }
    try {
      const sentMs = Date.now()
      const plan = await checkIn(app, 'slow-store', 'one')
      const answeredMs = Date.now()
      expect(answeredMs - sentMs).toBeGreaterThanOrEqual(storeDelayMs)
      // The agent's estimate of the offset between the clocks, which are the same here.
      const offsetMs = plan.serverTimeMs - (sentMs + answeredMs) / 2
      expect(Math.abs(offsetMs)).toBeLessThan(storeDelayMs / 4)
    } finally {
      writer.write = write
    }
  })

  it('answers a check-in while ingest is held up in the store', async () => {
    // Ingest answered only once the writer has its rows (without the ingest log, whose answer
    // does not wait for the writer; with it, check-ins do not wait for the log either).
    const app = await open({ ingestLog: false })
    const { writer } = app.store
    const write = writer.write.bind(writer)
    let release = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    let heldUp = false
    writer.write = async (batch) => {
      heldUp = true
      await held
      return write(batch)
    }
    try {
      let ingested = false
      const ingest = app
        .inject({
          method: 'POST',
          url: `/ingest?name=held-up&from=${Math.floor(Date.now() / 1000)}&format=pprof`,
          headers: { 'content-type': 'application/octet-stream' },
          payload: encodeProfile({
            sampleTypes: [['cpu', 'nanoseconds']],
            samples: [{ stack: ['main', 'work'], values: [1000] }],
          }),
        })
        .then((res) => {
          ingested = true
          return res
        })
      await expect.poll(() => heldUp).toBe(true)
      // The profile waits on the ingest writer; the agent's plan does not wait for it.
      const plan = await checkIn(app, 'held-up', 'pod-1')
      expect(plan.instances).toBe(1)
      expect(ingested).toBe(false)
      release()
      expect((await ingest).statusCode).toBe(200)
    } finally {
      release()
      writer.write = write
    }
  })

  it('counts only the instances of the same service', async () => {
    const app = await open()
    await checkIn(app, 'svc-a', 'one')
    await checkIn(app, 'svc-a', 'two')
    expect((await checkIn(app, 'svc-b', 'one')).instances).toBe(1)
  })

  it('refuses a malformed check-in with a 400 and a stable code', async () => {
    const app = await open()
    for (const payload of [
      {},
      { service: 'x' },
      { service: 'x', instance: '' },
      { service: 'x{a=b}', instance: 'i' },
      { service: 'x', instance: 'has space' },
      { service: 'x', instance: 'i'.repeat(257) },
    ]) {
      const res = await app.inject({ method: 'POST', url: SCHEDULE_PATH, payload })
      expect(res.statusCode, JSON.stringify(payload)).toBe(400)
      expect(res.json().code).toMatch(/^KILN_ERR_/)
    }
  })

  it('refuses share bounds that contradict each other', () => {
    expect(() => resolveConfig({ dataDir, scheduleMinShare: 0.5, scheduleMaxShare: 0.25 })).toThrow(
      /KILN_SCHEDULE_MIN_SHARE/,
    )
  })
})
