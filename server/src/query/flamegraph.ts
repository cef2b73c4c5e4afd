import type { ClickHouseClient } from '@clickhouse/client'
import { PROFILE_TYPES, type FlamegraphResponse } from '@kiln/wire'
import { buildTree, type StackValue } from './build-tree.js'
import { stackValuesSql, type WindowParams } from './window-sql.js'

export interface FlamegraphOptions extends WindowParams {
  /** How many of the heaviest stacks are fetched; the rest fold into "other". */
  maxStacks: number
}

/**
 * Flame graph of a window: SQL aggregates values per stack and returns the heaviest ones with
 * the window's total; a second, primary-key lookup fetches their frames; the tree is built here.
 */
export async function queryFlamegraph(
  client: ClickHouseClient,
  db: string,
  options: FlamegraphOptions,
): Promise<FlamegraphResponse> {
  const { maxStacks, ...window } = options
  const top = await client.query({
    query: `SELECT toString(stack_hash) AS stack_hash, v, sum(v) OVER () AS total, count() OVER () AS stacks
      FROM (${stackValuesSql(db, window.type)})
      ORDER BY v DESC, stack_hash LIMIT {limit:UInt32}`,
    query_params: { ...window, limit: maxStacks },
    format: 'JSONEachRow',
  })
  const rows = await top.json<{
    stack_hash: string
    v: number | string
    total: number | string
    stacks: string
  }>()
  const total = rows.length > 0 ? Number(rows[0]!.total) : 0
  const stackCount = rows.length > 0 ? Number(rows[0]!.stacks) : 0

  const frames = new Map<string, { functions: string[]; files: string[] }>()
  if (rows.length > 0) {
    const result = await client.query({
      query: `SELECT toString(stack_hash) AS stack_hash, any(functions) AS functions, any(files) AS files
        FROM ${db}.stacks
        WHERE tenant = {tenant:String} AND service = {service:String} AND stack_hash IN {hashes:Array(UInt64)}
        GROUP BY stack_hash`,
      query_params: {
        tenant: window.tenant,
        service: window.service,
        hashes: rows.map((r) => BigInt(r.stack_hash)),
      },
      format: 'JSONEachRow',
    })
    for (const row of await result.json<{
      stack_hash: string
      functions: string[]
      files: string[]
    }>()) {
      frames.set(row.stack_hash, row)
    }
  }

  const stacks: StackValue[] = []
  let fetched = 0
  for (const row of rows) {
    const f = frames.get(row.stack_hash)
    const value = Number(row.v)
    if (!f) continue // a stack row lost to TTL: its value stays in "other"
    stacks.push({ functions: f.functions, files: f.files, value })
    fetched += value
  }
  const info = PROFILE_TYPES[window.type]
  return {
    service: window.service,
    type: window.type,
    unit: info.unit,
    aggregation: info.aggregation,
    from: window.from,
    to: window.to,
    total,
    stacks: stackCount,
    root: buildTree(stacks, Math.max(0, total - fetched)),
  }
}
