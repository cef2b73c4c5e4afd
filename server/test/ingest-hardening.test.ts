import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FlamegraphResponse, ServicesResponse } from '@kiln/wire'
import { buildApp } from '../src/app.js'
import type { KilnOptions } from '../src/config/config-schema.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { encodeProfile, type SyntheticProfile } from './helpers/pprof-builder.js'

const NOW = Date.now()
const FROM = NOW - 60_000
const PROFILE: SyntheticProfile = {
  sampleTypes: [['cpu', 'nanoseconds']],
  samples: [
    { stack: ['main', 'serve', 'render'], values: [700] },
    { stack: ['main', 'serve'], values: [200] },
    { stack: ['main', 'idle'], values: [100] },
  ],
}
const PROFILE_TOTAL = PROFILE.samples.reduce((a, s) => a + s.values[0]!, 0)

async function makeApp(options: KilnOptions = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-hard-'))
  const app = await buildApp(
    resolveConfig({ dataDir, logLevel: 'silent', insertBatchWaitMs: 1, ...options }),
  )
  return {
    app,
    dispose: async () => (await app.close(), rmSync(dataDir, { recursive: true, force: true })),
  }
}

function multipart(fields: Record<string, Buffer>): { body: Buffer; contentType: string } {
  const boundary = `----kiln${randomBytes(8).toString('hex')}`
  const parts = Object.entries(fields).map(([name, data]) =>
    Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}.pprof"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      ),
      data,
      Buffer.from('\r\n'),
    ]),
  )
  return {
    body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  }
}

const ingestUrl = (name: string, from = FROM, until = from + 10_000) =>
  `/ingest?name=${encodeURIComponent(name)}&from=${from}&until=${until}&format=pprof`

async function total(app: FastifyInstance, service: string, headers: Record<string, string> = {}) {
  const res = await app.inject({
    url: `/api/v1/flamegraph?service=${service}&type=cpu&from=${FROM - 60_000}&to=${NOW + 60_000}`,
    headers,
  })
  expect(res.statusCode, res.body).toBe(200)
  return res.json<FlamegraphResponse>().total
}

