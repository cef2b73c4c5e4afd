import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { MessageInitShape } from '@bufbuild/protobuf'
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  FlamegraphResponse,
  LabelValuesResponse,
  LabelsResponse,
  ServicesResponse,
} from '@kiln/wire'
import type { KilnOptions } from '../src/config/config-schema.js'
import { PusherService, type PushRequestSchema } from '../src/pyroscope/gen/push/v1/push_pb.js'
import { startServer } from '../src/index.js'
import { pprofCommand, pprofReadAll } from './helpers/go-pprof.js'
import { encodeProfile, type SyntheticProfile } from './helpers/pprof-builder.js'
import { queryString } from './helpers/query-fixture.js'

/*
 * Pyroscope's push API (`push.v1.PusherService/Push`) as Grafana Alloy's `pyroscope.write` calls
 * it, through a real Connect client over HTTP (binary protobuf as connect-go sends it, and JSON):
 * what a Push stores reads back with the totals `go tool pprof` reads from the same bytes, once
 * however often the Push is retried, in the tenant the request names, and a Push with any bad
 * profile stores nothing.
 */

type Push = MessageInitShape<typeof PushRequestSchema>
type Labels = Record<string, string>

const NOW = Date.now()
/** The profiles' times: each its own 10 s, in the last minutes. */
const T0 = Math.floor((NOW - 5 * 60_000) / 10_000) * 10_000
const WINDOW = { from: T0 - 60_000, to: NOW + 60_000 }
const MAX_BODY_BYTES = 64 * 1024
const MAX_DECOMPRESSED_BYTES = 256 * 1024

/** The pprof sample type each Kiln type is read from, as a Go profile has them. */
const SAMPLE_TYPE_OF: Record<string, string> = {
  cpu: 'cpu/nanoseconds',
  alloc_space: 'alloc_space/bytes',
  alloc_objects: 'alloc_objects/count',
  heap_inuse_space: 'inuse_space/bytes',
  heap_inuse_objects: 'inuse_objects/count',
}

/** A Go CPU profile (as `runtime/pprof` writes it) at `at`, its values scaled by `scale`. */
function cpuProfile(at: number, scale: number): SyntheticProfile {
  return {
    sampleTypes: [
      ['samples', 'count'],
      ['cpu', 'nanoseconds'],
    ],
    samples: [
      { stack: ['main', 'serve', 'render'], values: [7 * scale, 70_000_000 * scale] },
      { stack: ['main', 'serve', 'parse'], values: [3 * scale, 30_000_000 * scale] },
      { stack: ['main', 'gc'], values: [scale, 10_000_000 * scale] },
    ],
    timeNanos: BigInt(at) * 1_000_000n,
    durationNanos: 10_000_000_000n,
  }
}

/** A Go heap profile: allocations and what is in use, each by stack. */
function memoryProfile(at: number): SyntheticProfile {
  return {
    sampleTypes: [
      ['alloc_objects', 'count'],
      ['alloc_space', 'bytes'],
      ['inuse_objects', 'count'],
      ['inuse_space', 'bytes'],
    ],
    samples: [
      { stack: ['main', 'cache', 'grow'], values: [120, 983_040, 40, 327_680] },
      { stack: ['main', 'serve', 'buffer'], values: [900, 3_686_400, 12, 49_152] },
    ],
    timeNanos: BigInt(at) * 1_000_000n,
    durationNanos: 10_000_000_000n,
  }
}

/** A Go goroutine profile: a kind of profile Kiln keeps none of. */
const goroutineProfile: SyntheticProfile = {
  sampleTypes: [['goroutine', 'count']],
  samples: [{ stack: ['main', 'select'], values: [12] }],
  timeNanos: BigInt(T0) * 1_000_000n,
}

const pairs = (labels: Labels) => Object.entries(labels).map(([name, value]) => ({ name, value }))

/** One series as Alloy's `pyroscope.write` sends it: Pyroscope's labels, raw pprof profiles. */
interface SentSeries {
  labels: Labels
  profiles: { bytes: Buffer; id?: string }[]
}
const pushOf = (series: SentSeries[]): Push => ({
  series: series.map((s) => ({
    labels: pairs(s.labels),
    samples: s.profiles.map((p) => ({ rawProfile: p.bytes, ID: p.id ?? '' })),
  })),
})

