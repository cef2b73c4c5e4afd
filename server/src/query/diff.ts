import type { ClickHouseClient } from '@clickhouse/client'
import {
  PROFILE_TYPES,
  type DiffChanges,
  type DiffFunction,
  type DiffResponse,
  type DiffWindow,
} from '@kiln/wire'
import { buildDiffTree } from './build-tree.js'
import { coverageScale, queryCoverage } from './coverage.js'
import { compareFunctions, functionTable, type FunctionValues } from './function-table.js'
import { formatSelector } from './selector.js'
import { queryStacksAndAll } from './stack-query.js'
import type { QueryWindow } from './window-sql.js'

export interface DiffOptions {
  /** Both windows are of one tenant, service and type. */
  baseline: QueryWindow
  comparison: QueryWindow
  maxStacks: number
  maxNodes: number
  /** Length of each ranked list. */
  limit: number
  rankBy: 'share' | 'absolute'
}

/** Shares are differences of ratios: below this they are rounding, not change. */
const SHARE_EPSILON = 1e-12

/**
 * Diff of two windows: one SQL statement aggregates both per stack (joined by stack hash, so each
 * stack has its exact value in both), then the merged tree and the function rankings are built
 * from the stacks with the largest share of either window.
 */
export async function queryDiff(
  client: ClickHouseClient,
  db: string,
  options: DiffOptions,
): Promise<DiffResponse> {
  const { baseline, comparison, maxStacks, maxNodes, limit, rankBy } = options
  // The tree from the `maxStacks` heaviest stacks (it folds to `maxNodes` anyway); the ranked
  // functions from every stack, so their values are exact however many stacks there are.
  const [{ tree: set, all }, coverage] = await Promise.all([
    queryStacksAndAll(client, db, [baseline, comparison], maxStacks),
    queryCoverage(client, db, [baseline, comparison]),
  ])
  const totals = [set.totals[0]!, set.totals[1]!] as const
  const root = buildDiffTree(set.stacks, totals, [set.remainders[0]!, set.remainders[1]!], maxNodes)
  const scale = coverageScale(coverage[0]!, coverage[1]!)
  const functions = functionTable(all.stacks, 2).map((f) => diffFunction(f, totals, scale))
  const info = PROFILE_TYPES[baseline.type]
  const side = (w: QueryWindow, i: 0 | 1): DiffWindow => ({
    from: w.from,
    to: w.to,
    query: formatSelector(w.selector),
    total: set.totals[i]!,
    stacks: set.stackCounts[i]!,
    coverageMs: coverage[i]!,
  })
  return {
    service: baseline.service,
    type: baseline.type,
    unit: info.unit,
    aggregation: info.aggregation,
    baseline: side(baseline, 0),
    comparison: side(comparison, 1),
    comparisonScale: scale,
    root,
    changes: {
      ...rankChanges(functions, rankBy, limit),
      ...(all.remainders.some((r) => r !== 0)
        ? { leftOut: [all.remainders[0]!, all.remainders[1]!] as [number, number] }
        : {}),
    },
  }
}

/**
 * A function's values in both windows. Deltas compare the comparison at the baseline's coverage
 * (`scale`, coverage.ts): the same load per instance-second is no change, however many
 * instance-seconds each window collected.
 */
function diffFunction(
  f: FunctionValues,
  totals: readonly [number, number],
  scale: number,
): DiffFunction {
  const share = (v: number, t: number): number => (t > 0 ? v / t : 0)
  const [baseSelf, compSelf] = [f.self[0]!, f.self[1]!]
  const [baseTotal, compTotal] = [f.total[0]!, f.total[1]!]
  return {
    name: f.name,
    ...(f.file ? { file: f.file } : {}),
    baseSelf,
    compSelf,
    baseTotal,
    compTotal,
    selfShare: share(compSelf, totals[1]) - share(baseSelf, totals[0]),
    totalShare: share(compTotal, totals[1]) - share(baseTotal, totals[0]),
    selfDelta: compSelf * scale - baseSelf,
    totalDelta: compTotal * scale - baseTotal,
  }
}

/** The `limit` functions that grew and shrank most, by self and by total. */
export function rankChanges(
  functions: readonly DiffFunction[],
  rankBy: 'share' | 'absolute',
  limit: number,
): DiffChanges {
  const rank = (key: 'selfShare' | 'totalShare' | 'selfDelta' | 'totalDelta') => {
    const epsilon = rankBy === 'share' ? SHARE_EPSILON : 0
    const tie = (a: DiffFunction, b: DiffFunction): number =>
      compareFunctions(withFile(a), withFile(b))
    const grew = functions
      .filter((f) => f[key] > epsilon)
      .sort((a, b) => b[key] - a[key] || tie(a, b))
    const shrank = functions
      .filter((f) => f[key] < -epsilon)
      .sort((a, b) => a[key] - b[key] || tie(a, b))
    return { grew: grew.slice(0, limit), shrank: shrank.slice(0, limit) }
  }
  return rankBy === 'share'
    ? { rankBy, self: rank('selfShare'), total: rank('totalShare') }
    : { rankBy, self: rank('selfDelta'), total: rank('totalDelta') }
}

function withFile(f: DiffFunction): { name: string; file: string } {
  return { name: f.name, file: f.file ?? '' }
}
