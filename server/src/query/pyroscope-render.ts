import type { FastifyPluginAsync } from 'fastify'
import {
  kilnTypeOf,
  parseTime,
  pyroscopeUnits,
  type FlameNode,
  type ProfileTypeName,
} from '@kiln/wire'
import { KilnError } from '../errors.js'
import { timeParam } from '../http/unix-ms.js'
import { DEFAULT_MAX_NODES, DEFAULT_MAX_STACKS } from './schemas.js'
import { queryFlamegraph } from './flamegraph.js'
import { parseSelector, type LabelMatcher } from './selector.js'
import { queryTimeline } from './timeline.js'
import { buildDiffTree } from './build-tree.js'
import { queryStacks } from './stack-query.js'
import { diffSides, toDiffLevels, toFlamebearer } from '../pyroscope/flamegraph-levels.js'

/*
 * Pyroscope's legacy render API (`GET /pyroscope/render`, `GET /render`), which older Grafana
 * versions, scripts and Pyroscope's flame graph components read: a flame graph in the
 * "flamebearer" encoding and a timeline, for `query=<profile type id>{service_name="app", ...}`
 * or the old `query=app.cpu{...}`. See docs/design/grafana-pyroscope-api-notes.md, section 6.
 */

const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE
/** Timeline steps Pyroscope rounds to (`CalcPointInterval`). */
const NICE_STEPS = [
  10_000,
  15_000,
  20_000,
  30_000,
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  20 * MINUTE,
  30 * MINUTE,
  60 * MINUTE,
  2 * 60 * MINUTE,
  3 * 60 * MINUTE,
  6 * 60 * MINUTE,
  12 * 60 * MINUTE,
  DAY,
  7 * DAY,
  30 * DAY,
  365 * DAY,
]

/** The window in about 1500 points, rounded up to a step Pyroscope uses (10 s at least). */
export function renderStep(from: number, to: number): number {
  const raw = Math.max(10_000, (to - from) / 1500)
  return NICE_STEPS.find((s) => s >= raw) ?? NICE_STEPS[NICE_STEPS.length - 1]!
}

/**
 * A time as Pyroscope's render API takes it: what `parseTime` reads, plus `YYYYMMDD` (a UTC
 * day) and the relative units Graphite's `attime` adds (`min`, `mon`/`M`, `y`).
 */
export function parseRenderTime(input: string, now: number): number {
  const day = /^(\d{4})(\d{2})(\d{2})$/.exec(input)
  if (day !== null) {
    const ms = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]))
    if (new Date(ms).getUTCDate() === Number(day[3])) return ms
  }
  const relative = /^now([+-])(\d{1,9})(min|mon|M|y)$/.exec(input)
  if (relative !== null) {
    const unit = { min: MINUTE, mon: 30 * DAY, M: 30 * DAY, y: 365 * DAY }[relative[3]!]!
    const ms = now + (relative[1] === '-' ? -1 : 1) * Number(relative[2]) * unit
    if (ms >= 0) return ms
  }
  return parseTime(input, now)
}

export interface RenderQuery {
  service: string
  type: ProfileTypeName
  selector: LabelMatcher[]
}

/**
 * `process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="app", env="prod"}` or the old
 * `app.cpu{env="prod"}`: the service, Kiln's type and the other matchers.
 */
export function parseRenderQuery(query: string): RenderQuery {
  const brace = query.indexOf('{')
  const head = (brace < 0 ? query : query.slice(0, brace)).trim()
  const selector = parseSelector(brace < 0 ? '' : query.slice(brace))
  const invalid = (detail: string): never => {
    throw new KilnError(
      'KILN_ERR_QUERY_INVALID',
      `query ${JSON.stringify(query.slice(0, 200))}: ${detail}`,
    )
  }
  let service: string | undefined
  let type: ProfileTypeName | undefined
  const rest: LabelMatcher[] = []
  for (const m of selector) {
    if (m.name === 'service_name' && m.op === '=' && service === undefined) service = m.value
    else if (m.name === '__profile_type__' && m.op === '=')
      type = kilnTypeOf(m.value) ?? invalid(`unknown profile type ${m.value}`)
    else if (m.name !== '__name__') rest.push(m)
  }
  if (head.includes(':')) {
    type = kilnTypeOf(head) ?? invalid(`unknown profile type ${head}`)
  } else if (head !== '') {
    // The old form: `<app>.<sample type>`, the app's name itself may hold dots.
    const dot = head.lastIndexOf('.')
    if (dot <= 0) invalid('expected <profile type>{service_name="..."} or <app>.<type>{...}')
    service ??= head.slice(0, dot)
    type = kilnTypeOf(head.slice(dot + 1)) ?? invalid(`unknown profile type ${head.slice(dot + 1)}`)
  }
  if (type === undefined) invalid('no profile type')
  if (service === undefined || service === '') invalid('no service (service_name="...")')
  return { service: service!, type: type!, selector: rest }
}

interface RenderQuerystring {
  query?: string
  from?: string
  until?: string
  format?: string
  maxNodes?: string
  'max-nodes'?: string
}

/** A time parameter of the render API; `fallback` when absent. */
function renderTime(raw: string | undefined, fallback: number, name: string, now: number): number {
  return raw === undefined || raw === '' ? fallback : timeParam(name, raw, now, parseRenderTime)
}

/** `from`/`until` (an hour before `until`, and now, when absent). */
function renderWindow(fromRaw: string | undefined, untilRaw: string | undefined, now: number) {
  const to = renderTime(untilRaw, now, 'until', now)
  const from = renderTime(fromRaw, to - 60 * MINUTE, 'from', now)
  if (from >= to) throw new KilnError('KILN_ERR_QUERY_INVALID', '`from` must be before `until`')
  return { from, to }
}

