import { DEFAULT_TIME_RANGE, isTimeRangeKey, type TimeRangeKey } from './time-range'

/** What the page shows; kept in the query string so a link reopens the same view. */
export interface ViewState {
  /** `null` until chosen: the page then picks the first service. */
  service: string | null
  /** `null` until chosen: the page then picks `cpu`, or the service's first type. */
  type: string | null
  range: TimeRangeKey
}

/** Read `?service=&type=&range=`; missing or unknown values fall back to defaults. */
export function parseViewState(search: string): ViewState {
  const params = new URLSearchParams(search)
  const range = params.get('range') ?? ''
  return {
    service: params.get('service') || null,
    type: params.get('type') || null,
    range: isTimeRangeKey(range) ? range : DEFAULT_TIME_RANGE,
  }
}

/** The query string (with its `?`) for a view; unset fields are left out. */
export function formatViewState(state: ViewState): string {
  const params = new URLSearchParams()
  if (state.service !== null) params.set('service', state.service)
  if (state.type !== null) params.set('type', state.type)
  params.set('range', state.range)
  return `?${params.toString()}`
}
