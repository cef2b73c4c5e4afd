import type { ClickHouseClient } from '@clickhouse/client'
import type { FindingFunction } from '@kiln/wire'
import { hashId } from '../hooks/alert-mapping.js'
import { selectRows } from '../store/select-rows.js'
import type { DetectedFinding } from './finding-model.js'
import { linearFit } from './linear-fit.js'

export const HEAP_TYPE = 'heap_inuse_space'
/** Fewer points than this fit any line: no verdict. */
export const MIN_SNAPSHOTS = 5
/** Allocation sites named by a finding at most, fastest growing first. */
const MAX_SITES = 5
const HOUR_MS = 3_600_000

export interface HeapGrowthOptions {
  tenant: string
  service: string
  from: number
  to: number
  minR2: number
  minRatio: number
}

const WHERE = `tenant = {tenant:String} AND service = {service:String} AND type = '${HEAP_TYPE}'
  AND time >= fromUnixTimestamp64Milli({from:Int64}) AND time < fromUnixTimestamp64Milli({to:Int64})`

/**
 * The bucket size: the longest mean interval between a series' snapshots, so that every series
 * that keeps uploading has a snapshot in (nearly) every bucket.
 */
async function snapshotStep(
  client: ClickHouseClient,
  db: string,
  o: HeapGrowthOptions,
): Promise<number | undefined> {
  const rows = await selectRows<{ n: string; first: string; last: string }>(
    client,
    `SELECT uniqExact(time) AS n, toUnixTimestamp64Milli(min(time)) AS first,
        toUnixTimestamp64Milli(max(time)) AS last
      FROM ${db}.samples WHERE ${WHERE} GROUP BY series_id`,
    { ...o },
  )
  const intervals = rows
    .filter((r) => Number(r.n) >= 2)
    .map((r) => (Number(r.last) - Number(r.first)) / (Number(r.n) - 1))
  if (intervals.length === 0) return undefined
  return Math.max(1000, Math.ceil(Math.max(...intervals)))
}

/**
 * Heap in use of a service per bucket (aligned on multiples of `step`), by the gauge rule: each
 * series averaged over its snapshots in the bucket, then summed across series. A series missing
 * from a bucket between two it has (an upload late by a few seconds) keeps its previous value,
 * so one late upload does not read as a drop of the whole heap.
 */
async function bucketTotals(
  client: ClickHouseClient,
  db: string,
  o: HeapGrowthOptions,
  step: number,
): Promise<{
  totals: Map<number, number>
  means: Map<number, number>
  counts: Map<number, number>
}> {
  const rows = await selectRows<{ series_id: string; b: string; v: string | number }>(
    client,
    `SELECT toString(series_id) AS series_id,
        intDiv(toUnixTimestamp64Milli(time), {step:Int64}) * {step:Int64} AS b,
        sum(value) / uniqExact(time) AS v
      FROM ${db}.samples WHERE ${WHERE}
      GROUP BY series_id, b ORDER BY series_id, b`,
    { ...o, step },
  )
  const perSeries = new Map<string, Map<number, number>>()
  const buckets = new Set<number>()
  for (const r of rows) {
    const b = Number(r.b)
    buckets.add(b)
    let s = perSeries.get(r.series_id)
    if (!s) perSeries.set(r.series_id, (s = new Map()))
    s.set(b, Number(r.v))
  }
  const totals = new Map<number, number>()
  const counts = new Map<number, number>()
  const ordered = [...buckets].sort((x, y) => x - y)
  for (const series of perSeries.values()) {
    const own = [...series.keys()]
    const first = Math.min(...own)
    const last = Math.max(...own)
    let held = 0
    for (const b of ordered) {
      if (b < first || b > last) continue
      held = series.get(b) ?? held
      totals.set(b, (totals.get(b) ?? 0) + held)
      counts.set(b, (counts.get(b) ?? 0) + 1)
    }
  }
  const means = new Map([...totals].map(([b, total]) => [b, total / counts.get(b)!]))
  return { totals, means, counts }
}

/** Heap in use per allocation site (leaf frame, by name and file) per bucket, by the gauge rule. */
async function siteBuckets(
  client: ClickHouseClient,
  db: string,
  o: HeapGrowthOptions,
  step: number,
): Promise<Map<string, { name: string; file: string; values: Map<number, number> }>> {
  const rows = await selectRows<{ b: string; name: string; file: string; v: string | number }>(
    client,
    `SELECT x.b AS b, f.name AS name, f.file AS file, sum(x.v / y.n) AS v
      FROM (
        SELECT series_id, intDiv(toUnixTimestamp64Milli(time), {step:Int64}) * {step:Int64} AS b,
          stack_hash, sum(value) AS v
        FROM ${db}.samples WHERE ${WHERE} GROUP BY series_id, b, stack_hash
      ) AS x
      INNER JOIN (
        SELECT series_id, intDiv(toUnixTimestamp64Milli(time), {step:Int64}) * {step:Int64} AS b,
          uniqExact(time) AS n
        FROM ${db}.samples WHERE ${WHERE} GROUP BY series_id, b
      ) AS y ON x.series_id = y.series_id AND x.b = y.b
      INNER JOIN (
        SELECT stack_hash, arrayElement(any(functions), -1) AS name,
          arrayElement(any(files), -1) AS file
        FROM ${db}.stacks WHERE tenant = {tenant:String} AND service = {service:String}
        GROUP BY stack_hash
      ) AS f ON x.stack_hash = f.stack_hash
      GROUP BY b, name, file`,
    { ...o, step },
  )
  const sites = new Map<string, { name: string; file: string; values: Map<number, number> }>()
  for (const r of rows) {
    const key = `${r.name}\u0000${r.file}`
    let site = sites.get(key)
    if (!site) sites.set(key, (site = { name: r.name, file: r.file, values: new Map() }))
    site.values.set(Number(r.b), Number(r.v))
  }
  return sites
}

