import type { Aggregation, ProfileTypeInfo } from './profile-types.js'

/*
 * The query API: JSON under `/api/v1` (the OpenAPI document is served at
 * `/api/v1/openapi.json`). Conventions shared by every route:
 * - Times are Unix milliseconds; a window is `[from, to)`. When absent, `to` is now and `from` is
 *   `to` - 15 minutes.
 * - `query` is a label selector in Prometheus/Pyroscope syntax: `{k="v", k2!="v", k3=~"re",
 *   k4!~"re"}`. Regular expressions are RE2, anchored at both ends (`=~"prod"` does not match
 *   `preprod`); a missing label reads as the empty string, so `{k=""}` selects series without `k`.
 *   An empty or absent selector selects every series.
 * - Values are in the type's `unit` and follow its `aggregation`: cumulative types sum over the
 *   window; gauge types average each series over its snapshots in the window, then sum across
 *   series (so gauge values may be fractional).
 * - A function is identified by its name and file.
 */

/** Name of the node that holds what a tree leaves out (folded nodes, stacks not fetched). */
export const OTHER_NODE_NAME = 'other'

/**
 * A node of a flame graph. `value` is the node's total (itself and below), `self` its own.
 * `value === self + sum(children.value)` holds at every node, also after truncation: children
 * left out are folded into one child named {@link OTHER_NODE_NAME}.
 */
export interface FlameNode {
  name: string
  /** Source file of the function, when the profile carried one. */
  file?: string
  value: number
  self: number
  children: FlameNode[]
}

/** Labels, window and selector common to the window queries. */
export interface WindowQuery {
  service: string
  /** A profile type name, e.g. `cpu` (see `PROFILE_TYPES`). */
  type: string
  /** Unix ms, inclusive. */
  from: number
  /** Unix ms, exclusive. */
  to: number
  /** Label selector, e.g. `{env="prod", pod=~"api-.*"}`. */
  query?: string
  /**
   * Only the samples of these traces (hex, comma-separated; cpu and wall): flame graph, top and
   * export take it, and `/traces` to summarize those traces.
   */
  traceId?: string
  /** Only the samples of these local root spans (hex, comma-separated; cpu and wall). */
  spanIds?: string
}

/** `GET /api/v1/flamegraph?service=&type=&from=&to=&query=&maxNodes=&maxStacks=` */
export interface FlamegraphQuery extends WindowQuery {
  /** Largest number of nodes in the returned tree, "other" nodes included (default 8192). */
  maxNodes?: number
  /** How many of the heaviest stacks are aggregated; the rest fold into "other" (default 20000). */
  maxStacks?: number
}

export interface FlamegraphResponse {
  service: string
  type: string
  unit: ProfileTypeInfo['unit']
  aggregation: Aggregation
  from: number
  to: number
  /** The selector as applied, normalized (`{}` when none). */
  query?: string
  /** Sum of every sample in the window, including stacks folded into "other". */
  total: number
  /** Number of distinct stacks that were aggregated. */
  stacks: number
  root: FlameNode
}

export interface ServiceSummary {
  name: string
  types: string[]
  /** Unix ms of the newest profile. */
  lastSeen: number
}

/** `GET /api/v1/services` */
export interface ServicesResponse {
  services: ServiceSummary[]
}

export interface ProfileTypeSummary {
  name: string
  unit: ProfileTypeInfo['unit']
  aggregation: Aggregation
  description: string
  /** Unix ms of the newest profile of this type. */
  lastSeen: number
}

/** `GET /api/v1/profile-types?service=` */
export interface ProfileTypesResponse {
  service: string
  types: ProfileTypeSummary[]
}

/**
 * `GET /api/v1/labels?service=&from=&to=&type=&query=`: label names of the series that have
 * samples in the window (of `type` when given, narrowed by `query` when given).
 */
export interface LabelsResponse {
  service: string
  from: number
  to: number
  names: string[]
}

