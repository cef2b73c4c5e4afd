import type { FastifyBaseLogger } from 'fastify'
import { describe, expect, it } from 'vitest'
import type { Finding } from '@kiln/wire'
import type { PostableAlert } from './alertmanager-alerts.js'
import { AlertmanagerNotifier, alertHoldMs, type CheckedScope } from './alertmanager-notifier.js'
import { findingDescription } from './finding-text.js'

const MINUTE = 60_000
const HOLD_MS = 15 * MINUTE
const T0 = Date.UTC(2026, 10, 30, 10, 0, 0)

function heapFinding(topSite: string, endBytes: number): Finding {
  return {
    id: 'f-heap',
    kind: 'heap_growth',
    service: 'shop',
    type: 'heap_inuse_space',
    title: `shop: heap in use grew to ${endBytes} bytes; growing: ${topSite}`,
    time: T0 - 30 * MINUTE,
    detectedAt: T0,
    window: { from: T0 - MINUTE, to: T0 },
    baseline: { from: T0 - 30 * MINUTE, to: T0 - 29 * MINUTE },
    functions: [{ name: topSite, file: 'cache.js', base: 1, comp: endBytes, growthPerHour: 100 }],
    stats: { endBytes },
    links: {
      diff: `http://kiln.test/?view=diff&service=shop&compTo=${T0}`,
      flamegraph: `http://kiln.test/?service=shop&to=${T0}`,
      diffApi: 'http://kiln.test/api/v1/diff',
      flamegraphApi: 'http://kiln.test/api/v1/flamegraph',
    },
    delivery: 'none',
  }
}

const cpuFinding: Finding = {
  ...heapFinding('x', 0),
  id: 'f-cpu',
  kind: 'cpu_regression',
  type: 'cpu',
  title: 'shop: hot grew from 10.0% to 20.0% of CPU in version 2.0.0',
  version: '2.0.0',
  previousVersion: '1.0.0',
  functions: [{ name: 'hot', file: 'hot.js', base: 1, comp: 2, baseShare: 0.1, compShare: 0.2 }],
}

/** An Alertmanager that records each POST and answers `status`. */
function fakeAlertmanager() {
  const posts: { url: string; alerts: PostableAlert[] }[] = []
  const am = {
    posts,
    status: 200,
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      posts.push({ url: String(input), alerts: JSON.parse(String(init?.body)) as PostableAlert[] })
      return new Response(am.status === 200 ? '' : 'no', { status: am.status })
    }) as typeof fetch,
  }
  return am
}

function setup() {
  const am = fakeAlertmanager()
  const warnings: unknown[] = []
  const log = { warn: (o: unknown) => warnings.push(o), debug: () => {} }
  let now = T0
  const notifier = new AlertmanagerNotifier({
    urls: ['http://am.test:9093/'],
    holdMs: HOLD_MS,
    timeoutMs: 1000,
    retries: 0,
    log: log as unknown as FastifyBaseLogger,
    fetch: am.fetch,
    clock: () => now,
  })
  return {
    am,
    warnings,
    notifier,
    at: (t: number) => (now = t),
  }
}

const all: CheckedScope = () => true
const iso = (t: number) => new Date(t).toISOString()

