import { fromBinary } from '@bufbuild/protobuf'
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect'
import type { FastifyInstance } from 'fastify'
import {
  OTHER_NODE_NAME,
  isProfileTypeName,
  type FlameNode,
  type ProfileTypeName,
} from '@kiln/wire'
import { KilnError } from '../errors.js'
import { buildDiffTree, buildTree } from '../query/build-tree.js'
import { querySeriesLabels, queryLabelNames, queryLabelValues } from '../query/catalog.js'
import { encodeStacks } from '../query/export-pprof.js'
import { DEFAULT_MAX_NODES, DEFAULT_MAX_STACKS } from '../query/schemas.js'
import type { LabelMatcher } from '../query/selector.js'
import { queryStacks, type WindowStack } from '../query/stack-query.js'
import { chooseStep, queryTimeline } from '../query/timeline.js'
import type { TraceFilter } from '../query/window-sql.js'
import { selectRows } from '../store/select-rows.js'
import { TENANT } from './connect-plugin.js'
import { diffSides, toDiffLevels, toLevels } from './flamegraph-levels.js'
import { ProfileSchema, type Profile } from './gen/google/v1/profile_pb.js'
import {
  ProfileFormat,
  type QuerierService,
  type SelectMergeStacktracesRequest,
  type SelectSeriesRequest,
} from './gen/querier/v1/querier_pb.js'
import type { StackTraceSelector } from './gen/types/v1/types_pb.js'
import {
  SYNTHETIC_LABELS,
  isSyntheticLabel,
  type RegexMatcher,
  parsePyroscopeSelector,
  profileTypeOf,
  selectTargets,
  syntheticLabels,
  type Target,
} from './targets.js'

/*
 * Pyroscope's querier API over Kiln's queries. A request's selector becomes targets (one per
 * service and type it matches, see targets.ts); each target is one of Kiln's own window queries,
 * and several are merged: a flame graph of one service is exactly `/api/v1/flamegraph`'s, a
 * series exactly `/api/v1/timeline`'s. Times are Unix ms; 0 means "the last hour".
 */

const HOUR = 3_600_000
/** Label sets a Series or grouped SelectSeries answer holds at most. */
const MAX_SERIES = 10_000
/** Values a LabelValues answer holds at most. */
const MAX_LABEL_VALUES = 10_000
/** The most nodes a flame graph may ask for (Explore Profiles asks up to 2^20). */
const MAX_NODES = 1 << 20
/**
 * The most of Kiln's queries one request runs (one per service and type a selector matches, one
 * per group of a grouped series), and how many at a time: a selector over a large fleet or a
 * group_by on a label with thousands of values is refused rather than left to load the store.
 */
export const MAX_QUERIES_PER_REQUEST = 256
/** The same for the catalog's queries (label names and values, series), one per service. */
export const MAX_CATALOG_QUERIES_PER_REQUEST = 2048
const QUERY_CONCURRENCY = 4

