import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { Profile } from 'pprof-format'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  DiffResponse,
  FlamegraphResponse,
  LabelValuesResponse,
  ServicesResponse,
  TimelineResponse,
  TopResponse,
  VersionsResponse,
} from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { encodeProfile } from './helpers/pprof-builder.js'
import { queryString, recentNoon } from './helpers/query-fixture.js'

const T0 = recentNoon()
const WINDOW = { from: T0, to: T0 + 60_000 }

/** In multi-tenant mode every query route answers from the tenant of `X-Scope-OrgID` only. */
describe('query API tenancy', () => {
  let app: FastifyInstance
  let dataDir: string
  /** Each tenant's profile of the same service, with its own function, version and value. */
  const tenants = { red: 1000, blue: 7 }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-tenancy-'))
    app = await buildApp(
      resolveConfig({ dataDir, logLevel: 'silent', insertBatchWaitMs: 1, multiTenant: true }),
    )
    for (const [tenant, value] of Object.entries(tenants)) {
      const res = await app.inject({
        method: 'POST',
        url: `/ingest?name=${encodeURIComponent(`shop{pod=${tenant}-1,service_version=${tenant}}`)}&from=${T0 / 1000}&format=pprof`,
        headers: { 'content-type': 'application/octet-stream', 'x-scope-orgid': tenant },
        payload: encodeProfile({
          sampleTypes: [['cpu', 'nanoseconds']],
          samples: [{ stack: ['main', `${tenant}Work`], values: [value] }],
        }),
      })
      expect(res.statusCode, res.body).toBe(200)
    }
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const get = async (tenant: string, path: string, params: Record<string, string | number>) => {
    const res = await app.inject({
      url: `/api/v1${path}?${queryString(params)}`,
      headers: { 'x-scope-orgid': tenant },
    })
    expect(res.statusCode, res.body).toBe(200)
    return res
  }
  const shop = { service: 'shop', type: 'cpu', ...WINDOW }

  it.each(Object.entries(tenants))('shows tenant %s its own data only', async (tenant, value) => {
    const services = (await get(tenant, '/services', {})).json<ServicesResponse>()
    expect(services.services.map((s) => s.name)).toEqual(['shop'])
    const graph = (await get(tenant, '/flamegraph', shop)).json<FlamegraphResponse>()
    expect(graph.total).toBe(value)
    expect(graph.root.children[0]!.children.map((c) => c.name)).toEqual([`${tenant}Work`])
    const top = (await get(tenant, '/top', shop)).json<TopResponse>()
    expect(top.functions.map((f) => f.name).sort()).toEqual([`${tenant}Work`, 'main'].sort())
    const timeline = (await get(tenant, '/timeline', shop)).json<TimelineResponse>()
    expect(timeline.values.filter((v) => v !== null)).toEqual([value])
    const pods = (
      await get(tenant, '/label-values', { service: 'shop', name: 'pod', ...WINDOW })
    ).json<LabelValuesResponse>()
    expect(pods.values).toEqual([`${tenant}-1`])
    const versions = (await get(tenant, '/versions', { service: 'shop' })).json<VersionsResponse>()
    expect(versions.versions.map((v) => v.version)).toEqual([tenant])
    const diff = (
      await get(tenant, '/diff', {
        service: 'shop',
        type: 'cpu',
        baseFrom: WINDOW.from,
        baseTo: WINDOW.to,
        compFrom: WINDOW.from,
        compTo: WINDOW.to,
      })
    ).json<DiffResponse>()
    expect([diff.baseline.total, diff.comparison.total]).toEqual([value, value])
    const exported = await get(tenant, '/export/pprof', shop)
    const profile = Profile.decode(gunzipSync(exported.rawPayload))
    expect(profile.sample.reduce((a, s) => a + Number(s.value[0]), 0)).toBe(value)
  })

  it('refuses a query without a tenant', async () => {
    const res = await app.inject({ url: `/api/v1/flamegraph?${queryString(shop)}` })
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'KILN_ERR_TENANT_REQUIRED' })
  })
})
