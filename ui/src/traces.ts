import { TRACE_ID_PATTERN, type TraceSummary } from '@kiln/wire'
import { HOUR_MS, MINUTE_MS, roundWindow, type TimeWindow } from './time-window'

/*
 * The trace view's inputs, as tracing UIs write them into links (Jaeger, Grafana Tempo): trace ids
 * and times in whatever form those tools print, read into the ids and Unix ms the API takes.
 */

/** A link without times shows this much before now. */
export const DEFAULT_TRACE_LOOKBACK_MS = HOUR_MS

/**
 * A trace's samples carry the start time of the profile that holds them, which can be up to one
 * profile's length before the span began: 10 s by default, up to the agent's longest upload
 * interval (10 min) on some schedules. A link's window is widened by that much before it, and by
 * a minute after it for clock skew between the traced host and the tracing UI.
 */
export const TRACE_WINDOW_PAD_BEFORE_MS = 10 * MINUTE_MS
export const TRACE_WINDOW_PAD_AFTER_MS = MINUTE_MS

/** Trace ids per link the server takes (`traceId=a,b,...`). */
export const MAX_TRACE_IDS = 100

const TRACE_ID = new RegExp(TRACE_ID_PATTERN)

/**
 * One trace id as the server stores it: lowercase, and 32 digits when it is a 128-bit id whose
 * leading zeros were dropped (Jaeger prints `%x%016x` of its two halves, so a trace whose first
 * digit is 0 appears with 31). Ids of 16 digits or fewer (64-bit ids) are left as they are.
 */
export function normalizeTraceId(id: string): string {
  const lower = id.trim().toLowerCase()
  return lower.length > 16 && lower.length < 32 ? lower.padStart(32, '0') : lower
}

/** `a,b,...` normalized, empty entries dropped; `null` when one is not a hex id or too many. */
export function parseTraceIds(list: string): string[] | null {
  const ids = list
    .split(',')
    .map(normalizeTraceId)
    .filter((id) => id !== '')
  if (ids.length === 0 || ids.length > MAX_TRACE_IDS) return null
  return ids.every((id) => TRACE_ID.test(id)) ? [...new Set(ids)] : null
}

/**
 * A time parameter of a link in Unix ms. Grafana writes milliseconds; Jaeger's link patterns
 * (`#{startTime}`, `#{endTime}`) microseconds, and some tools nanoseconds: told apart by size
 * (1e14 ms is the year 5138). `null` when it is not a non-negative integer.
 */
export function linkTimeMs(raw: string | null, round: 'down' | 'up'): number | null {
  if (raw === null || !/^\d{1,19}$/.test(raw)) return null
  const n = Number(raw)
  const divisor = n >= 1e17 ? 1e6 : n >= 1e14 ? 1e3 : 1
  return round === 'down' ? Math.floor(n / divisor) : Math.ceil(n / divisor)
}

/** What the trace view reads: the link's window widened, or the last hour when it names none. */
export interface TraceQueryWindow {
  window: TimeWindow
  /** The link named no window: the view says it shows the last hour. */
  defaulted: boolean
}

export function traceQueryWindow(linked: TimeWindow | null, now: number): TraceQueryWindow {
  if (linked === null) {
    return {
      window: roundWindow({ from: now - DEFAULT_TRACE_LOOKBACK_MS, to: now }),
      defaulted: true,
    }
  }
  const padded = {
    from: linked.from - TRACE_WINDOW_PAD_BEFORE_MS,
    to: linked.to + TRACE_WINDOW_PAD_AFTER_MS,
  }
  return { window: roundWindow(padded), defaulted: false }
}

/** The window of a trace the server listed: from its first sample to just after its last. */
export function traceSampleWindow(trace: Pick<TraceSummary, 'first' | 'last'>): TimeWindow {
  return { from: trace.first, to: trace.last + 1 }
}

/** `0af7651916cd43dd8448eb211c80319c` -> `0af76519…80319c`, for tight places; full in titles. */
export function shortTraceId(id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}
