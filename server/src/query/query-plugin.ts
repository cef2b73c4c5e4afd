import type { FastifyPluginAsync } from 'fastify'
import { KilnError } from '../errors.js'
import { strictTimes } from '../http/unix-ms.js'
import { queryAgents } from './agents.js'
import {
  queryLabelNames,
  queryLabelValues,
  queryProfileTypes,
  queryServices,
  queryVersions,
} from './catalog.js'
import { queryDiff } from './diff.js'
import { exportPprof } from './export-pprof.js'
import { queryFlamegraph } from './flamegraph.js'
import { collectOpenApi } from './openapi.js'
import {
  AgentsSchema,
  DEFAULT_EXPORT_MAX_STACKS,
  DEFAULT_MAX_NODES,
  DEFAULT_MAX_STACKS,
  DiffSchema,
  EndpointsDiffSchema,
  EndpointsSchema,
  ExportPprofSchema,
  FlamegraphSchema,
  LabelValuesSchema,
  LabelsSchema,
  OpenApiSchema,
  ProfileTypesSchema,
  ServicesSchema,
  SHARED_SCHEMAS,
  TimelineSchema,
  TopSchema,
  TracesSchema,
  VersionsSchema,
  type AgentsQuery,
  type DiffQuery,
  type EndpointsDiffQuery,
  type EndpointsQuery,
  type ExportPprofQuery,
  type FlamegraphQuery,
  type LabelValuesQuery,
  type LabelsQuery,
  type ProfileTypesQuery,
  type TimelineQuery,
  type TopQuery,
  type TracesQuery,
  type VersionsQuery,
} from './schemas.js'
import { parseSelector } from './selector.js'
import { queryTimeline } from './timeline.js'
import { queryTop } from './top.js'
import { queryEndpoints, queryEndpointsDiff, queryTraces } from './traces.js'
import type { TraceFilter } from './window-sql.js'
import { PROFILE_TYPES, type ProfileTypeName } from '@kiln/wire'

const DEFAULT_WINDOW_MS = 15 * 60 * 1000
/** Every query route reads profiles: it needs the `read` scope when reads are protected. */
const READ = { access: 'read' } as const

/** Trees are serialized with JSON.stringify: fast-json-stringify gains nothing on a recursive shape. */
const jsonStringify = () => (data: unknown) => JSON.stringify(data)

/** The query-string fields every single-window route shares. */
interface WindowQuerystring {
  service: string
  type?: string | undefined
  query?: string | undefined
  from?: number | undefined
  to?: number | undefined
}

/** The query-string fields of the routes that compare two windows. */
interface ComparisonQuerystring {
  service: string
  baseFrom?: number | undefined
  baseTo?: number | undefined
  compFrom?: number | undefined
  compTo?: number | undefined
  baseQuery?: string | undefined
  compQuery?: string | undefined
}

/** Resolve `from`/`to` with their defaults (the last 15 minutes) and check their order. */
function resolveWindow(
  q: { from?: number | undefined; to?: number | undefined },
  names = { from: 'from', to: 'to' },
): { from: number; to: number } {
  const to = q.to ?? Date.now()
  const from = q.from ?? to - DEFAULT_WINDOW_MS
  if (from >= to) {
    throw new KilnError(
      'KILN_ERR_QUERY_INVALID',
      `\`${names.from}\` must be before \`${names.to}\``,
    )
  }
  return { from, to }
}

/** A comma-separated list of hex ids as the store has them: lowercase, each once. */
function hexIds(list: string): string[] {
  return [...new Set(list.toLowerCase().split(','))]
}

/** The trace filter of `traceId=` / `spanIds=`, for cumulative types only. */
function traceFilterOf(q: {
  type?: string | undefined
  traceId?: string | undefined
  spanIds?: string | undefined
}): TraceFilter | undefined {
  if (q.traceId === undefined && q.spanIds === undefined) return undefined
  const type = q.type as ProfileTypeName
  if (PROFILE_TYPES[type]?.aggregation !== 'cumulative') {
    throw new KilnError(
      'KILN_ERR_QUERY_INVALID',
      `\`traceId\` and \`spanIds\` need a type whose samples carry traces (cpu, wall), not ${type}`,
    )
  }
  const ids = (list: string | undefined, max: number, name: string) => {
    if (list === undefined) return undefined
    const out = hexIds(list)
    if (out.length > max) {
      throw new KilnError('KILN_ERR_QUERY_INVALID', `\`${name}\`: at most ${max} ids`)
    }
    return out
  }
  return { traceIds: ids(q.traceId, 100, 'traceId'), spanIds: ids(q.spanIds, 1000, 'spanIds') }
}

