import type { ColorBy } from './package-colors'
import { DEFAULT_TIME_RANGE, isTimeRangeKey, type TimeRangeKey } from './time-range'
import type { TimeWindow } from './time-window'
import { linkTimeMs, parseTraceIds } from './traces'

/*
 * Every view's state lives in the query string, so a link (from an alert, a chat) reopens exactly
 * that view. The explore view reads `?service=&type=&from=&to=&query=` and the compare view
 * `?view=diff&service=&type=&baseFrom=&baseTo=&compFrom=&compTo=&baseQuery=&compQuery=`: the
 * parameters `@kiln/wire`'s `flamegraphUiLink` and `diffUiLink` write into alert answers. The
 * trace view reads `?view=trace&service=&type=&traceId=&from=&to=`: what a tracing UI's "profile
 * of this trace" link opens.
 */

export type ViewName = 'explore' | 'diff' | 'alerts' | 'trace'

/** A function as the query API names it: its name plus its file. */
export interface FunctionRef {
  name: string
  file?: string
}

export type TopSort = 'self' | 'total'
/** Diff colouring: by change of share of each window's total, or by change of value. */
export type DiffMode = 'normalized' | 'absolute'
/** One diff flame graph, or the two windows' flame graphs side by side. */
export type DiffLayout = 'diff' | 'split'
/** Which of the diff's ranked lists the changes table shows. */
export type RankBy = 'self' | 'total'

interface CommonState {
  /** `null` until chosen: the page then picks the first service. */
  service: string | null
  /** `null` until chosen: the page then picks `cpu`, or the service's first type. */
  type: string | null
  /** Flame graph search (also filters the tables). */
  search: string
}

export interface ExploreState extends CommonState {
  view: 'explore'
  /** The preset used when `window` is null: a window ending now that moves with time. */
  range: TimeRangeKey
  /** A fixed window (`from`/`to`), chosen by brushing, a custom range or a link. */
  window: TimeWindow | null
  /** Label selector; `''` selects every series. */
  query: string
  /** The function the flame graph is focused on (and whose callers and callees are shown). */
  focus: FunctionRef | null
  sort: TopSort
  /** Largest tree asked of the server; `null`: the server's default. */
  maxNodes: number | null
  /** A label the timeline is split by (one line per value); `''`: one total. */
  groupBy: string
  /** The flame graph frame zoomed to, as its path of frame keys from the root; `null`: none. */
  zoom: string[] | null
  /** Frame colours: d3-flame-graph's palette by name, or one colour per package (`color=package`). */
  colorBy: ColorBy
}

export interface DiffState extends CommonState {
  view: 'diff'
  /** Missing times follow the server's defaults: the last 15 minutes against the 15 before. */
  baseFrom: number | null
  baseTo: number | null
  compFrom: number | null
  compTo: number | null
  baseQuery: string
  compQuery: string
  /** `null`: by the type's aggregation (absolute for heap in use, normalized otherwise). */
  mode: DiffMode | null
  layout: DiffLayout
  rank: RankBy
  focus: FunctionRef | null
  /** Colours of the side-by-side graphs (the diff graph is coloured by change). */
  colorBy: ColorBy
}

export interface AlertsState extends CommonState {
  view: 'alerts'
}

/** The profile of one trace (or a few): what its requests ran, in this service. */
export interface TraceState extends CommonState {
  view: 'trace'
  /**
   * Hex ids, comma-separated, lowercase (and 128-bit ids padded to 32 digits); kept as written
   * when it is not a list of ids, so the view can say so.
   */
  traceId: string
  /** The window the link names (the trace's start and end); `null`: the last hour. */
  window: TimeWindow | null
  focus: FunctionRef | null
  sort: TopSort
}

export type ViewState = ExploreState | DiffState | AlertsState | TraceState