async function withServer(options: KilnOptions) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-push-'))
  const server = await startServer({
    port: 0,
    dataDir,
    logLevel: 'silent',
    insertBatchWaitMs: 5,
    detectorIntervalMs: 0,
    rateLimitIngestPerMinute: 0,
    maxBodyBytes: MAX_BODY_BYTES,
    maxDecompressedBytes: MAX_DECOMPRESSED_BYTES,
    ...options,
  })
  const clients = {
    binary: createClient(
      PusherService,
      createConnectTransport({ baseUrl: server.url, httpVersion: '1.1', useBinaryFormat: true }),
    ),
    json: createClient(
      PusherService,
      createConnectTransport({ baseUrl: server.url, httpVersion: '1.1', useBinaryFormat: false }),
    ),
  }
  const get = async <T>(
    path: string,
    params: Record<string, string | number>,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(`${server.url}/api/v1${path}?${queryString(params)}`, { headers })
    expect(res.status, await res.clone().text()).toBe(200)
    return (await res.json()) as T
  }
  return {
    server,
    clients,
    /** The flame graph total of a service and type over the window. */
    total: async (service: string, type = 'cpu', headers: Record<string, string> = {}) =>
      (await get<FlamegraphResponse>('/flamegraph', { service, type, ...WINDOW }, headers)).total,
    services: async (headers: Record<string, string> = {}) =>
      (await get<ServicesResponse>('/services', {}, headers)).services.map((s) => s.name),
    get,
    async dispose() {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/**
 * What `go tool pprof` reads from each profile of these series, summed per service and Kiln
 * type (`service/type`): what the flame graphs must show.
 */
async function pprofTotals(series: SentSeries[]): Promise<Map<string, number>> {
  const files = series.flatMap((s) =>
    s.profiles.map((p) => {
      const file = join(pprofDir, `${randomBytes(8).toString('hex')}.pb`)
      writeFileSync(file, p.bytes)
      return { file, service: s.labels.service_name! }
    }),
  )
  const readings = await pprofReadAll(
    pprofCommand(),
    files.map((f) => f.file),
    2,
  )
  const totals = new Map<string, number>()
  readings.forEach((reading, i) => {
    if (!reading.ok || reading.types === undefined) throw new Error(`pprof: ${files[i]!.file}`)
    for (const [type, sampleType] of Object.entries(SAMPLE_TYPE_OF)) {
      const at = reading.types.indexOf(sampleType)
      if (at < 0) continue
      const key = `${files[i]!.service}/${type}`
      totals.set(key, (totals.get(key) ?? 0) + Number(reading.totals[at]))
    }
  })
  return totals
}

/** Profiles written for `go tool pprof` to read. */
let pprofDir: string
beforeAll(() => {
  pprofDir = mkdtempSync(join(tmpdir(), 'kiln-push-files-'))
})
afterAll(() => {
  rmSync(pprofDir, { recursive: true, force: true })
})

/** The Connect error a call ends with. */
async function connectError(call: Promise<unknown>): Promise<ConnectError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error, 'the call should fail').toBeInstanceOf(ConnectError)
  return error as ConnectError
}

