import type { ClickHouseClient } from '@clickhouse/client'
import { type FlamegraphResponse } from '@kiln/wire'
import { buildTree } from './build-tree.js'
import { queryStacks } from './stack-query.js'
import { windowHeader } from './window-header.js'
import type { QueryWindow } from './window-sql.js'

export interface FlamegraphOptions extends QueryWindow {
  /** How many of the heaviest stacks are fetched; the rest fold into "other". */
  maxStacks: number
  /** Largest number of nodes in the tree, "other" nodes included. */
  maxNodes: number
}

/**
 * Flame graph of a window: SQL aggregates values per stack and returns the heaviest ones with
 * the window's total; a second, primary-key lookup fetches their frames; the tree is built and
 * truncated here.
 */
export async function queryFlamegraph(
  client: ClickHouseClient,
  db: string,
  options: FlamegraphOptions,
): Promise<FlamegraphResponse> {
  const { maxStacks, maxNodes, ...window } = options
  const set = await queryStacks(client, db, [window], maxStacks)
  return {
    ...windowHeader(window),
    total: set.totals[0]!,
    stacks: set.stackCounts[0]!,
    root: buildTree(
      set.stacks.map((s) => ({ functions: s.functions, files: s.files, value: s.values[0]! })),
      set.remainders[0]!,
      maxNodes,
    ),
  }
}
