// Kiln's collection windows as the bench sees them. Under a schedule the agent collects in one
// window of `windowMs` out of every `period` (agent/README.md, "When the agent collects"), so a
// measured phase represents the duty cycle fairly only when it lasts a whole number of periods:
// any stretch of k periods holds exactly k windows' worth of collecting time, k profiler starts
// and k collections, wherever it begins. This file says how long that is, where the windows
// fell, and what the requests inside and outside them met.
import { schedulePeriod, scheduleSlot } from '@kiln/wire'
import { spread } from './stats.mjs'

/** The Kiln server's schedule defaults (server/src/config/config-schema.ts). */
export const SCHEDULE_DEFAULTS = {
  windowMs: 10_000,
  concurrent: 1,
  maxShare: 0.125,
  minShare: 1 / 60,
}

/**
 * The plan the Kiln server gives an instance alone in its service, as each of the bench's is:
 * period 1 / maxShare (8 at the defaults), slot 0.
 */
export function lonePlan({ windowMs, maxShare }) {
  const period = schedulePeriod(1, { ...SCHEDULE_DEFAULTS, maxShare })
  return { windowMs, period, slot: scheduleSlot(0, 1, period), periodMs: period * windowMs }
}

/** The plan's windows that touch [fromMs - edgeMs, untilMs) (Unix ms), in order. */
export function planWindows(plan, fromMs, untilMs, edgeMs = 0) {
  const out = []
  for (let k = Math.floor(fromMs / plan.periodMs) - 1; k * plan.periodMs < untilMs; k++) {
    const start = k * plan.periodMs + plan.slot * plan.windowMs
    if (start + plan.windowMs + edgeMs > fromMs && start < untilMs) {
      out.push({ fromMs: start, untilMs: start + plan.windowMs })
    }
  }
  return out
}

/**
 * The windows a Kiln agent uploaded profiles of (its `from`/`until`, Unix ms), for `service`,
 * that touch [fromMs, untilMs): what it really collected, a window joined part way or cut
 * short by `stop()` included.
 */
export function uploadedWindows(uploads, service, fromMs, untilMs) {
  const seen = new Map()
  for (const u of uploads) {
    if (u.service !== service || u.spyName !== 'kiln-nodejs') continue
    if (u.until > fromMs && u.from < untilMs) {
      seen.set(`${u.from}-${u.until}`, { fromMs: u.from, untilMs: u.until })
    }
  }
  return [...seen.values()].sort((a, b) => a.fromMs - b.fromMs)
}

/**
 * The parts of time around a window: `open`, its first `edgeMs` (the time profiler starts:
 * V8 registers every compiled function with the new profiler); `inside`, the rest of it
 * (sampling); `close`, the `edgeMs` after it (stop, serialize, heap snapshot, gzip, upload);
 * `outside`, everything else (heap sampling only).
 */
export const SEGMENTS = ['open', 'inside', 'close', 'outside']

/** Default edge: 1 s, or a fifth of a shorter window. */
export const edgeMsFor = (windowMs) => Math.min(1000, windowMs / 5)

function segmentOf(t, windows, edgeMs) {
  for (const w of windows) {
    if (t < w.fromMs || t >= w.untilMs + edgeMs) continue
    if (t >= w.untilMs) return 'close'
    return t < w.fromMs + edgeMs ? 'open' : 'inside'
  }
  return 'outside'
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

/** p50, p99, p99.9 and max of a list of latencies (ms). */
export function latencySummary(latencies) {
  const sorted = Float64Array.from(latencies).sort()
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
  }
}

/**
 * Split one measured phase by window segment. `samples` is load.mjs's: `t0` (Unix ms) and, per
 * request, `t` (ms after t0: when it completed under saturation, when it was due when paced)
 * and `ms` (its latency). Each segment gets the seconds of the phase it covered, its requests,
 * their rate and latency percentiles; `latencies` (not for the JSON file) lets rounds be pooled.
 * `byOffset` counts the same requests by how many windows of the plan have passed since its
 * last collecting window opened (0: in it, 1: the next window, ...): a cost that lingers
 * after a window shows there.
 */