export function defaultExploreState(
  common: Partial<CommonState> = {},
  patch: Partial<Omit<ExploreState, 'view'>> = {},
): ExploreState {
  return {
    view: 'explore',
    service: common.service ?? null,
    type: common.type ?? null,
    search: '',
    range: DEFAULT_TIME_RANGE,
    window: null,
    query: '',
    focus: null,
    sort: 'self',
    maxNodes: null,
    groupBy: '',
    zoom: null,
    colorBy: 'name',
    ...patch,
  }
}

export function defaultDiffState(
  common: Partial<CommonState> = {},
  patch: Partial<Omit<DiffState, 'view'>> = {},
): DiffState {
  return {
    view: 'diff',
    service: common.service ?? null,
    type: common.type ?? null,
    search: '',
    baseFrom: null,
    baseTo: null,
    compFrom: null,
    compTo: null,
    baseQuery: '',
    compQuery: '',
    mode: null,
    layout: 'diff',
    rank: 'self',
    focus: null,
    colorBy: 'name',
    ...patch,
  }
}

export function defaultTraceState(
  common: Partial<CommonState> = {},
  patch: Partial<Omit<TraceState, 'view'>> = {},
): TraceState {
  return {
    view: 'trace',
    service: common.service ?? null,
    type: common.type ?? null,
    search: '',
    traceId: '',
    window: null,
    focus: null,
    sort: 'self',
    ...patch,
  }
}

/** A Unix ms parameter: a non-negative integer, else `null`. */
function timeParam(params: URLSearchParams, name: string): number | null {
  const raw = params.get(name)
  if (raw === null || !/^\d{1,16}$/.test(raw)) return null
  return Number(raw)
}

function focusParam(params: URLSearchParams): FunctionRef | null {
  const name = params.get('focus')
  if (!name) return null
  const file = params.get('focusFile')
  return file ? { name, file } : { name }
}

function colorParam(params: URLSearchParams): ColorBy {
  return oneOf(params.get('color'), ['name', 'package'] as const) ?? 'name'
}

function oneOf<T extends string>(value: string | null, allowed: readonly T[]): T | undefined {
  return allowed.find((candidate) => candidate === value)
}

/** Read the query string; missing or unknown values fall back to defaults. */
export function parseViewState(search: string): ViewState {
  const params = new URLSearchParams(search)
  const common: CommonState = {
    service: params.get('service') || null,
    type: params.get('type') || null,
    search: params.get('search') ?? '',
  }
  const view = params.get('view')
  if (view === 'alerts') return { view: 'alerts', ...common }
  if (view === 'trace') {
    const raw = params.get('traceId') ?? ''
    // Tracing UIs write µs or ns; an instant (from = to) is a window too once widened.
    const from = linkTimeMs(params.get('from'), 'down')
    const to = linkTimeMs(params.get('to'), 'up')
    return defaultTraceState(common, {
      search: common.search,
      traceId: parseTraceIds(raw)?.join(',') ?? raw.trim(),
      window: from !== null && to !== null && from <= to ? { from, to } : null,
      focus: focusParam(params),
      sort: oneOf(params.get('sort'), ['self', 'total'] as const) ?? 'self',
    })
  }
  if (view === 'diff') {
    return defaultDiffState(common, {
      search: common.search,
      baseFrom: timeParam(params, 'baseFrom'),
      baseTo: timeParam(params, 'baseTo'),
      compFrom: timeParam(params, 'compFrom'),
      compTo: timeParam(params, 'compTo'),
      baseQuery: params.get('baseQuery') ?? '',
      compQuery: params.get('compQuery') ?? '',
      mode: oneOf(params.get('mode'), ['normalized', 'absolute'] as const) ?? null,
      layout: oneOf(params.get('layout'), ['diff', 'split'] as const) ?? 'diff',
      rank: oneOf(params.get('rank'), ['self', 'total'] as const) ?? 'self',
      focus: focusParam(params),
      colorBy: colorParam(params),
    })
  }
  const range = params.get('range') ?? ''
  const from = timeParam(params, 'from')
  const to = timeParam(params, 'to')
  const maxNodes = Number(params.get('maxNodes'))
  return defaultExploreState(common, {
    search: common.search,
    range: isTimeRangeKey(range) ? range : DEFAULT_TIME_RANGE,
    window: from !== null && to !== null && from < to ? { from, to } : null,
    query: params.get('query') ?? '',
    focus: focusParam(params),
    sort: oneOf(params.get('sort'), ['self', 'total'] as const) ?? 'self',
    maxNodes: Number.isInteger(maxNodes) && maxNodes >= 2 ? maxNodes : null,
    groupBy: params.get('groupBy') ?? '',
    zoom: zoomParam(params.get('zoom')),
    colorBy: colorParam(params),
  })
}