/**
 * Query API under `/api/v1`: catalog (services, profile types, labels, versions), timeline, flame
 * graph, diff, top functions, pprof export, the agents' own stats, and the OpenAPI document of
 * all of them. Every
 * query route declares `access: 'read'` (the OpenAPI document is public) and reads the request's
 * tenant (`request.tenant`, set by the access plugin from the token or `X-Scope-OrgID` in
 * multi-tenant mode, else `default`).
 */
export const queryPlugin: FastifyPluginAsync<{ tracingUrl?: string | undefined }> = async (
  fastify,
  options,
) => {
  const openApi = collectOpenApi(
    fastify,
    {
      title: 'Kiln query API',
      version: '1',
      description:
        'Flame graphs, diffs, timelines, top functions and pprof export of the profiles Kiln ' +
        'stores. Times are Unix seconds/ms/ns, RFC 3339 or relative (now-1h) in requests and Unix ' +
        'milliseconds in answers; windows are [from, to).',
    },
    SHARED_SCHEMAS,
  )
  // Before the schema coerces them: `from=0x10` is a mistake, not 16.
  fastify.addHook('preValidation', strictTimes)
  const { client, database: db, rollup } = fastify.store

  /** The window a route's query string names, with the request's tenant and the rollup's reach. */
  const windowOf = async <Q extends WindowQuerystring>(tenant: string, q: Q) => ({
    tenant,
    service: q.service,
    type: q.type as Q['type'],
    ...resolveWindow(q),
    selector: parseSelector(q.query),
    rolledHours: await rollup.rolledHours(),
    trace: traceFilterOf(q as Q & { traceId?: string; spanIds?: string }),
  })

  /**
   * The two windows of a comparison: the comparison defaults to the last 15 minutes, the
   * baseline to the window of the same length just before it.
   */
  const comparisonOf = async (tenant: string, type: ProfileTypeName, q: ComparisonQuerystring) => {
    const comp = resolveWindow(
      { from: q.compFrom, to: q.compTo },
      { from: 'compFrom', to: 'compTo' },
    )
    const baseTo = q.baseTo ?? comp.from
    const base = resolveWindow(
      { from: q.baseFrom ?? baseTo - (comp.to - comp.from), to: baseTo },
      { from: 'baseFrom', to: 'baseTo' },
    )
    const common = { tenant, service: q.service, type, rolledHours: await rollup.rolledHours() }
    return {
      baseline: { ...common, ...base, selector: parseSelector(q.baseQuery) },
      comparison: { ...common, ...comp, selector: parseSelector(q.compQuery) },
    }
  }

  fastify.get(
    '/openapi.json',
    { schema: OpenApiSchema, serializerCompiler: jsonStringify, config: { access: 'public' } },
    async () => openApi(),
  )

  fastify.get('/services', { schema: ServicesSchema, config: READ }, async (request) =>
    queryServices(client, db, request.tenant),
  )

  fastify.get<{ Querystring: typeof ProfileTypesQuery.static }>(
    '/profile-types',
    { schema: ProfileTypesSchema, config: READ },
    async (request) => queryProfileTypes(client, db, request.tenant, request.query.service),
  )

  fastify.get<{ Querystring: typeof LabelsQuery.static }>(
    '/labels',
    { schema: LabelsSchema, config: READ },
    async (request) => {
      return queryLabelNames(client, db, {
        ...(await windowOf(request.tenant, request.query)),
      })
    },
  )

  fastify.get<{ Querystring: typeof LabelValuesQuery.static }>(
    '/label-values',
    { schema: LabelValuesSchema, config: READ },
    async (request) => {
      const { name, limit } = request.query
      return queryLabelValues(client, db, {
        ...(await windowOf(request.tenant, request.query)),
        name,
        limit,
      })
    },
  )

  fastify.get<{ Querystring: typeof VersionsQuery.static }>(
    '/versions',
    { schema: VersionsSchema, config: READ },
    async (request) => queryVersions(client, db, request.tenant, request.query.service),
  )

  fastify.get<{ Querystring: typeof TimelineQuery.static }>(
    '/timeline',
    { schema: TimelineSchema, config: READ },
    async (request) => {
      const { step, groupBy } = request.query
      return queryTimeline(client, db, {
        ...(await windowOf(request.tenant, request.query)),
        step,
        groupBy,
      })
    },
  )

  fastify.get<{ Querystring: typeof FlamegraphQuery.static }>(
    '/flamegraph',
    { schema: FlamegraphSchema, serializerCompiler: jsonStringify, config: READ },
    async (request) => {
      return queryFlamegraph(client, db, {
        ...(await windowOf(request.tenant, request.query)),
        maxStacks: request.query.maxStacks ?? DEFAULT_MAX_STACKS,
        maxNodes: request.query.maxNodes ?? DEFAULT_MAX_NODES,
      })
    },
  )

  fastify.get<{ Querystring: typeof DiffQuery.static }>(
    '/diff',
    { schema: DiffSchema, serializerCompiler: jsonStringify, config: READ },
    async (request) => {
      const q = request.query
      return queryDiff(client, db, {
        ...(await comparisonOf(request.tenant, q.type, q)),
        maxStacks: q.maxStacks ?? DEFAULT_MAX_STACKS,
        maxNodes: q.maxNodes ?? DEFAULT_MAX_NODES,
        limit: q.limit ?? 20,
        rankBy: q.rankBy ?? 'share',
      })
    },
  )

  fastify.get<{ Querystring: typeof TopQuery.static }>(
    '/top',
    { schema: TopSchema, config: READ },
    async (request) => {
      return queryTop(client, db, {
        ...(await windowOf(request.tenant, request.query)),
        sort: request.query.sort ?? 'self',
        limit: request.query.limit ?? 100,
        maxStacks: request.query.maxStacks ?? DEFAULT_MAX_STACKS,
      })
    },
  )

  fastify.get<{ Querystring: typeof ExportPprofQuery.static }>(
    '/export/pprof',
    { schema: ExportPprofSchema, config: READ },
    async (request, reply) => {
      const exported = await exportPprof(client, db, {
        ...(await windowOf(request.tenant, request.query)),
        maxStacks: request.query.maxStacks ?? DEFAULT_EXPORT_MAX_STACKS,
      })
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${exported.filename}"`)
        .send(exported.body)
    },
  )

  fastify.get<{ Querystring: typeof EndpointsQuery.static }>(
    '/endpoints',
    { schema: EndpointsSchema, config: READ },
    async (request) => {
      const q = request.query
      return queryEndpoints(client, db, {
        tenant: request.tenant,
        service: q.service,
        ...resolveWindow(q),
        selector: parseSelector(q.query),
        rolledHours: await rollup.rolledHours(),
      })
    },
  )

  fastify.get<{ Querystring: typeof EndpointsDiffQuery.static }>(
    '/endpoints/diff',
    { schema: EndpointsDiffSchema, config: READ },
    async (request) => {
      const q = request.query
      const type = q.type ?? 'cpu'
      if (PROFILE_TYPES[type].aggregation !== 'cumulative') {
        throw new KilnError('KILN_ERR_QUERY_INVALID', `endpoints compare cpu or wall, not ${type}`)
      }
      return queryEndpointsDiff(client, db, await comparisonOf(request.tenant, type, q))
    },
  )

  fastify.get<{ Querystring: typeof TracesQuery.static }>(
    '/traces',
    { schema: TracesSchema, config: READ },
    async (request) => {
      const q = request.query
      if (PROFILE_TYPES[q.type].aggregation !== 'cumulative') {
        throw new KilnError('KILN_ERR_QUERY_INVALID', `traces are of cpu or wall, not ${q.type}`)
      }
      if (q.file !== undefined && q.function === undefined) {
        throw new KilnError('KILN_ERR_QUERY_INVALID', '`file` needs `function`')
      }
      const window = await windowOf(request.tenant, { ...q, traceId: undefined })
      return queryTraces(client, db, {
        ...window,
        trace: undefined,
        traceIds: q.traceId === undefined ? undefined : hexIds(q.traceId),
        fn: q.function === undefined ? undefined : { name: q.function, file: q.file },
        limit: q.limit ?? 20,
        tracingUrl: options.tracingUrl,
      })
    },
  )

  fastify.get<{ Querystring: typeof AgentsQuery.static }>(
    '/agents',
    { schema: AgentsSchema, config: READ },
    async (request) => {
      return queryAgents(client, db, {
        tenant: request.tenant,
        service: request.query.service,
        ...resolveWindow(request.query),
        limit: request.query.limit ?? 1000,
      })
    },
  )
}
