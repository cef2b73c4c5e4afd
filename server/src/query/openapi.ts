import type { FastifyInstance, RouteOptions } from 'fastify'
import type { TSchema } from '@sinclair/typebox'

/** What the OpenAPI document needs of a route: its method, full path and schema. */
interface RouteDoc {
  method: string
  url: string
  schema: RouteSchema
  /** The route's declared access (`config.access`). */
  access: string | undefined
}

interface RouteSchema {
  summary?: string
  description?: string
  tags?: string[]
  querystring?: JsonSchema
  response?: Record<string, JsonSchema>
}

type JsonSchema = Record<string, unknown>

export interface OpenApiInfo {
  title: string
  version: string
  description?: string
}

/**
 * Collects the routes registered after this call in `fastify`'s context (and its children) and
 * returns a function building their OpenAPI 3.1 document. Built from the same TypeBox schemas
 * that validate requests, through Fastify's `onRoute` hook, so the document cannot drift from the
 * routes. OpenAPI 3.1 takes JSON Schema as is; only three things are translated: querystring
 * properties become `parameters`, schemas with an `$id` move to `components.schemas` (their
 * `$ref`s follow), and a response's `contentMediaType` becomes its media type.
 */
export function collectOpenApi(
  fastify: FastifyInstance,
  info: OpenApiInfo,
  shared: readonly TSchema[],
): () => Record<string, unknown> {
  const routes: RouteDoc[] = []
  fastify.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    for (const method of methods) {
      if (method === 'HEAD') continue // Fastify adds a HEAD twin to every GET
      routes.push({
        method,
        url: route.url,
        schema: (route.schema ?? {}) as RouteSchema,
        access: route.config?.access,
      })
    }
  })
  let document: Record<string, unknown> | undefined
  return () => (document ??= buildDocument(routes, info, shared))
}

function buildDocument(
  routes: readonly RouteDoc[],
  info: OpenApiInfo,
  shared: readonly TSchema[],
): Record<string, unknown> {
  const components: Record<string, JsonSchema> = {}
  for (const schema of shared) hoist(plain(schema), components)
  const paths: Record<string, Record<string, unknown>> = {}
  for (const route of [...routes].sort((a, b) => a.url.localeCompare(b.url))) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
    const operation: Record<string, unknown> = {
      operationId: operationId(route.method, route.url),
      ...(route.schema.summary ? { summary: route.schema.summary } : {}),
      ...(route.schema.description ? { description: route.schema.description } : {}),
      ...(route.schema.tags ? { tags: route.schema.tags } : {}),
      parameters: parameters(route.schema.querystring, components),
      responses: responses(route.schema.response, components),
      'x-kiln-access': route.access,
      // Public routes need nothing; the others take a token when the server has tokens.
      ...(route.access === 'public' ? { security: [] } : {}),
    }
    ;(paths[path] ??= {})[route.method.toLowerCase()] = operation
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    // A token as `Authorization: Bearer <token>`, or Basic auth with the tenant as user name.
    security: [{ bearer: [] }, { basic: [] }],
    components: {
      schemas: components,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        basic: { type: 'http', scheme: 'basic' },
      },
    },
  }
}

function parameters(
  querystring: JsonSchema | undefined,
  components: Record<string, JsonSchema>,
): unknown[] {
  if (!querystring) return []
  const schema = hoist(plain(querystring), components)
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>
  const required = new Set((schema.required ?? []) as string[])
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property
    return {
      name,
      in: 'query',
      required: required.has(name),
      ...(description ? { description } : {}),
      schema: rest,
    }
  })
}

function responses(
  response: Record<string, JsonSchema> | undefined,
  components: Record<string, JsonSchema>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [status, raw] of Object.entries(response ?? {})) {
    const schema = hoist(plain(raw), components)
    const mediaType = (schema.contentMediaType as string | undefined) ?? 'application/json'
    out[status] = {
      description: (schema.description as string | undefined) ?? 'OK',
      content: { [mediaType]: { schema } },
    }
  }
  if (Object.keys(out).length === 0) out['200'] = { description: 'OK' }
  const error = {
    description: 'Error with a stable `KILN_ERR_*` code',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
  }
  out['4XX'] = error
  out['5XX'] = error
  return out
}

/** A deep copy without TypeBox's symbol keys: what JSON shows of the schema. */
function plain(schema: unknown): JsonSchema {
  return JSON.parse(JSON.stringify(schema)) as JsonSchema
}

/** Move every `$id` schema into `components` and point `$ref`s at it. */
function hoist(schema: JsonSchema, components: Record<string, JsonSchema>): JsonSchema {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk)
    if (node === null || typeof node !== 'object') return node
    const out: JsonSchema = {}
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && !value.startsWith('#')) {
        out[key] = `#/components/schemas/${value}`
      } else if (key !== '$id') {
        out[key] = walk(value)
      }
    }
    const id = (node as JsonSchema).$id
    if (typeof id === 'string') {
      components[id] = out
      return { $ref: `#/components/schemas/${id}` }
    }
    return out
  }
  return walk(schema) as JsonSchema
}

function operationId(method: string, url: string): string {
  const words = url
    .replace(/^\/api\/v\d+/, '')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')
}
