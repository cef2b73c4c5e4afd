import { unixMs } from '../http/unix-ms.js'
import { Type, type TSchema } from '@sinclair/typebox'
import { LABEL_NAME_PATTERN, PROFILE_TYPES, type ProfileTypeName } from '@kiln/wire'
import { AgentStatsHeaderSchema } from '../ingest/agent-stats.js'

/*
 * TypeBox schemas of the query routes: Fastify validates requests with them and the OpenAPI
 * document (`/api/v1/openapi.json`) is built from them, so the two never disagree. Response
 * shapes mirror the types of `@kiln/wire` (`wire/src/query.ts`), where their meaning is written.
 */

export const DEFAULT_MAX_STACKS = 20_000
export const DEFAULT_MAX_NODES = 8_192
export const DEFAULT_EXPORT_MAX_STACKS = 200_000

const Service = Type.String({ minLength: 1, maxLength: 256, description: 'Service name' })
const ProfileType = Type.Unsafe<ProfileTypeName>({
  type: 'string',
  enum: Object.keys(PROFILE_TYPES),
  description: 'Profile type',
})
const From = unixMs('Window start, Unix ms (inclusive); default `to` - 15 min')
const To = unixMs('Window end, Unix ms (exclusive); default now')
const Selector = Type.String({
  maxLength: 4096,
  description:
    'Label selector, Prometheus syntax: `{k="v", k2!="v", k3=~"re", k4!~"re"}` (RE2, anchored)',
})
const maxStacks = (defaultValue: number) =>
  Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: defaultValue,
    description: 'How many of the heaviest stacks are aggregated; the rest fold into "other"',
  })
const MaxStacks = maxStacks(DEFAULT_MAX_STACKS)
const MaxNodes = Type.Integer({
  minimum: 2,
  maximum: 1_000_000,
  default: DEFAULT_MAX_NODES,
  description: 'Most nodes in the tree, "other" nodes included',
})
const Unit = Type.String({ enum: ['nanoseconds', 'bytes', 'count'] })
const Aggregation = Type.String({ enum: ['cumulative', 'gauge'] })
const CanonicalSelector = Type.String({ description: 'The selector as applied, normalized' })

const windowQuery = {
  service: Service,
  type: ProfileType,
  from: Type.Optional(From),
  to: Type.Optional(To),
  query: Type.Optional(Selector),
}

const HEX_LIST = '^[0-9a-fA-F]{1,32}(,[0-9a-fA-F]{1,32})*$'
/** Narrow a window to traces or local root spans (cumulative types: CPU, wall). */
const traceQuery = {
  traceId: Type.Optional(
    Type.String({
      pattern: HEX_LIST,
      maxLength: 33 * 100,
      description: 'Only the samples of this trace (hex; up to 100, comma-separated)',
    }),
  ),
  spanIds: Type.Optional(
    Type.String({
      pattern: HEX_LIST,
      maxLength: 33 * 1000,
      description:
        'Only the samples of these local root spans (hex, comma-separated, up to 1000); with traceId: either',
    }),
  ),
}

const windowEcho = {
  service: Type.String(),
  type: Type.String(),
  unit: Unit,
  aggregation: Aggregation,
  from: Type.Number(),
  to: Type.Number(),
  query: CanonicalSelector,
}

/** The recursive tree types, documented once and referenced from every route that returns them. */
export const FlameNodeSchema = Type.Recursive(
  (This) =>
    Type.Object({
      name: Type.String(),
      file: Type.Optional(Type.String()),
      value: Type.Number({ description: 'Total: the node and its descendants' }),
      self: Type.Number(),
      children: Type.Array(This),
    }),
  { $id: 'FlameNode', description: 'value === self + sum(children.value)' },
)