describe('Pyroscope push API', () => {
  let env: Awaited<ReturnType<typeof withServer>>
  beforeAll(async () => {
    env = await withServer({})
  })
  afterAll(async () => {
    await env?.dispose()
  })

  /** A push shaped as Alloy sends it: CPU and memory of one service, CPU of another. */
  const shop = { service_name: 'shop-api', service_version: '1.4.2', pod: 'shop-7f9c' }
  const alloyPush: SentSeries[] = [
    {
      labels: {
        __name__: 'process_cpu',
        __delta__: 'false',
        __session_id__: '8f1c2a34bd9e0a71',
        ...shop,
        pyroscope_spy: 'gospy',
      },
      profiles: [
        { bytes: encodeProfile(cpuProfile(T0, 1)), id: '0b8f6a1e-4c3d-4a52-9e1f-2d7c5b3a1f00' },
        {
          bytes: encodeProfile(cpuProfile(T0 + 10_000, 3), false),
          id: '0b8f6a1e-4c3d-4a52-9e1f-2d7c5b3a1f01',
        },
      ],
    },
    {
      labels: { __name__: 'memory', __delta__: 'false', ...shop },
      profiles: [{ bytes: encodeProfile(memoryProfile(T0)) }],
    },
    {
      labels: { __name__: 'goroutine', ...shop },
      profiles: [{ bytes: encodeProfile(goroutineProfile) }],
    },
    {
      labels: { __name__: 'process_cpu', service_name: 'billing', pod: 'billing-0', zone: '' },
      profiles: [{ bytes: encodeProfile(cpuProfile(T0, 5), false) }],
    },
    // A memory profile of allocations in its interval (no __delta__="false"): all kept.
    {
      labels: { __name__: 'memory', service_name: 'billing', pod: 'billing-0' },
      profiles: [{ bytes: encodeProfile(memoryProfile(T0)) }],
    },
  ]
  /**
   * What Kiln keeps of them: `__delta__="false"` memory profiles count allocations since their
   * process started, so shop-api's allocation types are left out (its heap in use is kept).
   */
  const kept = (totals: Map<string, number>) =>
    new Map([...totals].filter(([key]) => !/^shop-api\/alloc_/.test(key)))

  it('stores what Alloy pushes (binary protobuf), with the totals go tool pprof reads', async () => {
    const expected = kept(await pprofTotals(alloyPush))
    // Every Kiln type of each service's profiles but shop-api's cumulative allocations; none of
    // the goroutine profile.
    expect([...expected.keys()].sort()).toEqual([
      'billing/alloc_objects',
      'billing/alloc_space',
      'billing/cpu',
      'billing/heap_inuse_objects',
      'billing/heap_inuse_space',
      'shop-api/cpu',
      'shop-api/heap_inuse_objects',
      'shop-api/heap_inuse_space',
    ])
    await env.clients.binary.push(pushOf(alloyPush))

    for (const [key, value] of expected) {
      const [service, type] = key.split('/') as [string, string]
      expect(await env.total(service, type), key).toBe(value)
    }
    for (const type of ['alloc_objects', 'alloc_space']) {
      expect(await env.total('shop-api', type), `shop-api/${type}`).toBe(0)
    }
    expect((await env.services()).sort()).toEqual(['billing', 'shop-api'])
    // Pyroscope's own labels are gone, service_name is the service, the rest are labels.
    const names = await env.get<LabelsResponse>('/labels', {
      service: 'shop-api',
      type: 'cpu',
      ...WINDOW,
    })
    expect(names.names).toEqual(['pod', 'service_version'])
    const heapNames = await env.get<LabelsResponse>('/labels', {
      service: 'shop-api',
      type: 'heap_inuse_space',
      ...WINDOW,
    })
    expect(heapNames.names).toEqual(['pod', 'service_version'])
    const pods = await env.get<LabelValuesResponse>('/label-values', {
      service: 'billing',
      type: 'cpu',
      name: 'pod',
      ...WINDOW,
    })
    expect(pods.values).toEqual(['billing-0'])
    // An empty value is no label.
    const billing = await env.get<LabelsResponse>('/labels', {
      service: 'billing',
      type: 'cpu',
      ...WINDOW,
    })
    expect(billing.names).toEqual(['pod'])
  })

  it('stores what is pushed as JSON the same way', async () => {
    const series: SentSeries[] = [
      {
        labels: { __name__: 'process_cpu', service_name: 'json-api', pod: 'json-0' },
        profiles: [
          { bytes: encodeProfile(cpuProfile(T0, 2)) },
          { bytes: encodeProfile(cpuProfile(T0 + 10_000, 4), false) },
        ],
      },
    ]
    const expected = await pprofTotals(series)
    await env.clients.json.push(pushOf(series))
    expect(await env.total('json-api')).toBe(expected.get('json-api/cpu'))
    expect(expected.get('json-api/cpu')).toBeGreaterThan(0)
  })

  it('stores each profile once however often the push is retried', async () => {
    const series: SentSeries[] = [
      {
        labels: { __name__: 'process_cpu', service_name: 'retried', pod: 'r-0' },
        profiles: [
          { bytes: encodeProfile(cpuProfile(T0, 1)), id: 'a3c0e3f2-0000-4000-8000-000000000001' },
          { bytes: encodeProfile(cpuProfile(T0 + 10_000, 2)) },
        ],
      },
      {
        labels: { __name__: 'memory', service_name: 'retried', pod: 'r-0' },
        profiles: [{ bytes: encodeProfile(memoryProfile(T0)) }],
      },
    ]
    const expected = await pprofTotals(series)
    const push = pushOf(series)
    await env.clients.binary.push(push)
    // Retried one after the other, by either codec, and at once (a retry sent before the first
    // attempt was answered).
    await env.clients.binary.push(push)
    await env.clients.json.push(push)
    await Promise.all([1, 2, 3].map(() => env.clients.binary.push(push)))
    for (const type of ['cpu', 'alloc_space', 'heap_inuse_space']) {
      expect(await env.total('retried', type), type).toBe(expected.get(`retried/${type}`))
    }

    // The same bytes under another ID, or under other labels, are other profiles.
    const again = series[0]!.profiles[0]!
    await env.clients.binary.push(
      pushOf([
        {
          labels: series[0]!.labels,
          profiles: [{ bytes: again.bytes, id: 'a3c0e3f2-0000-4000-8000-000000000002' }],
        },
        { labels: { ...series[0]!.labels, pod: 'r-1' }, profiles: [again] },
      ]),
    )
    const one = (await pprofTotals([{ labels: series[0]!.labels, profiles: [again] }])).get(
      'retried/cpu',
    )!
    expect(await env.total('retried')).toBe(expected.get('retried/cpu')! + 2 * one)

    // A profile twice in one request is one profile.
    const twice = encodeProfile(cpuProfile(T0 + 20_000, 9))
    const labels = { service_name: 'twice', __name__: 'process_cpu' }
    await env.clients.binary.push(
      pushOf([{ labels, profiles: [{ bytes: twice }, { bytes: twice }] }]),
    )
    const single = (await pprofTotals([{ labels, profiles: [{ bytes: twice }] }])).get('twice/cpu')
    expect(await env.total('twice')).toBe(single)
  })

  /** A push with one good profile of `service` first, then `bad`: refused with nothing stored. */
  async function refusedWhole(service: string, bad: SentSeries, code: Code, text: RegExp) {
    const good: SentSeries = {
      labels: { service_name: service, __name__: 'process_cpu' },
      profiles: [{ bytes: encodeProfile(cpuProfile(T0, 1)) }],
    }
    for (const client of [env.clients.binary, env.clients.json]) {
      const error = await connectError(client.push(pushOf([good, bad])))
      expect(error.code, error.message).toBe(code)
      expect(error.rawMessage).toMatch(text)
    }
    expect(await env.services()).not.toContain(service)
    expect(await env.total(service)).toBe(0)
  }

  it('refuses a series without service_name, storing nothing of the request', async () => {
    await refusedWhole(
      'no-name-good',
      {
        labels: { __name__: 'process_cpu', pod: 'p-0' },
        profiles: [{ bytes: encodeProfile(cpuProfile(T0, 1)) }],
      },
      Code.InvalidArgument,
      /^KILN_ERR_BAD_REQUEST: .*series 1 has no service_name label/,
    )
    await refusedWhole(
      'empty-name-good',
      {
        labels: { __name__: 'process_cpu', service_name: '' },
        profiles: [{ bytes: encodeProfile(cpuProfile(T0, 1)) }],
      },
      Code.InvalidArgument,
      /series 1 has no service_name label/,
    )
  })

  it('refuses garbage profiles, storing nothing of the request', async () => {
    const labels = { service_name: 'garbage', __name__: 'process_cpu' }
    await refusedWhole(
      'garbage-good',
      { labels, profiles: [{ bytes: Buffer.from('this is not a profile') }] },
      Code.InvalidArgument,
      /^KILN_ERR_PPROF_INVALID: .* in series 1 \(service_name "garbage"\), profile 0$/,
    )
    const gzipped = gzipSync(Buffer.from('this is not a profile either'))
    await refusedWhole(
      'garbage-gzip-good',
      { labels, profiles: [{ bytes: encodeProfile(cpuProfile(T0, 2)) }, { bytes: gzipped }] },
      Code.InvalidArgument,
      /^KILN_ERR_PPROF_INVALID: .* in series 1 .*, profile 1$/,
    )
    await refusedWhole(
      'garbage-cut-good',
      { labels, profiles: [{ bytes: encodeProfile(cpuProfile(T0, 2)).subarray(0, 40) }] },
      Code.InvalidArgument,
      /^KILN_ERR_GZIP_INVALID: /,
    )
    expect(await env.services()).not.toContain('garbage')
  })

  it('holds a push to the size limits of one /ingest upload', async () => {
    const labels = { service_name: 'too-large', __name__: 'process_cpu' }
    // A gzip bomb: a few hundred bytes that inflate past KILN_MAX_DECOMPRESSED_BYTES.
    const bomb = gzipSync(Buffer.alloc(4 * MAX_DECOMPRESSED_BYTES))
    expect(bomb.length).toBeLessThan(MAX_BODY_BYTES)
    await refusedWhole(
      'bomb-good',
      { labels, profiles: [{ bytes: bomb }] },
      Code.ResourceExhausted,
      new RegExp(
        `^KILN_ERR_DECOMPRESSED_TOO_LARGE: .* ${MAX_DECOMPRESSED_BYTES} bytes in series 1 `,
      ),
    )
    // Profiles each within the limit, together beyond it: a function name of 60% of it.
    const large = (at: number) =>
      encodeProfile({
        sampleTypes: [['cpu', 'nanoseconds']],
        samples: [
          { stack: ['main', `${'x'.repeat(0.6 * MAX_DECOMPRESSED_BYTES)}@big.go`], values: [1000] },
        ],
        timeNanos: BigInt(at) * 1_000_000n,
      })
    await env.clients.binary.push(pushOf([{ labels, profiles: [{ bytes: large(T0) }] }]))
    expect(await env.total('too-large')).toBe(1000)
    await refusedWhole(
      'together-good',
      { labels, profiles: [{ bytes: large(T0 + 10_000) }, { bytes: large(T0 + 20_000) }] },
      Code.ResourceExhausted,
      /with the request's profiles before it \(KILN_MAX_DECOMPRESSED_BYTES\) in series 1 .*, profile 1$/,
    )
    expect(await env.total('too-large')).toBe(1000)
    // A body beyond KILN_MAX_BODY_BYTES is not read.
    await refusedWhole(
      'body-good',
      { labels, profiles: [{ bytes: randomBytes(MAX_BODY_BYTES) }] },
      Code.ResourceExhausted,
      /readMaxBytes/,
    )
    // The server is up, and takes the next push.
    await env.clients.binary.push(
      pushOf([{ labels, profiles: [{ bytes: encodeProfile(cpuProfile(T0 + 30_000, 1)) }] }]),
    )
    expect(await env.total('too-large')).toBeGreaterThan(1000)
  })
})

