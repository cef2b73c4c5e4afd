import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AGENT_STATS_HEADER,
  AGENT_STATS_HEADER_MAX_BYTES,
  type AgentInstance,
  type AgentStatsHeader,
  type AgentsResponse,
  type FlamegraphResponse,
} from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { encodeProfile, type SyntheticProfile } from './helpers/pprof-builder.js'
import { queryString } from './helpers/query-fixture.js'

const INTERVAL_MS = 10_000
/** Uploads of the fleet are at T0 + i * 10 s, an hour ago (inside the retention, not ahead). */
const T0 = Math.floor((Date.now() - 3_600_000) / INTERVAL_MS) * INTERVAL_MS
const at = (i: number) => T0 + i * INTERVAL_MS

/** A time profile (two types in one pprof) and a heap profile, as the agent uploads each interval. */
const TIME_PROFILE: SyntheticProfile = {
  sampleTypes: [
    ['cpu', 'nanoseconds'],
    ['wall', 'nanoseconds'],
  ],
  samples: [
    { stack: ['main', 'work'], values: [3000, 5000] },
    { stack: ['main', 'idle'], values: [1000, 9000] },
  ],
}
const TIME_CPU_TOTAL = 4000
const HEAP_PROFILE: SyntheticProfile = {
  sampleTypes: [['space', 'bytes']],
  samples: [{ stack: ['main', 'alloc'], values: [4096] }],
}

/** One upload as sent: who, when (`until`), and its stats header (or raw header text). */
interface Upload {
  tenant: string
  service: string
  host: string
  pid: string
  version: string
  at: number
  profile: SyntheticProfile
  header?: AgentStatsHeader & { futureField?: unknown }
  rawHeader?: string | string[]
}

/**
 * Instance A (web-1, pid 1) uploads a time and a heap profile every interval, and restarts under
 * the same host and pid after interval 4: its counters start again from 0. Instance B (web-2,
 * pid 42) is an older agent without `profilerCpuMicros`, whose overhead budget raises its
 * sampling interval; it sends a field the server does not know. Instance C is B's pid under the
 * next version. Counters grow by uneven steps so that any other reading of them gives other sums.
 */
function fleet(tenant: string): Upload[] {
  const uploads: Upload[] = []
  const base = { tenant, service: 'shop', version: '2.1.0' }
  for (let i = 0; i < 8; i++) {
    const k = i < 5 ? i + 1 : i - 4 // intervals since the process started
    const stats: AgentStatsHeader = {
      profilesCollected: 2 * k,
      uploadsOk: 2 * k - 1,
      uploadsFailed: k >= 3 ? 1 : 0,
      uploadsRetried: k >= 3 ? 2 : 0,
      profilesDropped: k >= 4 ? 2 : 0,
      bytesUploaded: 9000 * k,
      queuedProfiles: 1,
      queuedBytes: 4500,
      collectCpuMicros: 1000 * k + 37 * k * k,
      profilerCpuMicros: 5000 * k + 11 * k * k * k,
      lastOverheadPercent: 0.5 + 0.1 * k,
      overheadBudgetPercent: 2,
      samplingIntervalMicros: 10_000,
      // A scheduled agent: the server's plan changes its share after a restart.
      schedule: k === i + 1 ? 'server' : 'local',
      dutyCycle: k === i + 1 ? 1 / 8 : 1 / 6,
    }
    const a = { ...base, host: 'web-1', pid: '1', at: at(i) }
    uploads.push({ ...a, profile: TIME_PROFILE, header: stats })
    // Sent right after, with the counters of that moment: same interval, one more upload done.
    const heap = {
      ...stats,
      uploadsOk: stats.uploadsOk! + 1,
      collectCpuMicros: stats.collectCpuMicros! + 50,
    }
    uploads.push({ ...a, profile: HEAP_PROFILE, header: heap })
  }
  const sampling = [1000, 1000, 2000, 2000, 4000, 4000]
  const failed = [0, 1, 1, 3, 3, 3]
  const dropped = [0, 0, 0, 1, 1, 5]
  for (let i = 0; i < 6; i++) {
    const k = i + 1
    uploads.push({
      ...base,
      host: 'web-2',
      pid: '42',
      at: at(i),
      profile: TIME_PROFILE,
      header: {
        profilesCollected: k,
        uploadsOk: k - failed[i]!,
        uploadsFailed: failed[i]!,
        profilesDropped: dropped[i]!,
        collectCpuMicros: 700 * k + 13 * k * k,
        lastOverheadPercent: [3.5, 2.8, 2.1, 1.9, 1.2, 1.1][i]!,
        overheadBudgetPercent: 1,
        samplingIntervalMicros: sampling[i]!,
        futureField: { nested: [1, 2] },
        ...(i === 5 ? { lastError: 'connect ECONNREFUSED 127.0.0.1:4040' } : {}),
      },
    })
  }
  for (const i of [6, 7]) {
    const k = i - 5
    uploads.push({
      ...base,
      version: '2.2.0',
      host: 'web-2',
      pid: '42',
      at: at(i),
      profile: TIME_PROFILE,
      header: { collectCpuMicros: 650 * k, profilerCpuMicros: 4100 * k, samplingIntervalMicros: k },
    })
  }
  return uploads
}

