import type { ClickHouseClient } from '@clickhouse/client'
import { type TopFunction, type TopResponse } from '@kiln/wire'
import { compareFunctions, functionTable } from './function-table.js'
import { queryStacksAndAll } from './stack-query.js'
import { windowHeader } from './window-header.js'
import type { QueryWindow } from './window-sql.js'

export interface TopOptions extends QueryWindow {
  sort: 'self' | 'total'
  limit: number
  maxStacks: number
}

/** The functions of a window with their self and total, heaviest first by `sort`. */
export async function queryTop(
  client: ClickHouseClient,
  db: string,
  options: TopOptions,
): Promise<TopResponse> {
  const { sort, limit, maxStacks, ...window } = options
  // Every stack, not only the `maxStacks` heaviest: a function's self and total are exact.
  const { all: set } = await queryStacksAndAll(client, db, [window], maxStacks)
  const other = sort === 'self' ? 'total' : 'self'
  const functions = functionTable(set.stacks, 1)
    .sort(
      (a, b) => b[sort][0]! - a[sort][0]! || b[other][0]! - a[other][0]! || compareFunctions(a, b),
    )
    .slice(0, limit)
    .map((f): TopFunction => {
      const out: TopFunction = { name: f.name, self: f.self[0]!, total: f.total[0]! }
      if (f.file) out.file = f.file
      if (f.line > 0) out.line = f.line
      return out
    })
  return {
    ...windowHeader(window),
    total: set.totals[0]!,
    stacks: set.stackCounts[0]!,
    sort,
    functions,
    ...(set.remainders[0]! !== 0 ? { leftOut: set.remainders[0]! } : {}),
  }
}