describe('Pyroscope push API: tokens and tenants', () => {
  const TOKENS = {
    ingest: 'push-ingest-0123456789',
    acme: 'push-ingest-acme-0123456789',
    read: 'push-read-0123456789',
  }
  let env: Awaited<ReturnType<typeof withServer>>
  let client: Client<typeof PusherService>
  beforeAll(async () => {
    env = await withServer({
      tokens: `ingest=${TOKENS.ingest},ingest@acme=${TOKENS.acme},read=${TOKENS.read}`,
      multiTenant: true,
      authQueries: true,
    })
    client = env.clients.binary
  })
  afterAll(async () => {
    await env?.dispose()
  })

  const bytes = encodeProfile(cpuProfile(T0, 1))
  const push = pushOf([
    {
      labels: { service_name: 'tenant-api', __name__: 'process_cpu' },
      profiles: [{ bytes }],
    },
  ])
  const as = (token: string, tenant?: string) => ({
    headers: {
      authorization: `Bearer ${token}`,
      ...(tenant === undefined ? {} : { 'x-scope-orgid': tenant }),
    },
  })
  const reader = (tenant: string) => as(TOKENS.read, tenant).headers

  it('needs a token with the ingest scope', async () => {
    const anonymous = await connectError(client.push(push, { headers: { 'x-scope-orgid': 'a' } }))
    expect(anonymous.code).toBe(Code.Unauthenticated)
    const unknown = await connectError(client.push(push, as('not-a-token-0123456789', 'a')))
    expect(unknown.code).toBe(Code.Unauthenticated)
    const readOnly = await connectError(client.push(push, as(TOKENS.read, 'a')))
    expect(readOnly.code).toBe(Code.PermissionDenied)
    // A token bound to a tenant pushes for that tenant only.
    const elsewhere = await connectError(client.push(push, as(TOKENS.acme, 'globex')))
    expect(elsewhere.code).toBe(Code.PermissionDenied)
    // A token of every tenant must name one.
    const unnamed = await connectError(client.push(push, as(TOKENS.ingest)))
    expect(unnamed.code).toBe(Code.Unauthenticated)
    for (const tenant of ['a', 'acme', 'globex']) {
      expect(await env.services(reader(tenant))).toEqual([])
    }
  })

  it('stores in the tenant of X-Scope-OrgID, which no other tenant sees', async () => {
    const series = { labels: { service_name: 'tenant-api' }, profiles: [{ bytes }] }
    const expected = (await pprofTotals([series])).get('tenant-api/cpu')
    await client.push(push, as(TOKENS.ingest, 'initech'))
    await client.push(push, as(TOKENS.acme))
    await client.push(push, as(TOKENS.acme, 'acme'))
    expect(await env.total('tenant-api', 'cpu', reader('initech'))).toBe(expected)
    expect(await env.total('tenant-api', 'cpu', reader('acme'))).toBe(expected)
    expect(await env.services(reader('globex'))).toEqual([])
    expect(await env.total('tenant-api', 'cpu', reader('globex'))).toBe(0)
  })
})