/** The sum of the rises of a counter from one upload to the next; a fall adds nothing. */
function increase(uploads: Upload[], field: keyof AgentStatsHeader): number {
  let sum = 0
  for (let i = 1; i < uploads.length; i++) {
    const previous = uploads[i - 1]!.header![field]
    const current = uploads[i]!.header![field]
    if (typeof previous === 'number' && typeof current === 'number')
      sum += Math.max(0, current - previous)
  }
  return sum
}

const numbers = (uploads: Upload[], field: keyof AgentStatsHeader): number[] =>
  uploads.flatMap((u) => (typeof u.header![field] === 'number' ? [u.header![field]] : []))

/** What `/api/v1/agents` must answer for these uploads, worked out from them by plain loops. */
function expectedAgents(uploads: Upload[], from: number, to: number): AgentInstance[] {
  const byInstance = new Map<string, Upload[]>()
  // Uploads are listed in the order they are sent, which orders uploads of the same time.
  for (const u of uploads.filter((u) => u.header && u.at >= from && u.at < to)) {
    const key = JSON.stringify([u.host, u.pid, u.version])
    byInstance.set(key, [...(byInstance.get(key) ?? []), u])
  }
  return [...byInstance.keys()].sort().map((key) => {
    const rows = byInstance.get(key)!.sort((a, b) => a.at - b.at)
    const first = rows[0]!
    const last = rows[rows.length - 1]!
    const { futureField: _unknown, ...latest } = last.header!
    const collectCpuMicros = increase(rows, 'collectCpuMicros')
    const profilerCpuMicros = increase(rows, 'profilerCpuMicros')
    const cpuSeconds = (collectCpuMicros + profilerCpuMicros) / 1e6
    const elapsedSeconds = (last.at - first.at) / 1000
    const sampling = numbers(rows, 'samplingIntervalMicros')
    const overhead = numbers(rows, 'lastOverheadPercent')
    return {
      host: first.host,
      pid: first.pid,
      version: first.version,
      firstSeen: first.at,
      lastSeen: last.at,
      uploads: rows.length,
      latest,
      window: {
        elapsedMs: last.at - first.at,
        cpuMicros: collectCpuMicros + profilerCpuMicros,
        collectCpuMicros,
        profilerCpuMicros,
        cpuPercent:
          elapsedSeconds > 0
            ? (expect.closeTo((100 * cpuSeconds) / elapsedSeconds, 9) as number)
            : null,
        maxOverheadPercent: overhead.length ? Math.max(...overhead) : null,
        minSamplingIntervalMicros: sampling.length ? Math.min(...sampling) : null,
        maxSamplingIntervalMicros: sampling.length ? Math.max(...sampling) : null,
        uploadsFailed: increase(rows, 'uploadsFailed'),
        profilesDropped: increase(rows, 'profilesDropped'),
      },
    }
  })
}