export const DiffNodeSchema = Type.Recursive(
  (This) =>
    Type.Object({
      name: Type.String(),
      file: Type.Optional(Type.String()),
      baseTotal: Type.Number(),
      baseSelf: Type.Number(),
      compTotal: Type.Number(),
      compSelf: Type.Number(),
      children: Type.Array(This),
    }),
  { $id: 'DiffNode', description: 'Absolute values of both windows; see DiffNode in @kiln/wire' },
)

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ description: 'Stable `KILN_ERR_*` code' }),
    error: Type.String(),
    message: Type.String(),
  },
  { $id: 'ErrorResponse' },
)

export const OpenApiSchema = {
  summary: 'This document (OpenAPI 3.1)',
  response: { 200: Type.Object({}, { additionalProperties: true }) },
}

export const ServicesSchema = {
  summary: 'Services with their profile types',
  response: {
    200: Type.Object({
      services: Type.Array(
        Type.Object({
          name: Type.String(),
          types: Type.Array(Type.String()),
          lastSeen: Type.Number({ description: 'Unix ms of the newest profile' }),
        }),
      ),
    }),
  },
}

export const ProfileTypesQuery = Type.Object({ service: Service })
export const ProfileTypesSchema = {
  summary: 'Profile types of a service',
  querystring: ProfileTypesQuery,
  response: {
    200: Type.Object({
      service: Type.String(),
      types: Type.Array(
        Type.Object({
          name: Type.String(),
          unit: Unit,
          aggregation: Aggregation,
          description: Type.String(),
          lastSeen: Type.Number(),
        }),
      ),
    }),
  },
}

const catalogWindowQuery = {
  service: Service,
  from: Type.Optional(From),
  to: Type.Optional(To),
  type: Type.Optional(ProfileType),
  query: Type.Optional(Selector),
}

export const LabelsQuery = Type.Object(catalogWindowQuery)
export const LabelsSchema = {
  summary: 'Label names of the series sampled in a window',
  querystring: LabelsQuery,
  response: {
    200: Type.Object({
      service: Type.String(),
      from: Type.Number(),
      to: Type.Number(),
      names: Type.Array(Type.String()),
    }),
  },
}

export const LabelValuesQuery = Type.Object({
  ...catalogWindowQuery,
  name: Type.String({ minLength: 1, maxLength: 256, description: 'Label name' }),
  limit: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
})
export const LabelValuesSchema = {
  summary: 'Values of a label over the series sampled in a window',
  querystring: LabelValuesQuery,
  response: {
    200: Type.Object({
      service: Type.String(),
      name: Type.String(),
      from: Type.Number(),
      to: Type.Number(),
      values: Type.Array(Type.String()),
      truncated: Type.Boolean(),
    }),
  },
}

export const VersionsQuery = Type.Object({ service: Service })
export const VersionsSchema = {
  summary: 'Versions of a service with first and last seen (deploy markers)',
  querystring: VersionsQuery,
  response: {
    200: Type.Object({
      service: Type.String(),
      versions: Type.Array(
        Type.Object({
          version: Type.String(),
          firstSeen: Type.Number(),
          lastSeen: Type.Number(),
          profiles: Type.Number(),
        }),
      ),
    }),
  },
}

export const TimelineQuery = Type.Object({
  ...windowQuery,
  step: Type.Optional(
    Type.Integer({
      minimum: 1000,
      description: 'Bucket size in ms; default: the window in at most 300 buckets',
    }),
  ),
  groupBy: Type.Optional(
    Type.String({
      pattern: LABEL_NAME_PATTERN,
      maxLength: 128,
      description:
        'A label to split cumulative totals by: one series per value (8 at most, then other)',
    }),
  ),
})
export const TimelineSchema = {
  summary: 'Totals per time bucket',
  querystring: TimelineQuery,
  response: {
    200: Type.Object({
      ...windowEcho,
      step: Type.Number(),
      timestamps: Type.Array(Type.Number(), { description: 'Bucket starts, Unix ms' }),
      values: Type.Array(Type.Union([Type.Number(), Type.Null()]), {
        description: 'Bucket totals; null: no sample',
      }),
      coverage: Type.Array(Type.Union([Type.Number(), Type.Null()]), {
        description:
          'Collected instance-milliseconds per bucket (cumulative types): values / coverage is the load per instance, comparable whatever the schedule; null: no profile',
      }),
      groupBy: Type.Optional(Type.String()),
      groups: Type.Optional(
        Type.Array(
          Type.Object({
            value: Type.String(),
            other: Type.Boolean(),
            values: Type.Array(Type.Union([Type.Number(), Type.Null()])),
          }),
        ),
      ),
    }),
  },
}