describe('Pyroscope push API: backpressure shared with /ingest', () => {
  let env: Awaited<ReturnType<typeof withServer>>
  beforeAll(async () => {
    // One upload in flight at a time, and each waits this long in the batch writer (without
    // the ingest log, whose answer does not wait for the writer).
    env = await withServer({ maxIngestInFlight: 1, insertBatchWaitMs: 1500, ingestLog: false })
  })
  afterAll(async () => {
    await env?.dispose()
  })

  it('sheds a push or an upload beyond KILN_MAX_INGEST_IN_FLIGHT, and admits them after', async () => {
    const labels = { service_name: 'busy', __name__: 'process_cpu' }
    const [a, b, upload] = [1, 2, 3].map((i) => encodeProfile(cpuProfile(T0 + i * 10_000, i)))
    const first = pushOf([{ labels, profiles: [{ bytes: a! }] }])
    const second = pushOf([{ labels, profiles: [{ bytes: b! }] }])
    const ingest = () =>
      fetch(`${env.server.url}/ingest?name=busy`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: upload,
      })
    const expected = await pprofTotals([
      { labels, profiles: [a!, b!, upload!].map((bytes) => ({ bytes })) },
    ])
    const running = env.clients.binary.push(first)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const shed = await connectError(env.clients.binary.push(second))
    expect(shed.code, shed.message).toBe(Code.Unavailable)
    expect(shed.rawMessage).toMatch(/^KILN_ERR_OVERLOADED: /)
    // When to come back, as /ingest's 429 says it.
    expect(Number(shed.metadata.get('retry-after'))).toBeGreaterThan(0)
    const refused = await ingest()
    expect(refused.status).toBe(429)
    await running
    await env.clients.binary.push(second)
    expect((await ingest()).status).toBe(200)
    expect(await env.total('busy')).toBe(expected.get('busy/cpu'))
  })
})
