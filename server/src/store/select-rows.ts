import type { ClickHouseClient } from '@clickhouse/client'
import { KilnError } from '../errors.js'
import { wrapStoreError } from './store-errors.js'

/** Run a parameterized SELECT and return its rows; store errors become a {@link KilnError}. */
export async function selectRows<T>(
  client: ClickHouseClient,
  query: string,
  params: Record<string, unknown>,
): Promise<T[]> {
  try {
    const result = await client.query({ query, query_params: params, format: 'JSONEachRow' })
    return await result.json<T>()
  } catch (error) {
    throw wrapQueryError(error)
  }
}

/**
 * Wrap a store error of a query, keeping the cause. The store compiles a selector's regular
 * expressions (RE2), so their syntax errors arrive here, e.g. `Code: 427. DB::Exception:
 * OptimizedRegularExpression: cannot compile re2: ^(?:pr(.*)$, error: missing ): ^(?:pr(.*)$.
 * Look at https://github.com/google/re2/wiki/Syntax ... (CANNOT_COMPILE_REGEXP)`: that is the
 * client's mistake, a 400. Everything else is the store's (see `wrapStoreError`). chDB bundles
 * its own copy of `ClickHouseError`, so the error is recognized by its `type`, not its class.
 */
export function wrapQueryError(error: unknown): KilnError {
  if ((error as { type?: unknown } | null)?.type === 'CANNOT_COMPILE_REGEXP') {
    const message = error instanceof Error ? error.message : String(error)
    const detail = message.replace(/^OptimizedRegularExpression: /, '').split('. Look at')[0]!
    return new KilnError('KILN_ERR_QUERY_INVALID', `selector regex: ${detail}`, { cause: error })
  }
  return wrapStoreError(error)
}