export const FlamegraphQuery = Type.Object({
  ...windowQuery,
  ...traceQuery,
  maxNodes: Type.Optional(MaxNodes),
  maxStacks: Type.Optional(MaxStacks),
})
export const FlamegraphSchema = {
  summary: 'Flame graph of a window',
  querystring: FlamegraphQuery,
  response: {
    200: Type.Object({
      ...windowEcho,
      total: Type.Number({ description: 'Sum of every sample in the window' }),
      stacks: Type.Number({ description: 'Distinct stacks aggregated' }),
      root: Type.Ref(FlameNodeSchema),
    }),
  },
}

const DiffWindowSchema = Type.Object({
  from: Type.Number(),
  to: Type.Number(),
  query: CanonicalSelector,
  total: Type.Number(),
  stacks: Type.Number(),
  coverageMs: Type.Number({
    description:
      'Collected instance-milliseconds: the summed length of the profiles of the window (0 for gauges or when unknown)',
  }),
})
const DiffFunctionSchema = Type.Object({
  name: Type.String(),
  file: Type.Optional(Type.String()),
  baseSelf: Type.Number(),
  compSelf: Type.Number(),
  baseTotal: Type.Number(),
  compTotal: Type.Number(),
  selfShare: Type.Number({ description: 'compSelf/comparison.total - baseSelf/baseline.total' }),
  totalShare: Type.Number(),
  selfDelta: Type.Number({ description: 'compSelf - baseSelf' }),
  totalDelta: Type.Number(),
})
const Ranked = Type.Object({
  grew: Type.Array(DiffFunctionSchema),
  shrank: Type.Array(DiffFunctionSchema),
})

/** The two windows and selectors of the routes that compare (`/diff`, `/endpoints/diff`). */
const comparisonQuery = {
  baseFrom: Type.Optional(unixMs('Baseline start, Unix ms')),
  baseTo: Type.Optional(unixMs('Baseline end, Unix ms; default compFrom')),
  compFrom: Type.Optional(unixMs('Comparison start, Unix ms')),
  compTo: Type.Optional(unixMs('Comparison end, Unix ms; default now')),
  baseQuery: Type.Optional(Selector),
  compQuery: Type.Optional(Selector),
}

export const DiffQuery = Type.Object({
  service: Service,
  type: ProfileType,
  ...comparisonQuery,
  maxNodes: Type.Optional(MaxNodes),
  maxStacks: Type.Optional(MaxStacks),
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1000, default: 20, description: 'Per ranked list' }),
  ),
  rankBy: Type.Optional(
    Type.Unsafe<'share' | 'absolute'>({
      type: 'string',
      enum: ['share', 'absolute'],
      default: 'share',
      description: 'Rank changes by normalized share or by absolute value',
    }),
  ),
})
export const DiffSchema = {
  summary: 'Diff of two windows (times, versions or label sets)',
  querystring: DiffQuery,
  response: {
    200: Type.Object({
      service: Type.String(),
      type: Type.String(),
      unit: Unit,
      aggregation: Aggregation,
      baseline: DiffWindowSchema,
      comparison: DiffWindowSchema,
      comparisonScale: Type.Number({
        description:
          'baseline.coverageMs / comparison.coverageMs (1 when either is 0): the factor on the comparison in absolute deltas',
      }),
      root: Type.Ref(DiffNodeSchema),
      changes: Type.Object({
        rankBy: Type.String({ enum: ['share', 'absolute'] }),
        self: Ranked,
        total: Ranked,
        leftOut: Type.Optional(
          Type.Array(Type.Number(), {
            description:
              'Per window, value of stacks the rankings could not read (beyond a million); absent: the rankings are exact',
          }),
        ),
      }),
    }),
  },
}