/** `maxNodes` or `max-nodes`; Kiln's default when absent. */
function renderMaxNodes(q: { maxNodes?: string; 'max-nodes'?: string }): number {
  const raw = q.maxNodes ?? q['max-nodes']
  const maxNodes = raw === undefined ? DEFAULT_MAX_NODES : Number(raw)
  if (!Number.isInteger(maxNodes) || maxNodes < 2 || maxNodes > 1_000_000) {
    throw new KilnError('KILN_ERR_QUERY_INVALID', `maxNodes=${raw}: 2 to 1000000`)
  }
  return maxNodes
}

/** The flamebearer's `metadata` for a type. */
function renderMetadata(type: ProfileTypeName, format: 'single' | 'double') {
  const units = pyroscopeUnits(type)
  return {
    format,
    spyName: 'nodespy',
    // Values are nanoseconds for time types: a "sample" of 1 ns shows as seconds.
    sampleRate: units === 'samples' ? 1_000_000_000 : 100,
    units,
    name: type,
  }
}

interface RenderDiffQuerystring {
  leftQuery?: string
  leftFrom?: string
  leftUntil?: string
  rightQuery?: string
  rightFrom?: string
  rightUntil?: string
  maxNodes?: string
  'max-nodes'?: string
}

/**
 * `GET /pyroscope/render`, `GET /render` and `GET /pyroscope/render-diff` (read access, the
 * request's tenant).
 */
export const pyroscopeRenderPlugin: FastifyPluginAsync = async (fastify) => {
  const { client, database: db, rollup } = fastify.store
  const handler = async (request: { query: RenderQuerystring; tenant: string }) => {
    const q = request.query
    if (!q.query) throw new KilnError('KILN_ERR_QUERY_INVALID', '`query` is required')
    if (q.format !== undefined && q.format !== 'json') {
      throw new KilnError('KILN_ERR_QUERY_INVALID', `format=${q.format}: only json`)
    }
    const { service, type, selector } = parseRenderQuery(q.query)
    const { from, to } = renderWindow(q.from, q.until, Date.now())
    const maxNodes = renderMaxNodes(q)
    const window = {
      tenant: request.tenant,
      service,
      type,
      from,
      to,
      selector,
      rolledHours: await rollup.rolledHours(),
    }
    const step = renderStep(from, to)
    const [graph, timeline] = await Promise.all([
      queryFlamegraph(client, db, { ...window, maxStacks: DEFAULT_MAX_STACKS, maxNodes }),
      queryTimeline(client, db, { ...window, step }),
    ])
    return {
      version: 1,
      flamebearer: toFlamebearer(graph.root),
      metadata: renderMetadata(type, 'single'),
      timeline: {
        startTime: Math.floor((timeline.timestamps[0] ?? from) / 1000),
        samples: timeline.values.map((v) => Math.round(v ?? 0)),
        durationDelta: step / 1000,
        watermarks: null,
      },
      groups: null,
      heatmap: null,
    }
  }
  for (const url of ['/pyroscope/render', '/render']) {
    fastify.get<{ Querystring: RenderQuerystring }>(
      url,
      { config: { access: 'read' } },
      (request) => handler(request),
    )
  }

  // Two windows of one profile type (older Explore Profiles' diff view): Kiln's diff tree, both
  // sides trimmed together, in the "double" flamebearer (7 numbers per node).
  fastify.get<{ Querystring: RenderDiffQuerystring }>(
    '/pyroscope/render-diff',
    { config: { access: 'read' } },
    async (request) => {
      const q = request.query
      if (!q.leftQuery || !q.rightQuery) {
        throw new KilnError('KILN_ERR_QUERY_INVALID', '`leftQuery` and `rightQuery` are required')
      }
      const now = Date.now()
      const rolledHours = await rollup.rolledHours()
      const [left, right] = [
        { ...parseRenderQuery(q.leftQuery), ...renderWindow(q.leftFrom, q.leftUntil, now) },
        { ...parseRenderQuery(q.rightQuery), ...renderWindow(q.rightFrom, q.rightUntil, now) },
      ].map((side) => ({ ...side, tenant: request.tenant, rolledHours }))
      if (left!.type !== right!.type) {
        throw new KilnError('KILN_ERR_QUERY_INVALID', 'both queries are of one profile type')
      }
      const maxNodes = renderMaxNodes(q)
      let sides: [FlameNode, FlameNode]
      if (left!.service === right!.service) {
        const set = await queryStacks(client, db, [left!, right!], DEFAULT_MAX_STACKS)
        const totals = [set.totals[0]!, set.totals[1]!] as const
        const remainders = [set.remainders[0]!, set.remainders[1]!] as const
        sides = diffSides(buildDiffTree(set.stacks, totals, remainders, maxNodes))
      } else {
        const graphs = await Promise.all(
          [left!, right!].map((w) =>
            queryFlamegraph(client, db, { ...w, maxStacks: DEFAULT_MAX_STACKS, maxNodes }),
          ),
        )
        sides = [graphs[0]!.root, graphs[1]!.root]
      }
      const diff = toDiffLevels(...sides)
      return {
        version: 1,
        flamebearer: {
          names: diff.names,
          levels: diff.levels.map((l) => l.values.map(Number)),
          numTicks: Number(diff.total),
          maxSelf: Number(diff.maxSelf),
        },
        metadata: renderMetadata(left!.type, 'double'),
        leftTicks: Number(diff.leftTicks),
        rightTicks: Number(diff.rightTicks),
        timeline: null,
        groups: null,
        heatmap: null,
      }
    },
  )
}
