import { VERSION_LABELS, type VersionSummary } from '@kiln/wire'
import { combineSelectors } from './label-selector'
import { DAY_MS, previousWindow, shiftWindow, type TimeWindow } from './time-window'
import { defaultDiffState, type DiffState } from './url-state'

/*
 * The comparisons the UI offers in one click. A deploy is compared by version *and* time: the
 * baseline is the previous version in the window just before the new version was first seen,
 * the comparison the new version in the window just after, each narrowed by its version label.
 * Time alone would mix both versions during a rolling deploy (old instances keep reporting after
 * the first new one starts); versions alone (their whole lifetimes) would compare different
 * hours of the day and could span days. Both windows have the length of the window on screen,
 * shortened where a version lived less long.
 */

/** Two windows and their selectors: what a diff link names. */
export interface Comparison {
  baseline: TimeWindow
  comparison: TimeWindow
  baseQuery?: string
  compQuery?: string
}

/** A version change inside a window: the new version, the one before, and when it was first seen. */
export interface DeployMarker {
  version: string
  previous: string
  at: number
}

/** Longest window a version-against-version comparison reads of each version. */
export const VERSION_WINDOW_MAX_MS = DAY_MS

/** The label that carries versions in a service's series: `service_version` unless only `version` does. */
export function versionLabel(labelNames: readonly string[]): string {
  return VERSION_LABELS.find((label) => labelNames.includes(label)) ?? VERSION_LABELS[0]
}

/** `{service_version="1.4.2"}`, the value escaped as PromQL (and JSON) strings are. */
export function versionSelector(label: string, version: string): string {
  return `{${label}=${JSON.stringify(version)}}`
}

/** Versions with a name, oldest first. */
function namedVersions(versions: readonly VersionSummary[]): VersionSummary[] {
  return versions.filter((v) => v.version !== '').sort((a, b) => a.firstSeen - b.firstSeen)
}

/** The deploys (first sightings of a version after another) inside `window`. */
export function deployMarkers(
  versions: readonly VersionSummary[],
  window: TimeWindow,
): DeployMarker[] {
  const ordered = namedVersions(versions)
  return ordered.flatMap((v, i) => {
    const previous = ordered[i - 1]
    if (previous === undefined || v.firstSeen < window.from || v.firstSeen >= window.to) return []
    return [{ version: v.version, previous: previous.version, at: v.firstSeen }]
  })
}

/** `[first profile, end of the last profile)` of a version, never empty. */
function lifetime(v: VersionSummary): TimeWindow {
  return { from: v.firstSeen, to: Math.max(v.lastSeen, v.firstSeen + 1) }
}

/** Before/after the deploy of `version`: see the comment at the top. `null` for the first version. */
export function deployComparison(
  versions: readonly VersionSummary[],
  version: string,
  lengthMs: number,
  label: string,
  query = '',
): Comparison | null {
  const ordered = namedVersions(versions)
  const index = ordered.findIndex((v) => v.version === version)
  const current = ordered[index]
  const previous = ordered[index - 1]
  if (current === undefined || previous === undefined) return null
  const at = current.firstSeen
  const comparison = { from: at, to: Math.min(at + lengthMs, lifetime(current).to) }
  const start = Math.max(at - lengthMs, previous.firstSeen)
  const baseline = start < at ? { from: start, to: at } : { from: at - lengthMs, to: at }
  return {
    baseline,
    comparison,
    baseQuery: combineSelectors(query, versionSelector(label, previous.version)),
    compQuery: combineSelectors(query, versionSelector(label, current.version)),
  }
}

/** `window` against the same window `shiftMs` earlier, or against the window just before it. */
export function shiftedComparison(
  window: TimeWindow,
  shift: number | 'previous',
  query = '',
): Comparison {
  const baseline = shift === 'previous' ? previousWindow(window) : shiftWindow(window, -shift)
  return {
    baseline,
    comparison: window,
    ...(query !== '' ? { baseQuery: query, compQuery: query } : {}),
  }
}

/** Version `base` against version `comp`: each over its last day at most, by its label. */
export function versionsComparison(
  versions: readonly VersionSummary[],
  base: string,
  comp: string,
  label: string,
  query = '',
): Comparison | null {
  const find = (name: string) => versions.find((v) => v.version === name)
  const a = find(base)
  const b = find(comp)
  if (a === undefined || b === undefined) return null
  const recent = (v: VersionSummary): TimeWindow => {
    const { from, to } = lifetime(v)
    return { from: Math.max(from, to - VERSION_WINDOW_MAX_MS), to }
  }
  return {
    baseline: recent(a),
    comparison: recent(b),
    baseQuery: combineSelectors(query, versionSelector(label, a.version)),
    compQuery: combineSelectors(query, versionSelector(label, b.version)),
  }
}

/** The compare view of a comparison. */
export function comparisonState(
  comparison: Comparison,
  common: { service: string; type: string },
): DiffState {
  return defaultDiffState(common, {
    baseFrom: comparison.baseline.from,
    baseTo: comparison.baseline.to,
    compFrom: comparison.comparison.from,
    compTo: comparison.comparison.to,
    baseQuery: comparison.baseQuery ?? '',
    compQuery: comparison.compQuery ?? '',
  })
}

/** Length of each window when a diff link names no times (the server's default too). */
export const DEFAULT_DIFF_WINDOW_MS = 15 * 60_000

/**
 * The two windows of a compare view, with missing times filled in as the server fills them: the
 * comparison ends now and lasts 15 minutes, the baseline ends where the comparison starts and
 * lasts as long.
 */
export function resolveDiffWindows(
  state: Pick<DiffState, 'baseFrom' | 'baseTo' | 'compFrom' | 'compTo'>,
  nowMs: number,
): { baseline: TimeWindow; comparison: TimeWindow } {
  const compTo = state.compTo ?? nowMs
  const compFrom = state.compFrom ?? compTo - DEFAULT_DIFF_WINDOW_MS
  const baseTo = state.baseTo ?? compFrom
  const baseFrom = state.baseFrom ?? baseTo - (compTo - compFrom)
  return { baseline: { from: baseFrom, to: baseTo }, comparison: { from: compFrom, to: compTo } }
}

/** Whether a compare view names all four times (then it never changes and needs no refresh). */
export function isFixedDiff(
  state: Pick<DiffState, 'baseFrom' | 'baseTo' | 'compFrom' | 'compTo'>,
): boolean {
  return [state.baseFrom, state.baseTo, state.compFrom, state.compTo].every((t) => t !== null)
}