describe('ingest forms', () => {
  let app: FastifyInstance
  let dispose: () => Promise<unknown>
  beforeAll(async () => ({ app, dispose } = await makeApp()))
  afterAll(async () => dispose?.())

  it('stores the same totals from raw, gzipped and multipart bodies', async () => {
    const raw = encodeProfile(PROFILE, false)
    const form = multipart({
      profile: gzipSync(raw),
      sample_type_config: Buffer.from('{"cpu":{"units":"nanoseconds"}}'),
    })
    const requests = [
      { service: 'raw', payload: raw, contentType: 'application/octet-stream' },
      { service: 'gzipped', payload: gzipSync(raw), contentType: 'application/octet-stream' },
      { service: 'multipart', payload: form.body, contentType: form.contentType },
    ]
    for (const r of requests) {
      const res = await app.inject({
        method: 'POST',
        url: ingestUrl(r.service),
        payload: r.payload,
        headers: { 'content-type': r.contentType },
      })
      expect(res.statusCode, `${r.service}: ${res.body}`).toBe(200)
    }
    for (const r of requests) expect(await total(app, r.service), r.service).toBe(PROFILE_TOTAL)
  })

  it('exposes Prometheus metrics of what it stored and refused', async () => {
    await app.inject({ method: 'POST', url: ingestUrl('bad'), payload: Buffer.from('garbage') })
    const res = await app.inject({ url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.body).toMatch(/kiln_ingested_profiles_total\{type="cpu"\} 3/)
    expect(res.body).toMatch(/kiln_ingest_rejected_total\{code="KILN_ERR_PPROF_INVALID"\} 1/)
    expect(res.body).toContain('kiln_insert_duration_seconds_bucket')
  })

  it('answers /health only after asking the store', async () => {
    const res = await app.inject({ url: '/health' })
    expect(res.json()).toMatchObject({ status: 'ok', store: { reachable: true, schema: 'ready' } })
  })
})

describe('bad input battery', () => {
  let app: FastifyInstance
  let dispose: () => Promise<unknown>
  beforeAll(
    async () =>
      ({ app, dispose } = await makeApp({ maxDecompressedBytes: 2 << 20, maxBodyBytes: 4 << 20 })),
  )
  afterAll(async () => dispose?.())

  const manyLabels = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 'v']))
  const valid = encodeProfile(PROFILE)
  const cases: {
    name: string
    url?: string
    payload: Buffer
    headers?: Record<string, string>
    status: number
    code: string
  }[] = [
    {
      name: 'truncated pprof',
      payload: encodeProfile(PROFILE, false).subarray(0, 25),
      status: 400,
      code: 'KILN_ERR_PPROF_INVALID',
    },
    {
      name: 'random bytes',
      payload: randomBytes(4096),
      status: 400,
      code: 'KILN_ERR_PPROF_INVALID',
    },
    {
      name: 'gzip bomb',
      payload: gzipSync(Buffer.alloc(64 << 20)),
      status: 413,
      code: 'KILN_ERR_DECOMPRESSED_TOO_LARGE',
    },
    {
      name: 'body over the limit',
      payload: randomBytes(5 << 20),
      status: 413,
      code: 'KILN_ERR_BODY_TOO_LARGE',
    },
    {
      name: '10k labels on a sample',
      payload: encodeProfile({
        ...PROFILE,
        samples: [{ stack: ['a'], values: [1], labels: manyLabels }],
      }),
      status: 422,
      code: 'KILN_ERR_PROFILE_LIMIT',
    },
    {
      name: '1 MB label value',
      payload: encodeProfile({
        ...PROFILE,
        samples: [{ stack: ['a'], values: [1], labels: { big: 'x'.repeat(1 << 20) } }],
      }),
      status: 422,
      code: 'KILN_ERR_PROFILE_LIMIT',
    },
    {
      name: 'markup in a sample label name',
      payload: encodeProfile({
        ...PROFILE,
        samples: [{ stack: ['a'], values: [1], labels: { '<img src=x onerror=alert(1)>': 'v' } }],
      }),
      status: 400,
      code: 'KILN_ERR_PPROF_INVALID',
    },
    {
      name: 'too many labels in name',
      url: ingestUrl(`svc{${Array.from({ length: 100 }, (_, i) => `k${i}=v`).join(',')}}`),
      payload: valid,
      status: 422,
      code: 'KILN_ERR_PROFILE_LIMIT',
    },
    {
      name: 'DROP TABLE in service',
      url: ingestUrl("svc'; DROP TABLE kiln.samples; --"),
      payload: valid,
      status: 400,
      code: 'KILN_ERR_APP_NAME_INVALID',
    },
    {
      name: 'DROP TABLE in label name',
      url: ingestUrl("svc{a'; DROP TABLE kiln.samples; --=1}"),
      payload: valid,
      status: 400,
      code: 'KILN_ERR_APP_NAME_INVALID',
    },
    {
      name: 'future timestamp',
      url: ingestUrl('svc', NOW + 86_400_000),
      payload: valid,
      status: 422,
      code: 'KILN_ERR_PROFILE_LIMIT',
    },
    {
      name: 'ancient timestamp',
      url: ingestUrl('svc', NOW - 400 * 86_400_000),
      payload: valid,
      status: 422,
      code: 'KILN_ERR_PROFILE_LIMIT',
    },
    {
      name: 'bad timestamp',
      url: '/ingest?name=svc&from=yesterday',
      payload: valid,
      status: 400,
      code: 'KILN_ERR_TIME_INVALID',
    },
    {
      name: 'JSON content type',
      payload: Buffer.from('{"a":1}'),
      headers: { 'content-type': 'application/json' },
      status: 415,
      code: 'KILN_ERR_FORMAT_UNSUPPORTED',
    },
    {
      name: 'text content type',
      payload: valid,
      headers: { 'content-type': 'text/plain' },
      status: 415,
      code: 'KILN_ERR_FORMAT_UNSUPPORTED',
    },
    {
      name: 'other format',
      url: `${ingestUrl('svc')}&format=jfr`.replace('&format=pprof', ''),
      payload: valid,
      status: 415,
      code: 'KILN_ERR_FORMAT_UNSUPPORTED',
    },
    { name: 'empty body', payload: Buffer.alloc(0), status: 400, code: 'KILN_ERR_PPROF_INVALID' },
    {
      name: 'missing name',
      url: '/ingest',
      payload: valid,
      status: 400,
      code: 'KILN_ERR_BAD_REQUEST',
    },
    {
      name: 'multipart without a boundary',
      payload: Buffer.from('garbage'),
      headers: { 'content-type': 'multipart/form-data' },
      status: 400,
      code: 'KILN_ERR_BAD_REQUEST',
    },
    {
      name: 'multipart cut short',
      payload: Buffer.from(
        '--XYZ\r\nContent-Disposition: form-data; name="profile"; filename="p"\r\n\r\nabc',
      ),
      headers: { 'content-type': 'multipart/form-data; boundary=XYZ' },
      status: 400,
      code: 'KILN_ERR_BAD_REQUEST',
    },
    {
      name: 'a negative sample value',
      payload: encodeProfile({ ...PROFILE, samples: [{ stack: ['a'], values: [-1000] }] }),
      status: 400,
      code: 'KILN_ERR_PPROF_INVALID',
    },
    {
      name: 'multipart without profile',
      ...(() => {
        const f = multipart({ other: valid })
        return { payload: f.body, headers: { 'content-type': f.contentType } }
      })(),
      status: 400,
      code: 'KILN_ERR_BAD_REQUEST',
    },
  ]

  it('stores a good profile first, quotes in label values and all', async () => {
    const ok = await app.inject({
      method: 'POST',
      url: ingestUrl("survivor{note=it's; DROP TABLE x}"),
      payload: valid,
    })
    expect(ok.statusCode, ok.body).toBe(200)
  })

  it.each(cases)('$name -> $status $code', async ({ url, payload, headers, status, code }) => {
    const res = await app.inject({
      method: 'POST',
      url: url ?? ingestUrl('svc'),
      payload,
      headers: { 'content-type': 'application/octet-stream', ...headers },
    })
    expect(res.statusCode, res.body).toBe(status)
    expect(res.json()).toMatchObject({ statusCode: status, code })
    expect(typeof res.json().message).toBe('string')
  })

  it('keeps a label named __proto__ as a label, from the name and from samples', async () => {
    const res = await app.inject({
      method: 'POST',
      url: ingestUrl('protos{__proto__=from-name}'),
      payload: encodeProfile({
        ...PROFILE,
        samples: [{ stack: ['a'], values: [1], labels: { constructor: 'from-sample' } }],
      }),
      headers: { 'content-type': 'application/octet-stream' },
    })
    expect(res.statusCode, res.body).toBe(200)
    const labels = await app.inject({
      url: `/api/v1/labels?service=protos&type=cpu&from=${FROM - 60_000}&to=${NOW + 60_000}`,
    })
    expect(labels.json<{ names: string[] }>().names).toEqual(
      expect.arrayContaining(['__proto__', 'constructor']),
    )
  })

  it('still ingests, and every acknowledged profile is still there', async () => {
    const res = await app.inject({
      method: 'POST',
      url: ingestUrl('survivor', FROM + 10_000),
      payload: valid,
    })
    expect(res.statusCode, res.body).toBe(200)
    expect(await total(app, 'survivor')).toBe(2 * PROFILE_TOTAL)
    const services = (await app.inject({ url: '/api/v1/services' })).json<ServicesResponse>()
      .services
    expect(services.map((s) => s.name).sort()).toEqual(['protos', 'survivor'])
  })
})