/**
 * `fn` over `items`, at most `limit` at a time, results in order. Once one fails, or the client
 * has gone (`signal`: Grafana cancels the queries a newer one replaces), no more are started.
 */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
  signal?: AbortSignal,
) {
  const results = new Array<R>(items.length)
  let next = 0
  let failed = false
  const worker = async () => {
    while (next < items.length && !failed) {
      if (signal?.aborted) throw new ConnectError('the request was cancelled', Code.Canceled)
      const i = next++
      try {
        results[i] = await fn(items[i]!)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/** Selectors one request may send (Grafana sends one), and regular expressions on its labels. */
const MAX_SELECTORS = 16
const MAX_REGEXES = 16

/**
 * Pyroscope's own tree serialization (`format: PROFILE_FORMAT_TREE`, profilecli and Pyroscope's
 * tests) is not written: say so, rather than answer a flame graph the client does not read.
 */
function refuseTreeFormat(format: ProfileFormat): void {
  if (format === ProfileFormat.TREE) {
    throw new ConnectError(
      'PROFILE_FORMAT_TREE is not supported: ask for the flame graph',
      Code.Unimplemented,
    )
  }
}

/**
 * Merged profiles and series add values of one profile type: a selector that matches several
 * (no profile_typeID, `{}`) is refused, as Pyroscope requires the type.
 */
function checkOneType(targets: readonly Target[]): void {
  const types = new Set(targets.map((t) => t.type))
  if (types.size > 1) {
    throw new KilnError(
      'KILN_ERR_QUERY_INVALID',
      `the selector matches ${types.size} profile types: name one (profile_typeID)`,
    )
  }
}

function checkQueryCount(count: number, what: string, max = MAX_QUERIES_PER_REQUEST): void {
  if (count > max) {
    throw new KilnError(
      'KILN_ERR_QUERY_INVALID',
      `${what} needs ${count} queries, more than ${max}: narrow the selector`,
    )
  }
}

interface Window {
  tenant: string
  from: number
  to: number
}

/** Unix ms Kiln's store reads (DateTime64 up to year 2299). */
const MAX_TIME_MS = 10_413_792_000_000

/** The request's window: `end` 0 is now, `start` 0 an hour before `end`. */
function windowOf(ctx: HandlerContext, start: bigint, end: bigint): Window {
  if (start < 0n || end < 0n || start > BigInt(MAX_TIME_MS) || end > BigInt(MAX_TIME_MS)) {
    throw new KilnError('KILN_ERR_QUERY_INVALID', '`start` and `end` are Unix ms, 0 to year 2299')
  }
  const to = end > 0n ? Number(end) : Date.now()
  const from = start > 0n ? Number(start) : to - HOUR
  if (from >= to) throw new KilnError('KILN_ERR_QUERY_INVALID', '`start` must be before `end`')
  return { tenant: ctx.values.get(TENANT), from, to }
}

/** `max_nodes` as asked: unset or 0 is Kiln's default, negative is the most allowed. */
function maxNodesOf(asked: bigint | undefined): number {
  if (asked === undefined || asked === 0n) return DEFAULT_MAX_NODES
  if (asked < 0n || asked > BigInt(MAX_NODES)) return MAX_NODES
  return Math.max(2, Number(asked))
}

export function querierService(
  fastify: FastifyInstance,
): Partial<ServiceImpl<typeof QuerierService>> {
  const { client, database: db, rollup } = fastify.store

  /** Services with the types they have profiles of in the window. */
  const available = async (w: Window) => {
    const rows = await selectRows<{ service: string; types: string[] }>(
      client,
      `SELECT service, arraySort(groupUniqArray(type)) AS types FROM ${db}.profiles
        WHERE tenant = {tenant:String}
          AND time_end >= fromUnixTimestamp64Milli({from:Int64})
          AND time_start < fromUnixTimestamp64Milli({to:Int64})
        GROUP BY service ORDER BY service`,
      { ...w },
    )
    return rows.map((r) => ({ service: r.service, types: r.types.filter(isProfileTypeName) }))
  }

  /**
   * A request's regular expressions, each evaluated once by the store (RE2), at most
   * {@link MAX_REGEXES} of them.
   */
  const regexMatcher = (): RegexMatcher => {
    const seen = new Map<string, Set<string>>()
    return async (pattern, values) => {
      const key = JSON.stringify([pattern, values])
      const known = seen.get(key)
      if (known) return known
      if (seen.size >= MAX_REGEXES) {
        throw new KilnError(
          'KILN_ERR_QUERY_INVALID',
          `more than ${MAX_REGEXES} regular expressions on service_name and the profile type labels`,
        )
      }
      const [row] = await selectRows<{ matched: string[] }>(
        client,
        `SELECT arrayFilter(v -> match(v, {re:String}), {values:Array(String)}) AS matched`,
        { re: `^(?:${pattern})$`, values },
      )
      const matched = new Set(row?.matched ?? [])
      seen.set(key, matched)
      return matched
    }
  }

  /** The targets of one or more selectors (their union), optionally of one profile type id. */
  const targetsOf = async (w: Window, selectors: readonly string[], typeId?: string) => {
    if (selectors.length > MAX_SELECTORS) {
      throw new KilnError('KILN_ERR_QUERY_INVALID', `more than ${MAX_SELECTORS} matchers`)
    }
    const services = await available(w)
    const type = typeId === undefined || typeId === '' ? undefined : profileTypeOf(typeId)
    const matchRegex = regexMatcher()
    const seen = new Map<string, Target>()
    for (const text of selectors.length === 0 ? ['{}'] : selectors) {
      const selector = parsePyroscopeSelector(text)
      if (type !== undefined) {
        if (selector.type !== undefined && selector.type !== type) continue
        selector.type = type
      }
      for (const t of await selectTargets(selector, services, matchRegex)) {
        const key = `${t.service}\u0000${t.type}\u0000${JSON.stringify(t.selector)}`
        seen.set(key, t)
      }
    }
    return { targets: [...seen.values()], services }
  }

  /**
   * The targets as scopes of the catalog queries: one per service and selector, of every type
   * when the targets hold all the service's types in the window, else one per type. Label
   * names, values and series of a large fleet so take a query per service.
   */
  const scopesOf = (
    targets: readonly Target[],
    services: readonly { service: string; types: readonly ProfileTypeName[] }[],
  ) => {
    const groups = new Map<
      string,
      { service: string; selector: LabelMatcher[]; types: Set<ProfileTypeName> }
    >()
    for (const t of targets) {
      const key = `${t.service}\u0000${JSON.stringify(t.selector)}`
      let g = groups.get(key)
      if (!g) groups.set(key, (g = { service: t.service, selector: t.selector, types: new Set() }))
      g.types.add(t.type)
    }
    type Scope = { service: string; selector: LabelMatcher[]; type: ProfileTypeName | undefined }
    const scopes = [...groups.values()].flatMap((g): Scope[] => {
      const all = services.find((s) => s.service === g.service)?.types ?? []
      return all.every((type) => g.types.has(type))
        ? [{ service: g.service, selector: g.selector, type: undefined }]
        : [...g.types].map((type) => ({ service: g.service, selector: g.selector, type }))
    })
    checkQueryCount(
      scopes.length,
      'the selector matches that many services: it',
      MAX_CATALOG_QUERIES_PER_REQUEST,
    )
    return scopes
  }

  /** The stacks of each target in the window, concatenated, with the value left out of them. */
  const stacksOf = async (
    w: Window,
    targets: readonly Target[],
    options: {
      trace?: TraceFilter
      callSite?: StackTraceSelector | undefined
      signal?: AbortSignal
    } = {},
  ) => {
    checkQueryCount(targets.length, 'the selector matches that many services: it')
    const rolledHours = await rollup.rolledHours()
    // One budget of stacks for the request, shared by its services.
    const maxStacks = Math.max(1000, Math.floor(DEFAULT_MAX_STACKS / Math.max(1, targets.length)))
    const sets = await mapLimit(
      targets,
      QUERY_CONCURRENCY,
      (t) =>
        queryStacks(client, db, [{ ...w, ...t, rolledHours, trace: options.trace }], maxStacks),
      options.signal,
    )
    let stacks: WindowStack[] = sets.flatMap((s) => s.stacks)
    let remainder = sets.reduce((sum, s) => sum + s.remainders[0]!, 0)
    const site = options.callSite?.callSite.map((l) => l.name) ?? []
    if (site.length > 0) {
      // Only the stacks through the call site (root first); what could not be read is unknown.
      stacks = stacks.filter((s) => site.every((name, i) => s.functions[i] === name))
      remainder = 0
    }
    return { stacks, remainder }
  }

  /** The merged flame graph of a SelectMergeStacktraces-shaped request. */
  const flamegraphOf = async (
    ctx: HandlerContext,
    r: Pick<
      SelectMergeStacktracesRequest,
      'profileTypeID' | 'labelSelector' | 'start' | 'end' | 'maxNodes' | 'stackTraceSelector'
    >,
    trace?: TraceFilter,
  ): Promise<FlameNode | undefined> => {
    const w = windowOf(ctx, r.start, r.end)
    const { targets } = await targetsOf(w, [r.labelSelector], r.profileTypeID)
    checkOneType(targets)
    if (targets.length === 0) return undefined
    const { stacks, remainder } = await stacksOf(w, targets, {
      ...(trace ? { trace } : {}),
      callSite: r.stackTraceSelector,
      signal: ctx.signal,
    })
    return buildTree(
      stacks.map((s) => ({ functions: s.functions, files: s.files, value: s.values[0]! })),
      remainder,
      maxNodesOf(r.maxNodes),
    )
  }

  return {
    async profileTypes(request, ctx) {
      // Without a window (Grafana's "Save & test" in older versions), every type ever stored:
      // a data source whose services were quiet for an hour still passes its test.
      const w =
        request.start === 0n && request.end === 0n
          ? { tenant: ctx.values.get(TENANT), from: 0, to: Date.now() + HOUR }
          : windowOf(ctx, request.start, request.end)
      const types = new Set((await available(w)).flatMap((s) => s.types))
      return {
        profileTypes: [...types]
          .map((type) => {
            const labels = syntheticLabels('', type)
            return {
              ID: labels.__profile_type__,
              name: labels.__name__,
              sampleType: labels.__type__,
              sampleUnit: labels.__unit__,
              periodType: labels.__period_type__,
              periodUnit: labels.__period_unit__,
            }
          })
          .sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0)),
      }
    },

    async labelNames(request, ctx) {
      const w = windowOf(ctx, request.start, request.end)
      const { targets, services } = await targetsOf(w, request.matchers)
      const names = new Set<string>(targets.length > 0 ? SYNTHETIC_LABELS : [])
      const rolledHours = await rollup.rolledHours()
      const answers = await mapLimit(
        scopesOf(targets, services),
        QUERY_CONCURRENCY,
        (scope) => queryLabelNames(client, db, { ...w, ...scope, rolledHours }),
        ctx.signal,
      )
      for (const a of answers) for (const n of a.names) names.add(n)
      return { names: [...names].sort() }
    },

    async labelValues(request, ctx) {
      const w = windowOf(ctx, request.start, request.end)
      const { targets, services } = await targetsOf(w, request.matchers)
      const values = new Set<string>()
      if (isSyntheticLabel(request.name)) {
        for (const t of targets) values.add(syntheticLabels(t.service, t.type)[request.name]!)
      } else {
        const rolledHours = await rollup.rolledHours()
        const answers = await mapLimit(
          scopesOf(targets, services),
          QUERY_CONCURRENCY,
          (scope) =>
            queryLabelValues(client, db, {
              ...w,
              ...scope,
              rolledHours,
              name: request.name,
              limit: MAX_LABEL_VALUES,
            }),
          ctx.signal,
        )
        for (const a of answers) for (const v of a.values) if (v !== '') values.add(v)
      }
      return { names: [...values].sort().slice(0, MAX_LABEL_VALUES) }
    },

    async series(request, ctx) {
      const w = windowOf(ctx, request.start, request.end)
      const { targets, services } = await targetsOf(w, request.matchers)
      const wanted = request.labelNames.length > 0 ? new Set(request.labelNames) : undefined
      const realNames = wanted && [...wanted].filter((n) => !isSyntheticLabel(n))
      const rolledHours = await rollup.rolledHours()
      // Each target's label sets; only Pyroscope's own labels asked (Explore Profiles' list of
      // services and types): no query at all.
      const perTarget: { target: Target; labels: Record<string, string> }[] = []
      if (realNames?.length === 0) {
        for (const target of targets) perTarget.push({ target, labels: {} })
      } else {
        const wantedTypes = new Set(targets.map((t) => `${t.service}\u0000${t.type}`))
        const answers = await mapLimit(
          scopesOf(targets, services),
          QUERY_CONCURRENCY,
          async (scope) => ({
            scope,
            rows: await querySeriesLabels(client, db, {
              ...w,
              ...scope,
              rolledHours,
              names: realNames,
              limit: MAX_SERIES,
            }),
          }),
          ctx.signal,
        )
        for (const { scope, rows } of answers) {
          for (const row of rows) {
            const target = { service: scope.service, type: row.type, selector: scope.selector }
            if (wantedTypes.has(`${target.service}\u0000${target.type}`)) {
              perTarget.push({ target, labels: row.labels })
            }
          }
        }
      }
      const sets = new Map<string, Record<string, string>>()
      for (const { target: t, labels } of perTarget) {
        if (sets.size >= MAX_SERIES) break
        const all = { ...labels, ...syntheticLabels(t.service, t.type) }
        const kept = Object.fromEntries(
          Object.entries(all)
            .filter(([k, v]) => (wanted === undefined || wanted.has(k)) && v !== '')
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
        sets.set(JSON.stringify(kept), kept)
      }
      return {
        labelsSet: [...sets.values()].map((labels) => ({
          labels: Object.entries(labels).map(([name, value]) => ({ name, value })),
        })),
      }
    },

    async selectMergeStacktraces(request, ctx) {
      refuseTreeFormat(request.format)
      const root = await flamegraphOf(ctx, request)
      return root === undefined ? {} : { flamegraph: toLevels(root) }
    },

    async selectMergeSpanProfile(request, ctx) {
      refuseTreeFormat(request.format)
      const spanIds = request.spanSelector.map((id) => id.toLowerCase())
      // No span named: no samples (an empty filter would select every traced sample).
      if (spanIds.length === 0) return {}
      if (spanIds.some((id) => !/^[0-9a-f]{1,32}$/.test(id))) {
        throw new KilnError('KILN_ERR_QUERY_INVALID', 'span ids are hexadecimal')
      }
      const root = await flamegraphOf(ctx, request, { spanIds })
      return root === undefined ? {} : { flamegraph: toLevels(root) }
    },

    async diff(request, ctx) {
      const { left, right } = request
      if (!left || !right) {
        throw new KilnError('KILN_ERR_QUERY_INVALID', '`left` and `right` are required')
      }
      const typeOf = (id: string) => (id === '' ? undefined : profileTypeOf(id))
      if (typeOf(left.profileTypeID) !== typeOf(right.profileTypeID)) {
        throw new KilnError(
          'KILN_ERR_QUERY_INVALID',
          'both sides of a diff are of one profile type',
        )
      }
      const empty: FlameNode = { name: 'total', value: 0, self: 0, children: [] }
      const [lw, rw] = [windowOf(ctx, left.start, left.end), windowOf(ctx, right.start, right.end)]
      const [lt, rt] = await Promise.all([
        targetsOf(lw, [left.labelSelector], left.profileTypeID),
        targetsOf(rw, [right.labelSelector], right.profileTypeID),
      ])
      const [l, r] = [lt.targets, rt.targets]
      const oneEach = l.length === 1 && r.length === 1
      if (
        oneEach &&
        l[0]!.service === r[0]!.service &&
        l[0]!.type === r[0]!.type &&
        !left.stackTraceSelector?.callSite.length &&
        !right.stackTraceSelector?.callSite.length
      ) {
        // One service on both sides (what Grafana compares): Kiln's diff tree, the two sides
        // trimmed together, so a frame kept on one is kept on the other.
        const rolledHours = await rollup.rolledHours()
        const set = await queryStacks(
          client,
          db,
          [
            { ...lw, ...l[0]!, rolledHours },
            { ...rw, ...r[0]!, rolledHours },
          ],
          DEFAULT_MAX_STACKS,
        )
        const root = buildDiffTree(
          set.stacks,
          [set.totals[0]!, set.totals[1]!],
          [set.remainders[0]!, set.remainders[1]!],
          Math.max(maxNodesOf(left.maxNodes), maxNodesOf(right.maxNodes)),
        )
        return { flamegraph: toDiffLevels(...diffSides(root)) }
      }
      const [lg, rg] = await Promise.all([flamegraphOf(ctx, left), flamegraphOf(ctx, right)])
      return { flamegraph: toDiffLevels(lg ?? empty, rg ?? empty) }
    },

    async selectMergeProfile(request, ctx) {
      const w = windowOf(ctx, request.start, request.end)
      const { targets } = await targetsOf(w, [request.labelSelector], request.profileTypeID)
      checkOneType(targets)
      // Without data, an empty profile of the type asked (CPU when none was).
      const asked = request.profileTypeID === '' ? null : profileTypeOf(request.profileTypeID)
      const type = targets[0]?.type ?? asked ?? 'cpu'
      const { stacks, remainder } = await stacksOf(w, targets, {
        callSite: request.stackTraceSelector,
        signal: ctx.signal,
      })
      if (remainder !== 0) {
        stacks.push({ functions: [OTHER_NODE_NAME], files: [''], lines: [0], values: [remainder] })
      }
      const bytes = encodeStacks(stacks, { type, from: w.from, to: w.to })
      return fromBinary(ProfileSchema, bytes) as Profile
    },

    async selectSeries(request, ctx) {
      return { series: await selectSeries(request, ctx) }
    },

    async getProfileStats(_request, ctx) {
      const [row] = await selectRows<{ n: string; oldest: string; newest: string }>(
        client,
        `SELECT count() AS n, toUnixTimestamp64Milli(min(time_start)) AS oldest,
            toUnixTimestamp64Milli(max(time_end)) AS newest
          FROM ${db}.profiles WHERE tenant = {tenant:String}`,
        { tenant: ctx.values.get(TENANT) },
      )
      const ingested = Number(row?.n ?? 0) > 0
      return {
        dataIngested: ingested,
        oldestProfileTime: ingested ? BigInt(row!.oldest) : 0n,
        newestProfileTime: ingested ? BigInt(row!.newest) : 0n,
      }
    },

    // Pyroscope's estimate of what a query reads; Kiln does not estimate.
    analyzeQuery: () => ({ queryScopes: [], queryImpact: {} }),
  }

  /**
   * Series over time: per target and combination of the `group_by` labels, Kiln's timeline with
   * the group's labels as equality matchers (a label a series lacks matches `""`), summed across
   * targets that share a group. Cumulative types give the sum per step (Grafana divides by the
   * step), gauges their level. Points are Kiln's buckets (aligned on multiples of the step,
   * stamped with their start), only those with data; `limit` keeps the largest series.
   */
  async function selectSeries(request: SelectSeriesRequest, ctx: HandlerContext) {
    const w = windowOf(ctx, request.start, request.end)
    const { targets } = await targetsOf(w, [request.labelSelector], request.profileTypeID)
    checkOneType(targets)
    checkQueryCount(targets.length, 'the selector matches that many services: it')
    if (!Number.isFinite(request.step) || request.step > 366 * 24 * 3600) {
      throw new KilnError('KILN_ERR_QUERY_INVALID', '`step` is in seconds, at most a year')
    }
    const step =
      request.step > 0 ? Math.max(1000, Math.round(request.step * 1000)) : chooseStep(w.from, w.to)
    const groupBy = [...new Set(request.groupBy)]
    const realGroupBy = groupBy.filter((n) => !isSyntheticLabel(n))
    const rolledHours = await rollup.rolledHours()
    const groups = new Map<
      string,
      { labels: Record<string, string>; points: Map<number, number> }
    >()
    // Every (target, group) first, so a request that would run too many queries runs none.
    const queries: { target: Target; values: Record<string, string> }[] = []
    for (const t of targets) {
      const combos =
        realGroupBy.length === 0
          ? [{ labels: {} }]
          : await querySeriesLabels(client, db, {
              ...w,
              ...t,
              rolledHours,
              names: realGroupBy,
              limit: MAX_QUERIES_PER_REQUEST + 1,
            })
      const distinct = new Map(
        combos.map(({ labels: c }: { labels: Record<string, string> }) => {
          const values = Object.fromEntries(realGroupBy.map((n) => [n, c[n] ?? '']))
          return [JSON.stringify(values), values]
        }),
      )
      for (const values of distinct.values()) queries.push({ target: t, values })
      checkQueryCount(queries.length, 'grouping by those labels')
    }
    const timelines = await mapLimit(
      queries,
      QUERY_CONCURRENCY,
      ({ target: t, values }) =>
        queryTimeline(client, db, {
          ...w,
          ...t,
          selector: [
            ...t.selector,
            ...realGroupBy.map((name): LabelMatcher => ({ name, op: '=', value: values[name]! })),
          ],
          rolledHours,
          step,
        }),
      ctx.signal,
    )
    queries.forEach(({ target: t, values }, q) => {
      const synthetic = syntheticLabels(t.service, t.type)
      const timeline = timelines[q]!
      const labels = Object.fromEntries(
        groupBy
          .map((n) => [n, synthetic[n] ?? values[n] ?? ''] as const)
          .filter(([, v]) => v !== ''),
      )
      const key = JSON.stringify(groupBy.map((n) => labels[n] ?? ''))
      let group = groups.get(key)
      if (!group) groups.set(key, (group = { labels, points: new Map() }))
      timeline.values.forEach((v, i) => {
        if (v === null) return
        const at = timeline.timestamps[i]!
        group!.points.set(at, (group!.points.get(at) ?? 0) + v)
      })
    })
    let series = [...groups.values()]
      .filter((g) => g.points.size > 0)
      .map((g) => ({
        labels: Object.entries(g.labels).map(([name, value]) => ({ name, value })),
        points: [...g.points.entries()]
          .sort((a, b) => a[0] - b[0])
          .map(([timestamp, value]) => ({ timestamp: BigInt(timestamp), value })),
        total: [...g.points.values()].reduce((a, b) => a + b, 0),
      }))
    if (request.limit !== undefined && request.limit > 0n) {
      series = series.sort((a, b) => b.total - a.total).slice(0, Number(request.limit))
    }
    return series.map(({ labels, points }) => ({ labels, points }))
  }
}
