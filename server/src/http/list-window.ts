import { KilnError } from '../errors.js'

const DEFAULT_LIST_WINDOW_MS = 24 * 60 * 60 * 1000

/** The window of a list route (alerts, findings): `to` defaults to now, `from` to a day before. */
export function resolveListWindow(q: { from?: number | undefined; to?: number | undefined }): {
  from: number
  to: number
} {
  const to = q.to ?? Date.now()
  const from = q.from ?? to - DEFAULT_LIST_WINDOW_MS
  if (from >= to) throw new KilnError('KILN_ERR_QUERY_INVALID', '`from` must be before `to`')
  return { from, to }
}
