import { PROFILE_TYPES } from '@kiln/wire'
import { formatSelector } from './selector.js'
import type { QueryWindow } from './window-sql.js'

/**
 * The fields every single-window response opens with (flame graph, top, timeline): what was
 * asked, the type's unit and aggregation, and the selector in canonical form.
 */
export function windowHeader(window: QueryWindow) {
  const info = PROFILE_TYPES[window.type]
  return {
    service: window.service,
    type: window.type,
    unit: info.unit,
    aggregation: info.aggregation,
    from: window.from,
    to: window.to,
    query: formatSelector(window.selector),
  }
}