/**
 * Heap in use growing steadily over the window: a least-squares line through the heap of each
 * bucket (one bucket per snapshot interval) with a positive slope, a fit of at least `minR2`,
 * and growth over the window of at least `minRatio` of the fitted start. The verdict is on the
 * heap per series (instance): a rollout or a scale-out adds instances, and the service's total
 * heap then climbs without any leak. The snapshots must span a quarter of the window at least.
 * The finding's numbers are the service's total. The finding
 * names the allocation sites whose own fitted growth per instance is largest (in a rollout, the
 * sites of the new instances' whole heap appear and the old ones' vanish; per instance, only what
 * grows in each process grows), at the fleet's latest size. A sawtooth (a heap the GC brings
 * back down) fits a line poorly and is not reported; a flat heap has no slope.
 *
 * The id is (tenant, service, first bucket): the caller extends a stored finding whose window
 * reaches this one's start instead of reporting the same growth again.
 */
export async function detectHeapGrowth(
  client: ClickHouseClient,
  db: string,
  o: HeapGrowthOptions,
): Promise<DetectedFinding | undefined> {
  const step = await snapshotStep(client, db, o)
  if (step === undefined) return undefined
  const { totals, means, counts } = await bucketTotals(client, db, o, step)
  const buckets = [...totals.keys()].sort((x, y) => x - y)
  if (buckets.length < MIN_SNAPSHOTS) return undefined
  if (buckets[buckets.length - 1]! + step - buckets[0]! < (o.to - o.from) / 4) return undefined
  // Points at bucket middles: a snapshot anywhere in a bucket stands for its middle.
  const xs = buckets.map((b) => b + step / 2)
  const firstX = xs[0]!
  const lastX = xs[xs.length - 1]!
  const perInstance = linearFit(
    xs,
    buckets.map((b) => means.get(b)!),
  )
  const instanceStart = perInstance.intercept + perInstance.slope * firstX
  const instanceGrowth = perInstance.slope * (lastX - firstX)
  const ratio =
    instanceStart > 0 ? instanceGrowth / instanceStart : instanceGrowth > 0 ? Infinity : 0
  if (perInstance.slope <= 0 || perInstance.r2 < o.minR2 || ratio < o.minRatio) return undefined
  const ys = buckets.map((b) => totals.get(b)!)
  const fit = linearFit(xs, ys)
  const growth = fit.slope * (lastX - firstX)

  const firstBucket = buckets[0]!
  const lastBucket = buckets[buckets.length - 1]!
  const sites = await siteBuckets(client, db, o, step)
  const instancesNow = counts.get(lastBucket)!
  const functions: FindingFunction[] = [...sites.values()]
    .map((site) => {
      const perInstanceFit = linearFit(
        xs,
        buckets.map((b) => (site.values.get(b) ?? 0) / counts.get(b)!),
      )
      return {
        name: site.name,
        file: site.file,
        base: site.values.get(firstBucket) ?? 0,
        comp: site.values.get(lastBucket) ?? 0,
        growthPerHour: perInstanceFit.slope * instancesNow * HOUR_MS,
      }
    })
    .filter((f) => f.growthPerHour > 0)
    .sort((a, b) => b.growthPerHour - a.growthPerHour || (a.name < b.name ? -1 : 1))
    .slice(0, MAX_SITES)

  const endBytes = ys[ys.length - 1]!
  const startBytes = ys[0]!
  const sitesText = functions.map((f) => f.name).join(', ')
  return {
    id: hashId(o.tenant, 'heap_growth', o.service, String(firstBucket)),
    tenant: o.tenant,
    service: o.service,
    kind: 'heap_growth',
    type: HEAP_TYPE,
    title:
      `${o.service}: heap in use grew ${formatBytes(growth)}${growthPercent(ratio)} ` +
      `in ${formatDuration(lastX - firstX)}, R² ${perInstance.r2.toFixed(2)}` +
      (sitesText ? `; growing: ${sitesText}` : ''),
    time: firstBucket,
    window: { from: lastBucket, to: lastBucket + step },
    baseline: { from: firstBucket, to: firstBucket + step },
    baseQuery: '',
    compQuery: '',
    functions,
    stats: {
      slopeBytesPerSecond: fit.slope * 1000,
      r2: perInstance.r2,
      growthRatio: ratio,
      startBytes,
      endBytes,
      snapshots: buckets.length,
      stepMs: step,
    },
  }
}

/** ` (+35%)`; nothing when it started from nothing, where a percentage means nothing. */
function growthPercent(ratio: number): string {
  return Number.isFinite(ratio) ? ` (${(ratio * 100).toFixed(0)}%)` : ' (from nothing)'
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = bytes
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
}

function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000)
  return minutes < 120 ? `${minutes} min` : `${(minutes / 60).toFixed(1)} h`
}