export function splitPhase(samples, windows, edgeMs, plan) {
  const fromMs = samples.t0
  const untilMs = samples.t0 + samples.spanMs
  const overlap = (a, b) => Math.max(0, Math.min(b, untilMs) - Math.max(a, fromMs)) / 1000
  const seconds = { open: 0, inside: 0, close: 0 }
  for (const w of windows) {
    seconds.open += overlap(w.fromMs, Math.min(w.untilMs, w.fromMs + edgeMs))
    seconds.inside += overlap(w.fromMs + edgeMs, w.untilMs)
    seconds.close += overlap(w.untilMs, w.untilMs + edgeMs)
  }
  seconds.outside = samples.spanMs / 1000 - seconds.open - seconds.inside - seconds.close
  const latencies = Object.fromEntries(SEGMENTS.map((s) => [s, []]))
  for (let i = 0; i < samples.t.length; i++) {
    latencies[segmentOf(fromMs + samples.t[i], windows, edgeMs)].push(samples.ms[i])
  }
  const byOffset = Array.from({ length: plan.period }, () => ({ seconds: 0, requests: 0 }))
  const first = Math.floor(fromMs / plan.periodMs) - 1
  for (let k = first; k * plan.periodMs < untilMs; k++) {
    for (let b = 0; b < plan.period; b++) {
      const start = k * plan.periodMs + (plan.slot + b) * plan.windowMs
      byOffset[b].seconds += overlap(start, start + plan.windowMs)
    }
  }
  for (const t of samples.t) {
    const since = mod(fromMs + t - plan.slot * plan.windowMs, plan.periodMs)
    byOffset[Math.floor(since / plan.windowMs)].requests++
  }
  for (const b of byOffset) b.rps = b.seconds > 0 ? b.requests / b.seconds : Number.NaN
  const segments = {}
  for (const s of SEGMENTS) {
    const requests = latencies[s].length
    segments[s] = {
      seconds: seconds[s],
      requests,
      rps: seconds[s] > 0 ? requests / seconds[s] : Number.NaN,
      ...latencySummary(latencies[s]),
    }
  }
  return { windows, windowMs: plan.windowMs, edgeMs, segments, byOffset, latencies }
}

const mod = (a, n) => ((a % n) + n) % n

/**
 * Per variant and segment, over rounds: the segment's request rate divided by `none`'s rate
 * over its whole phase in the same round (under saturation: what the segment did to
 * throughput), and `window` for open + inside + close together.
 */
export function summarizeSplits(slices, variants, phaseName) {
  const rounds = new Map()
  for (const s of slices) {
    if (!rounds.has(s.round)) rounds.set(s.round, {})
    rounds.get(s.round)[s.variant] = s
  }
  const out = {}
  for (const variant of variants) {
    if (variant === 'none') continue
    const ratios = Object.fromEntries([...SEGMENTS, 'window'].map((s) => [s, []]))
    const offsets = []
    const seconds = Object.fromEntries([...SEGMENTS, 'window'].map((s) => [s, 0]))
    for (const r of rounds.values()) {
      const split = r[variant]?.phases[phaseName]?.split
      const base = r.none?.phases[phaseName]
      if (!split || !base) continue
      const seg = split.segments
      const inWindow = ['open', 'inside', 'close']
      const windowSeconds = inWindow.reduce((a, s) => a + seg[s].seconds, 0)
      const windowRequests = inWindow.reduce((a, s) => a + seg[s].requests, 0)
      for (const s of SEGMENTS) {
        seconds[s] += seg[s].seconds
        if (seg[s].seconds > 0) ratios[s].push(seg[s].rps / base.rps)
      }
      seconds.window += windowSeconds
      if (windowSeconds > 0) ratios.window.push(windowRequests / windowSeconds / base.rps)
      split.byOffset?.forEach((b, i) => {
        offsets[i] ??= []
        // Only stretches of a (nearly) whole window: a second's rate says little.
        if (b.seconds >= (0.9 * split.windowMs) / 1000) {
          offsets[i].push(b.rps / base.rps)
        }
      })
    }
    out[variant] = Object.fromEntries(
      Object.entries(ratios).map(([s, xs]) => [s, { seconds: seconds[s], rpsRatio: spread(xs) }]),
    )
    out[variant].byOffset = offsets.map((xs) => spread(xs))
  }
  return out
}