type Param = [name: string, value: string | number | null | undefined | false]

/**
 * `?k=v&...` encoded like `@kiln/wire`'s link builders (`encodeURIComponent`, `%20` for spaces),
 * so a link the server wrote and the URL the page writes back for it are the same string.
 */
function queryString(params: readonly Param[]): string {
  const pairs = params
    .filter(
      (p): p is [string, string | number] =>
        p[1] !== null && p[1] !== undefined && p[1] !== '' && p[1] !== false,
    )
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
  return `?${pairs.join('&')}`
}

function focusParams(focus: FunctionRef | null): Param[] {
  return [
    ['focus', focus?.name],
    ['focusFile', focus?.file],
  ]
}

/** The query string (with its `?`) for a view; unset and default fields are left out. */
export function formatViewState(state: ViewState): string {
  switch (state.view) {
    case 'alerts':
      return queryString([
        ['view', 'alerts'],
        ['service', state.service],
        ['type', state.type],
      ])
    case 'diff':
      return queryString([
        ['view', 'diff'],
        ['service', state.service],
        ['type', state.type],
        ['baseFrom', state.baseFrom],
        ['baseTo', state.baseTo],
        ['compFrom', state.compFrom],
        ['compTo', state.compTo],
        ['baseQuery', state.baseQuery],
        ['compQuery', state.compQuery],
        ['mode', state.mode],
        ['layout', state.layout !== 'diff' && state.layout],
        ['rank', state.rank !== 'self' && state.rank],
        ['search', state.search],
        ...focusParams(state.focus),
        ['color', state.colorBy !== 'name' && state.colorBy],
      ])
    case 'trace':
      return queryString([
        ['view', 'trace'],
        ['service', state.service],
        ['type', state.type],
        ['traceId', state.traceId],
        ['from', state.window?.from],
        ['to', state.window?.to],
        ['search', state.search],
        ...focusParams(state.focus),
        ['sort', state.sort !== 'self' && state.sort],
      ])
    case 'explore':
      return queryString([
        ['service', state.service],
        ['type', state.type],
        ...(state.window === null
          ? ([['range', state.range]] satisfies Param[])
          : ([
              ['from', state.window.from],
              ['to', state.window.to],
            ] satisfies Param[])),
        ['query', state.query],
        ['search', state.search],
        ...focusParams(state.focus),
        ['sort', state.sort !== 'self' && state.sort],
        ['maxNodes', state.maxNodes],
        ['groupBy', state.groupBy],
        ['zoom', state.zoom && JSON.stringify(state.zoom)],
        ['color', state.colorBy !== 'name' && state.colorBy],
      ])
  }
}

/** The in-app view of a link the server wrote (alerts, findings), whatever host it names. */
export function viewOfLink(link: string): ViewState {
  return parseViewState(new URL(link, 'http://kiln.invalid').search)
}

/** `zoom=["main (app.js)","handle (app.js)"]`: a path of frame keys, or nothing when unreadable. */
function zoomParam(value: string | null): string[] | null {
  if (value === null) return null
  try {
    const path: unknown = JSON.parse(value)
    return Array.isArray(path) && path.length > 1 && path.every((k) => typeof k === 'string')
      ? (path as string[])
      : null
  } catch {
    return null
  }
}