export const TopQuery = Type.Object({
  ...windowQuery,
  ...traceQuery,
  sort: Type.Optional(
    Type.Unsafe<'self' | 'total'>({ type: 'string', enum: ['self', 'total'], default: 'self' }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 100 })),
  maxStacks: Type.Optional(MaxStacks),
})
export const TopSchema = {
  summary: 'Top functions of a window by self or total',
  querystring: TopQuery,
  response: {
    200: Type.Object({
      ...windowEcho,
      total: Type.Number(),
      stacks: Type.Number(),
      sort: Type.String({ enum: ['self', 'total'] }),
      functions: Type.Array(
        Type.Object({
          name: Type.String(),
          file: Type.Optional(Type.String()),
          line: Type.Optional(Type.Integer()),
          self: Type.Number(),
          total: Type.Number({ description: 'Counted once per stack, also under recursion' }),
        }),
        { description: 'Over every stack of the window, not only the `maxStacks` heaviest' },
      ),
      leftOut: Type.Optional(
        Type.Number({
          description:
            'Value of stacks the table could not read (beyond a million); absent: it is exact',
        }),
      ),
    }),
  },
}

export const ExportPprofQuery = Type.Object({
  ...windowQuery,
  ...traceQuery,
  maxStacks: Type.Optional(maxStacks(DEFAULT_EXPORT_MAX_STACKS)),
})
export const ExportPprofSchema = {
  summary: 'The window merged into one gzipped pprof (readable by `go tool pprof`)',
  querystring: ExportPprofQuery,
  response: {
    200: Type.String({
      format: 'binary',
      contentMediaType: 'application/octet-stream',
      description: 'Gzipped pprof, one sample type `<type>/<unit>`',
    }),
  },
}

const NullableNumber = (description: string) =>
  Type.Union([Type.Number(), Type.Null()], { description })

/**
 * The agent's stats header as the server returns it: the fields ingest reads and stores (the
 * pause fields are read but not stored).
 */
const AgentStatsSchema = Type.Omit(AgentStatsHeaderSchema, ['lastPauseMs', 'maxPauseMs'], {
  description: 'Stats of the last upload in the window; fields not sent are left out',
})

export const AgentsQuery = Type.Object({
  service: Service,
  from: Type.Optional(From),
  to: Type.Optional(To),
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 100_000, default: 1000, description: 'Most instances' }),
  ),
})
export const AgentsSchema = {
  summary: "Kiln agents' own cost and health per instance (host, pid, version) in a window",
  querystring: AgentsQuery,
  response: {
    200: Type.Object({
      service: Type.String(),
      from: Type.Number(),
      to: Type.Number(),
      agents: Type.Array(
        Type.Object({
          host: Type.String(),
          pid: Type.String(),
          version: Type.String(),
          firstSeen: Type.Number({ description: 'Unix ms: `until` of its first upload' }),
          lastSeen: Type.Number({ description: 'Unix ms: `until` of its last upload' }),
          uploads: Type.Number({ description: 'Uploads with agent stats in the window' }),
          latest: AgentStatsSchema,
          window: Type.Object({
            elapsedMs: Type.Number({ description: 'lastSeen - firstSeen' }),
            cpuMicros: Type.Number({ description: 'collectCpuMicros + profilerCpuMicros' }),
            collectCpuMicros: Type.Number({ description: 'Increase over the window' }),
            profilerCpuMicros: Type.Number({ description: 'Increase over the window' }),
            cpuPercent: NullableNumber('cpuMicros / elapsedMs in % of one core'),
            maxOverheadPercent: NullableNumber('Largest lastOverheadPercent'),
            minSamplingIntervalMicros: NullableNumber('Smallest samplingIntervalMicros'),
            maxSamplingIntervalMicros: NullableNumber('Largest samplingIntervalMicros'),
            uploadsFailed: Type.Number({ description: 'Increase over the window' }),
            profilesDropped: Type.Number({ description: 'Increase over the window' }),
          }),
        }),
      ),
      truncated: Type.Boolean(),
    }),
  },
}