describe('AlertmanagerNotifier', () => {
  it('posts a finding with stable labels, its links as annotations, and refreshes endsAt', async () => {
    const { am, notifier, at } = setup()
    await notifier.notify([{ tenant: 'default', finding: cpuFinding }], all)
    expect(am.posts).toHaveLength(1)
    expect(am.posts[0]!.url).toBe('http://am.test:9093/api/v2/alerts')
    expect(am.posts[0]!.alerts).toEqual([
      {
        labels: {
          alertname: 'KilnCpuRegression',
          severity: 'warning',
          service: 'shop',
          kind: 'cpu_regression',
          profile_type: 'cpu',
          version: '2.0.0',
          function: 'hot',
        },
        annotations: {
          summary: cpuFinding.title,
          description: findingDescription(cpuFinding),
          kiln_diff_url: cpuFinding.links.diff,
          kiln_flamegraph_url: cpuFinding.links.flamegraph,
          kiln_finding_id: 'f-cpu',
        },
        startsAt: iso(cpuFinding.time),
        endsAt: iso(T0 + HOLD_MS),
        generatorURL: cpuFinding.links.diff,
      },
    ])

    // The next run finds it again: same labels, a later end.
    at(T0 + 5 * MINUTE)
    await notifier.notify([{ tenant: 'default', finding: cpuFinding }], all)
    expect(am.posts).toHaveLength(2)
    const [again] = am.posts[1]!.alerts
    expect(again!.labels).toEqual(am.posts[0]!.alerts[0]!.labels)
    expect(again!.startsAt).toBe(iso(cpuFinding.time))
    expect(again!.endsAt).toBe(iso(T0 + 5 * MINUTE + HOLD_MS))
  })

  it("keeps an alert's labels while its finding holds, though its top function changes", async () => {
    const { am, notifier, at } = setup()
    await notifier.notify([{ tenant: 'acme', finding: heapFinding('leak', 1000) }], all)
    at(T0 + 5 * MINUTE)
    const later = heapFinding('other', 2000)
    await notifier.notify([{ tenant: 'acme', finding: later }], all)
    const [first, second] = am.posts.map((p) => p.alerts[0]!)
    expect(first!.labels).toEqual({
      alertname: 'KilnHeapGrowth',
      severity: 'warning',
      service: 'shop',
      kind: 'heap_growth',
      profile_type: 'heap_inuse_space',
      function: 'leak',
      tenant: 'acme',
    })
    expect(second!.labels).toEqual(first!.labels)
    // What a person reads follows the finding.
    expect(second!.annotations.summary).toBe(later.title)
  })

  it('resolves a finding that no longer holds once, ending now', async () => {
    const { am, notifier, at } = setup()
    await notifier.notify([{ tenant: 'default', finding: cpuFinding }], all)
    at(T0 + 5 * MINUTE)
    await notifier.notify([], all)
    expect(am.posts).toHaveLength(2)
    const [resolved] = am.posts[1]!.alerts
    expect(resolved).toEqual({ ...am.posts[0]!.alerts[0]!, endsAt: iso(T0 + 5 * MINUTE) })

    at(T0 + 10 * MINUTE)
    await notifier.notify([], all)
    expect(am.posts).toHaveLength(2) // nothing more to say
  })

  it('leaves alone a finding the run did not check (another tenant, a failed detector)', async () => {
    const { am, notifier, at } = setup()
    await notifier.notify([{ tenant: 'acme', finding: cpuFinding }], all)
    at(T0 + 5 * MINUTE)
    await notifier.notify([], (f) => f.tenant !== 'acme')
    expect(am.posts).toHaveLength(1)
    at(T0 + 10 * MINUTE)
    await notifier.notify([], all)
    expect(am.posts).toHaveLength(2)
    expect(am.posts[1]!.alerts[0]!.endsAt).toBe(iso(T0 + 10 * MINUTE))
  })

  it('posts a resolution again after a failure, and not after the alert ended by itself', async () => {
    const { am, notifier, at, warnings } = setup()
    await notifier.notify([{ tenant: 'default', finding: cpuFinding }], all)
    am.status = 500
    at(T0 + 5 * MINUTE)
    await notifier.notify([], all)
    expect(warnings).toEqual([expect.objectContaining({ status: 500, url: 'http://am.test:9093' })])
    am.status = 200
    at(T0 + 6 * MINUTE)
    await notifier.notify([], all)
    expect(am.posts.map((p) => p.alerts.map((a) => a.endsAt))).toEqual([
      [iso(T0 + HOLD_MS)],
      [iso(T0 + 5 * MINUTE)],
      [iso(T0 + 6 * MINUTE)],
    ])

    // An alert whose resolution never got through ends by itself at its endsAt: no post after.
    await notifier.notify([{ tenant: 'default', finding: cpuFinding }], all)
    am.status = 500
    at(T0 + 7 * MINUTE)
    await notifier.notify([], all)
    am.status = 200
    at(T0 + 6 * MINUTE + HOLD_MS)
    const before = am.posts.length
    await notifier.notify([], all)
    expect(am.posts).toHaveLength(before)
  })

  it('never starts an alert after it ends: a finding dated ahead of the clock starts now', async () => {
    const { am, notifier } = setup()
    const ahead = { ...cpuFinding, time: T0 + 2 * MINUTE }
    await notifier.notify([{ tenant: 'default', finding: ahead }], all)
    expect(am.posts[0]!.alerts[0]!.startsAt).toBe(iso(T0))
  })

  it('holds alerts for three detector intervals, at least 15 minutes', () => {
    expect(alertHoldMs(0)).toBe(15 * MINUTE)
    expect(alertHoldMs(5 * MINUTE)).toBe(15 * MINUTE)
    expect(alertHoldMs(10 * MINUTE)).toBe(30 * MINUTE)
  })
})