describe('agent stats (x-kiln-agent-stats)', () => {
  let app: FastifyInstance
  let dataDir: string
  let base: string
  const acme = fleet('acme')
  /** Another tenant's instance of a service of the same name. */
  const other: Upload[] = [0, 1].map((i) => ({
    tenant: 'other',
    service: 'shop',
    version: '9.9.9',
    host: 'web-9',
    pid: '7',
    at: at(i),
    profile: TIME_PROFILE,
    header: { collectCpuMicros: 100_000 * (i + 1) },
  }))

  const send = async (u: Upload) => {
    const labels = `host=${u.host},pid=${u.pid}${u.version ? `,service_version=${u.version}` : ''}`
    const headers = new Headers({
      'content-type': 'application/octet-stream',
      'x-scope-orgid': u.tenant,
    })
    if (u.header) headers.set(AGENT_STATS_HEADER, JSON.stringify(u.header))
    for (const raw of [u.rawHeader ?? []].flat()) headers.append(AGENT_STATS_HEADER, raw)
    const query = queryString({
      name: `${u.service}{${labels}}`,
      from: (u.at - INTERVAL_MS) / 1000,
      until: u.at / 1000,
      format: 'pprof',
    })
    return fetch(`${base}/ingest?${query}`, {
      method: 'POST',
      headers,
      body: encodeProfile(u.profile),
    })
  }
  const get = async <T>(tenant: string, path: string, params: Record<string, string | number>) => {
    const res = await fetch(`${base}/api/v1${path}?${queryString(params)}`, {
      headers: { 'x-scope-orgid': tenant },
    })
    const body = await res.text()
    expect(res.status, body).toBe(200)
    return JSON.parse(body) as T
  }
  const agents = (tenant: string, params: Record<string, string | number>) =>
    get<AgentsResponse>(tenant, '/agents', params)
  const malformed = async (reason: string): Promise<number> => {
    const text = await (await fetch(`${base}/metrics`)).text()
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`kiln_agent_stats_malformed_total{reason="${reason}"} `))
    return line ? Number(line.split(' ')[1]) : 0
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-agent-stats-'))
    app = await buildApp(
      resolveConfig({ dataDir, logLevel: 'silent', insertBatchWaitMs: 1, multiTenant: true }),
    )
    base = await app.listen({ port: 0, host: '127.0.0.1' })
    for (const u of [...acme, ...other]) {
      const res = await send(u)
      expect(res.status, await res.text()).toBe(200)
    }
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('adds up each instance over the window from its counters, across a restart', async () => {
    const window = { service: 'shop', from: T0 - 1, to: at(100) }
    const res = await agents('acme', window)
    expect(res).toMatchObject({
      service: 'shop',
      from: window.from,
      to: window.to,
      truncated: false,
    })
    expect(res.agents).toEqual(expectedAgents(acme, window.from, window.to))
    // The figures are not trivially zero: A spent CPU, B failed uploads and backed off.
    const [a, b, c] = res.agents
    expect([a?.host, b?.version, c?.version]).toEqual(['web-1', '2.1.0', '2.2.0'])
    expect(a!.uploads).toBe(16) // one row per upload, though the time profile holds two types
    expect(a!.window.cpuPercent).toBeGreaterThan(0)
    expect(b!.latest.profilerCpuMicros).toBeUndefined()
    expect(b!.window).toMatchObject({
      minSamplingIntervalMicros: 1000,
      maxSamplingIntervalMicros: 4000,
    })
  })

  it('reads only the uploads inside the window, the first of them as the baseline', async () => {
    const window = { service: 'shop', from: at(3) - 1, to: at(6) + 1 }
    const res = await agents('acme', window)
    const expected = expectedAgents(acme, window.from, window.to)
    expect(res.agents).toEqual(expected)
    expect(expected[0]!.window.collectCpuMicros).not.toBe(
      expectedAgents(acme, T0, at(100))[0]!.window.collectCpuMicros,
    )
  })

  it('caps the number of instances and says so', async () => {
    const res = await agents('acme', { service: 'shop', from: T0, to: at(100), limit: 1 })
    expect(res.agents.map((a) => a.host)).toEqual(['web-1'])
    expect(res.truncated).toBe(true)
  })

  it('shows each tenant its own agents only', async () => {
    const window = { service: 'shop', from: T0, to: at(100) }
    const res = await agents('other', window)
    expect(res.agents).toEqual(expectedAgents(other, window.from, window.to))
    expect(res.agents.map((a) => a.host)).toEqual(['web-9'])
    const hosts = (await agents('acme', window)).agents.map((a) => a.host)
    expect(hosts).not.toContain('web-9')
    expect((await agents('nobody', window)).agents).toEqual([])
  })

  it('stores a profile whatever its stats header, and counts the headers it ignores', async () => {
    const tooLong = JSON.stringify({ lastError: 'x'.repeat(AGENT_STATS_HEADER_MAX_BYTES) })
    const cases: { reason: string; raw: string | string[] }[] = [
      { reason: 'not_json', raw: 'uploadsOk=3' },
      { reason: 'not_json', raw: ['{"uploadsOk":1}', '{"uploadsOk":2}'] }, // sent twice
      { reason: 'too_large', raw: tooLong },
      { reason: 'invalid', raw: '{"uploadsOk":-1}' },
      { reason: 'invalid', raw: '{"collectCpuMicros":"12"}' },
      { reason: 'invalid', raw: '{"collectCpuMicros":1e999}' }, // Infinity
      { reason: 'invalid', raw: '[1,2]' },
      { reason: 'invalid', raw: 'null' },
    ]
    const reasons = [...new Set(cases.map((c) => c.reason))]
    const before = Object.fromEntries(
      await Promise.all(reasons.map(async (r) => [r, await malformed(r)])),
    )
    for (const [i, c] of cases.entries()) {
      const res = await send({
        tenant: 'acme',
        service: 'bad-headers',
        host: 'web-1',
        pid: '1',
        version: '',
        at: at(i),
        profile: TIME_PROFILE,
        rawHeader: c.raw,
      })
      expect(res.status, `${JSON.stringify(c.raw).slice(0, 80)}: ${await res.text()}`).toBe(200)
    }
    for (const reason of reasons) {
      const sent = cases.filter((c) => c.reason === reason).length
      expect(await malformed(reason), reason).toBe(before[reason] + sent)
    }
    // Samples are stored at the upload's `from`, an interval before its `until`.
    const window = { service: 'bad-headers', from: T0 - INTERVAL_MS, to: at(100) }
    const graph = await get<FlamegraphResponse>('acme', '/flamegraph', { ...window, type: 'cpu' })
    expect(graph.total).toBe(TIME_CPU_TOTAL * cases.length)
    expect((await agents('acme', window)).agents).toEqual([])
  })

  it('keeps no stats for uploads without the header, as Pyroscope clients send them', async () => {
    const res = await send({
      tenant: 'acme',
      service: 'pyroscope-client',
      host: 'web-3',
      pid: '3',
      version: '1.0.0',
      at: at(0),
      profile: TIME_PROFILE,
    })
    expect(res.status, await res.text()).toBe(200)
    const window = { service: 'pyroscope-client', from: T0 - INTERVAL_MS, to: at(100) }
    const graph = await get<FlamegraphResponse>('acme', '/flamegraph', { ...window, type: 'cpu' })
    expect(graph.total).toBe(TIME_CPU_TOTAL)
    expect((await agents('acme', window)).agents).toEqual([])
  })

  it('refuses a window that ends before it starts', async () => {
    const res = await fetch(
      `${base}/api/v1/agents?${queryString({ service: 'shop', from: 10, to: 5 })}`,
      {
        headers: { 'x-scope-orgid': 'acme' },
      },
    )
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ code: 'KILN_ERR_QUERY_INVALID' })
  })

  it('is documented in the OpenAPI document', async () => {
    const doc = await get<{
      paths: Record<
        string,
        {
          get?: {
            parameters: { name: string; required: boolean }[]
            responses: Record<
              string,
              { content: Record<string, { schema: { properties: Record<string, unknown> } }> }
            >
          }
        }
      >
    }>('acme', '/openapi.json', {})
    const op = doc.paths['/api/v1/agents']?.get
    expect(op?.parameters.map((p) => [p.name, p.required]).sort()).toEqual([
      ['from', false],
      ['limit', false],
      ['service', true],
      ['to', false],
    ])
    const schema = op!.responses['200']!.content['application/json']!.schema
    expect(Object.keys(schema.properties).sort()).toEqual([
      'agents',
      'from',
      'service',
      'to',
      'truncated',
    ])
  })
})