const PerType = Type.Record(Type.String(), Type.Number())

export const EndpointsQuery = Type.Object({
  service: Service,
  from: Type.Optional(From),
  to: Type.Optional(To),
  query: Type.Optional(Selector),
})
export const EndpointsSchema = {
  summary: 'CPU and wall time per endpoint of a window, with the calls (local root spans) seen',
  querystring: EndpointsQuery,
  response: {
    200: Type.Object({
      service: Type.String(),
      from: Type.Number(),
      to: Type.Number(),
      query: CanonicalSelector,
      types: Type.Record(Type.String(), Type.Object({ unit: Unit, total: Type.Number() })),
      endpoints: Type.Array(
        Type.Object({
          endpoint: Type.String({ description: "'' for samples without an endpoint" }),
          values: PerType,
          shares: PerType,
          calls: Type.Number({ description: 'Local root spans seen in its samples' }),
        }),
      ),
    }),
  },
}

const EndpointSide = Type.Object({
  value: Type.Number(),
  calls: Type.Number(),
  perCall: Type.Union([Type.Number(), Type.Null()]),
})
export const EndpointsDiffQuery = Type.Object({
  service: Service,
  type: Type.Optional(ProfileType),
  ...comparisonQuery,
})
export const EndpointsDiffSchema = {
  summary: 'Each endpoint in two windows or versions: cost per call before and after',
  querystring: EndpointsDiffQuery,
  response: {
    200: Type.Object({
      service: Type.String(),
      type: Type.String(),
      unit: Unit,
      baseline: Type.Object({ from: Type.Number(), to: Type.Number(), query: CanonicalSelector }),
      comparison: Type.Object({ from: Type.Number(), to: Type.Number(), query: CanonicalSelector }),
      endpoints: Type.Array(
        Type.Object({
          endpoint: Type.String(),
          baseline: EndpointSide,
          comparison: EndpointSide,
          perCallChange: Type.Union([Type.Number(), Type.Null()]),
          grewMost: Type.Optional(
            Type.Object({
              name: Type.String(),
              file: Type.Optional(Type.String()),
              change: Type.Number({ description: "Self share points of the endpoint's samples" }),
            }),
          ),
        }),
      ),
    }),
  },
}

export const TracesQuery = Type.Object({
  ...windowQuery,
  traceId: traceQuery.traceId,
  function: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 4096,
      description: 'Only traces that ran this function',
    }),
  ),
  file: Type.Optional(Type.String({ maxLength: 4096, description: "The function's file" })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 20 })),
})
export const TracesSchema = {
  summary: 'Traces of a window (that ran a function), heaviest first',
  querystring: TracesQuery,
  response: {
    200: Type.Object({
      service: Type.String(),
      type: Type.String(),
      unit: Unit,
      from: Type.Number(),
      to: Type.Number(),
      traces: Type.Array(
        Type.Object({
          traceId: Type.String(),
          spanIds: Type.Array(Type.String()),
          endpoint: Type.String(),
          value: Type.Number(),
          first: Type.Number(),
          last: Type.Number(),
          tracingUrl: Type.Optional(Type.String({ description: 'The trace in KILN_TRACING_URL' })),
        }),
      ),
      more: Type.Number({ description: 'Traces beyond the limit' }),
    }),
  },
}

/** Schemas with an `$id`, listed once under `components.schemas` of the OpenAPI document. */
export const SHARED_SCHEMAS: TSchema[] = [FlameNodeSchema, DiffNodeSchema, ErrorSchema]
