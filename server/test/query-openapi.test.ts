import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'

interface Operation {
  operationId: string
  'x-kiln-access': string
  parameters: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[]
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>
}
interface Document {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown> }
}

describe('OpenAPI document', () => {
  let app: FastifyInstance
  let dataDir: string
  let doc: Document

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-openapi-'))
    app = await buildApp(resolveConfig({ dataDir, logLevel: 'silent' }))
    const res = await app.inject({ url: '/api/v1/openapi.json' })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    doc = res.json<Document>()
  })
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('documents every query route with its parameters', () => {
    expect(doc.openapi).toBe('3.1.0')
    const routes = Object.keys(doc.paths).sort()
    expect(routes).toEqual(
      [
        'agents',
        'diff',
        'endpoints',
        'endpoints/diff',
        'export/pprof',
        'flamegraph',
        'label-values',
        'labels',
        'openapi.json',
        'profile-types',
        'services',
        'timeline',
        'top',
        'traces',
        'versions',
      ].map((r) => `/api/v1/${r}`),
    )
    // Each operation says what it needs, as its route declared it to the access hook.
    for (const [path, methods] of Object.entries(doc.paths)) {
      const access = path === '/api/v1/openapi.json' ? 'public' : 'read'
      expect(methods.get?.['x-kiln-access'], path).toBe(access)
    }
    const params = (op: Operation) => op.parameters.map((p) => p.name).sort()
    expect(params(doc.paths['/api/v1/flamegraph']!.get!)).toEqual(
      [
        'from',
        'maxNodes',
        'maxStacks',
        'query',
        'service',
        'spanIds',
        'to',
        'traceId',
        'type',
      ].sort(),
    )
    expect(params(doc.paths['/api/v1/diff']!.get!)).toEqual(
      [
        'baseFrom',
        'baseQuery',
        'baseTo',
        'compFrom',
        'compQuery',
        'compTo',
        'limit',
        'maxNodes',
        'maxStacks',
        'rankBy',
        'service',
        'type',
      ].sort(),
    )
    const type = doc.paths['/api/v1/timeline']!.get!.parameters.find((p) => p.name === 'type')!
    expect(type).toMatchObject({ in: 'query', required: true })
    expect(type.schema.enum).toContain('heap_inuse_space')
    const ids = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId))
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('references shared schemas that exist, and says the export is binary', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!)
    expect(refs).toContain('#/components/schemas/FlameNode')
    expect(refs).toContain('#/components/schemas/DiffNode')
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//)
      expect(doc.components.schemas[ref.split('/').pop()!], ref).toBeDefined()
    }
    expect(JSON.stringify(doc)).not.toContain('"$id"')
    const exported = doc.paths['/api/v1/export/pprof']!.get!.responses['200']!
    expect(Object.keys(exported.content!)).toEqual(['application/octet-stream'])
    const flame = doc.paths['/api/v1/flamegraph']!.get!.responses
    expect(Object.keys(flame).sort()).toEqual(['200', '4XX', '5XX'])
  })

  it('serves every documented GET route', async () => {
    for (const path of Object.keys(doc.paths)) {
      const res = await app.inject({ url: path })
      // Without parameters a route answers 200 or a 400 validation error, never 404.
      expect([200, 400], `${path}: ${res.body}`).toContain(res.statusCode)
    }
  })
})