describe('auth and tenants', () => {
  let app: FastifyInstance
  let dispose: () => Promise<unknown>
  beforeAll(
    async () =>
      ({ app, dispose } = await makeApp({ authTokens: 'tok-1,tok-2', multiTenant: true })),
  )
  afterAll(async () => dispose?.())

  // Each upload its own interval: the same one sent again would be stored once.
  let uploads = 0
  const post = (headers: Record<string, string>, service = 'tenanted') =>
    app.inject({
      method: 'POST',
      url: ingestUrl(service, FROM + 10_000 * uploads++),
      payload: encodeProfile(PROFILE),
      headers,
    })

  it('refuses ingest without a valid token', async () => {
    expect((await post({ 'x-scope-orgid': 'a' })).json()).toMatchObject({
      statusCode: 401,
      code: 'KILN_ERR_UNAUTHORIZED',
    })
    expect((await post({ 'x-scope-orgid': 'a', authorization: 'Bearer nope' })).statusCode).toBe(
      401,
    )
  })

  it('requires a tenant and keeps tenants apart', async () => {
    expect((await post({ authorization: 'Bearer tok-1' })).json()).toMatchObject({
      code: 'KILN_ERR_TENANT_REQUIRED',
    })
    expect((await post({ authorization: 'Bearer tok-1', 'x-scope-orgid': 'a' })).statusCode).toBe(
      200,
    )
    const basic = `Basic ${Buffer.from('b:tok-2').toString('base64')}`
    expect((await post({ authorization: basic, 'x-scope-orgid': 'b' }, 'only-b')).statusCode).toBe(
      200,
    )
    expect((await post({ authorization: basic, 'x-scope-orgid': 'b' })).statusCode).toBe(200)
    expect((await post({ authorization: basic, 'x-scope-orgid': 'b' })).statusCode).toBe(200)

    const services = async (tenant: string) =>
      (await app.inject({ url: '/api/v1/services', headers: { 'x-scope-orgid': tenant } }))
        .json<ServicesResponse>()
        .services.map((s) => s.name)
    expect(await services('a')).toEqual(['tenanted'])
    expect(await services('b')).toEqual(['only-b', 'tenanted'])
    expect(await services('c')).toEqual([])
    expect(await total(app, 'tenanted', { 'x-scope-orgid': 'a' })).toBe(PROFILE_TOTAL)
    expect(await total(app, 'tenanted', { 'x-scope-orgid': 'b' })).toBe(2 * PROFILE_TOTAL)
  })
})