/** `GET /api/v1/label-values?service=&name=&from=&to=&type=&query=&limit=` */
export interface LabelValuesResponse {
  service: string
  name: string
  from: number
  to: number
  /** Sorted; series without the label are not counted. */
  values: string[]
  /** True when there were more than `limit` values. */
  truncated: boolean
}

/** A version of a service (label `service_version`, or `version`): a deploy marker. */
export interface VersionSummary {
  version: string
  /** Unix ms: start of the oldest profile of this version. */
  firstSeen: number
  /** Unix ms: end of the newest profile of this version. */
  lastSeen: number
  /** Profiles stored for this version (all types). */
  profiles: number
}

/** `GET /api/v1/versions?service=`, oldest first. */
export interface VersionsResponse {
  service: string
  versions: VersionSummary[]
}

/** `GET /api/v1/timeline?service=&type=&from=&to=&query=&step=` */
export interface TimelineQuery extends WindowQuery {
  /** Bucket size in ms; when absent, chosen so the window has at most about 300 buckets. */
  step?: number
  /** A label to split the totals by (cumulative types): one series per value, e.g. `pod`. */
  groupBy?: string
}

/**
 * Totals per bucket. Buckets are aligned on multiples of `step` since the Unix epoch;
 * `timestamps[i]` is the start of bucket `i` and `values[i]` its total, `null` when the bucket
 * holds no sample. Only samples inside `[from, to)` count, also in the first and last bucket.
 */
export interface TimelineResponse {
  service: string
  type: string
  unit: ProfileTypeInfo['unit']
  aggregation: Aggregation
  from: number
  to: number
  query: string
  step: number
  timestamps: number[]
  values: (number | null)[]
  /**
   * Collected instance-milliseconds per bucket, for cumulative types (the summed length of the
   * bucket's profiles; null: none, or a gauge). Scheduled agents collect in some windows only:
   * `values[i] / coverage[i]` is the load per collected instance-millisecond, which compares
   * buckets whatever their coverage.
   */
  coverage: (number | null)[]
  /** The label of `groupBy`, when asked. */
  groupBy?: string
  /**
   * With `groupBy`: the totals split by the label's value, the 8 largest over the window first
   * (`value` `''`: series without the label), then `other: true` summing the rest.
   */
  groups?: { value: string; other: boolean; values: (number | null)[] }[]
}

/**
 * `GET /api/v1/diff?service=&type=&baseFrom=&baseTo=&compFrom=&compTo=&baseQuery=&compQuery=`.
 * Two windows of one service and type: any times, and any selectors (e.g. two versions:
 * `baseQuery={service_version="1.4.1"}`, `compQuery={service_version="1.4.2"}`). When absent,
 * the comparison is the last 15 minutes and the baseline the window of the same length before it.
 */
export interface DiffQuery {
  service: string
  type: string
  baseFrom?: number
  baseTo?: number
  compFrom?: number
  compTo?: number
  baseQuery?: string
  compQuery?: string
  maxNodes?: number
  maxStacks?: number
  /** Length of each ranked list in `changes` (default 20). */
  limit?: number
  /** Rank `changes` by normalized share (default) or by absolute value. */
  rankBy?: 'share' | 'absolute'
}

/**
 * A node of the diff tree: the merged call tree of both windows, nested like {@link FlameNode}.
 * All four values are absolute, in the type's unit, for the path from the root to this node:
 * `baseTotal`/`compTotal` include descendants, `baseSelf`/`compSelf` do not. A node present in
 * one window only has zeros for the other. Per window, `total === self + sum(children.total)`
 * holds at every node; left-out children are folded into a child named {@link OTHER_NODE_NAME}.
 *
 * To normalize, divide by the window totals of the {@link DiffResponse}: the share of a node in
 * the baseline is `baseTotal / baseline.total` and its change of share is
 * `compTotal / comparison.total - baseTotal / baseline.total`. Normalized values compare windows
 * of different length or load; absolute values compare like with like (heap bytes in use).
 */
export interface DiffNode {
  name: string
  file?: string
  baseTotal: number
  baseSelf: number
  compTotal: number
  compSelf: number
  children: DiffNode[]
}

/** One side of a diff. */
export interface DiffWindow {
  from: number
  to: number
  /** The selector as applied, normalized (`{}` when none). */
  query: string
  /** Sum of every sample of the window: the root's value, "other" included. */
  total: number
  /** Number of distinct stacks in the window. */
  stacks: number
  /**
   * Collected instance-milliseconds: the summed length of the window's profiles (0 for gauges,
   * and when profiles do not say how long they lasted).
   */
  coverageMs: number
}

/**
 * A function's values in both windows. `self` counts samples where the function is the leaf;
 * `total` counts every stack the function appears in, once per stack even when it recurses.
 * `*Share` fields are `comp / comparison.total - base / baseline.total` (0 when a total is 0);
 * `*Delta` fields are `comp × comparisonScale - base`: absolute, with the comparison put at the
 * baseline's coverage, so the same load per collected instance-second is no change.
 */
export interface DiffFunction {
  name: string
  file?: string
  baseSelf: number
  compSelf: number
  baseTotal: number
  compTotal: number
  selfShare: number
  totalShare: number
  selfDelta: number
  totalDelta: number
}

/**
 * Functions that changed most, ranked by `rankBy` (`selfShare`/`totalShare` for `share`,
 * `selfDelta`/`totalDelta` for `absolute`). `grew` starts with the largest increase, `shrank`
 * with the largest decrease; functions that did not change in that measure are in neither.
 */
export interface DiffChanges {
  rankBy: 'share' | 'absolute'
  /** Per window, value of stacks the rankings could not read (beyond a million); absent: none. */
  leftOut?: [number, number]
  self: { grew: DiffFunction[]; shrank: DiffFunction[] }
  total: { grew: DiffFunction[]; shrank: DiffFunction[] }
}

export interface DiffResponse {
  service: string
  type: string
  unit: ProfileTypeInfo['unit']
  aggregation: Aggregation
  baseline: DiffWindow
  comparison: DiffWindow
  /**
   * `baseline.coverageMs / comparison.coverageMs` (1 when either is 0): what the comparison's
   * values are multiplied by in absolute deltas.
   */
  comparisonScale: number
  root: DiffNode
  changes: DiffChanges
}

/** `GET /api/v1/top?service=&type=&from=&to=&query=&sort=self|total&limit=` */
export interface TopQuery extends WindowQuery {
  sort?: 'self' | 'total'
  limit?: number
  maxStacks?: number
}

/**
 * A function of the top table. `self`: samples where it is the leaf; `total`: samples of every
 * stack it appears in, counted once per stack even under recursion.
 */
export interface TopFunction {
  name: string
  file?: string
  /** The smallest non-zero line seen for the function (its first line for Node profiles). */
  line?: number
  self: number
  total: number
}

export interface TopResponse {
  service: string
  type: string
  unit: ProfileTypeInfo['unit']
  aggregation: Aggregation
  from: number
  to: number
  query: string
  /** Sum of every sample in the window. */
  total: number
  stacks: number
  sort: 'self' | 'total'
  /** Self and total of each function over every stack of the window (exact). */
  functions: TopFunction[]
  /**
   * Value of the stacks the function table could not read (beyond a million distinct stacks):
   * absent when it read them all.
   */
  leftOut?: number
}

/**
 * `GET /api/v1/export/pprof?service=&type=&from=&to=&query=`: the window merged into one
 * gzipped pprof (`application/octet-stream`, `*.pb.gz`) with one sample type named after the
 * Kiln type and unit (e.g. `cpu/nanoseconds`). Gauge averages are rounded to integers.
 */
export type ExportPprofQuery = WindowQuery

/** Every 4xx/5xx body from the server. `code` is stable (`KILN_ERR_*`). */
export interface ErrorResponse {
  statusCode: number
  code: string
  error: string
  message: string
}
