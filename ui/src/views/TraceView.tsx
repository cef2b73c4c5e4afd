import {
  PROFILE_TYPES,
  isProfileTypeName,
  type ServiceSummary,
  type TraceSummary,
} from '@kiln/wire'
import { useMemo, useState } from 'react'
import { fetchFlamegraph, fetchTop, fetchTraces } from '../api'
import { AppLink } from '../components/AppLink'
import { Controls } from '../components/Controls'
import { ErrorState } from '../components/ErrorState'
import { FlameGraph } from '../components/FlameGraph'
import { LoadingState } from '../components/LoadingState'
import { PprofLink } from '../components/PprofLink'
import { ProfileSummary } from '../components/ProfileSummary'
import { TopTable } from '../components/TopTable'
import { endpointLabel } from '../endpoints'
import { fileTime } from '../flame-export'
import type { HistoryMode } from '../hooks/use-view-state'
import { useResource } from '../hooks/use-resource'
import { safeHref } from '../safe-href'
import { formatSpan, formatWindow, type TimeWindow } from '../time-window'
import { parseTraceIds, traceQueryWindow } from '../traces'
import { defaultExploreState, type ExploreState, type TraceState } from '../url-state'

/** Rows asked of `/top`, as in explore. */
const TOP_LIMIT = 500
/** Traces a link names at most (`traceId=a,b,...`; the server takes 100). */
const LOOKUP_LIMIT = 100

interface TraceViewProps {
  state: TraceState
  services: readonly ServiceSummary[]
  service: ServiceSummary
  type: string | null
  refreshToken: number
  onRetry(): void
  setState(next: TraceState, mode: HistoryMode): void
}

/**
 * The profile of one trace (or a few) in one service: what its requests ran, as a flame graph
 * and top functions, with its endpoint and a link back to the tracing UI. This is the page a
 * tracing UI's "profile of this trace" link opens (`?view=trace&traceId=&from=&to=`).
 */
export function TraceView(props: TraceViewProps) {
  const { state, service, type, refreshToken, setState } = props
  const name = service.name
  const ids = useMemo(() => parseTraceIds(state.traceId), [state.traceId])
  const traceId = ids?.join(',') ?? null
  const traced =
    type !== null && isProfileTypeName(type) && PROFILE_TYPES[type].aggregation === 'cumulative'
  // A link without times shows the hour before the page opened: fixed, so it does not move.
  const [openedAt] = useState(() => Date.now())
  const { window, defaulted } = useMemo(
    () => traceQueryWindow(state.window, openedAt),
    [state.window, openedAt],
  )
  const ready = type !== null && traced && traceId !== null
  const spec = JSON.stringify([name, type, traceId, window.from, window.to])
  const filter = ready ? { service: name, type, ...window, traceId } : null

  const profile = useResource(
    filter && { key: `flamegraph${spec}`, load: (signal) => fetchFlamegraph(filter, signal) },
    refreshToken,
  )
  const top = useResource(
    filter && {
      key: `top${spec}${state.sort}`,
      load: (signal) => fetchTop({ ...filter, sort: state.sort, limit: TOP_LIMIT }, signal),
    },
    refreshToken,
  )
  // The endpoint and tracing link: the summary of these traces (`/traces?traceId=`), a lookup
  // by the table's sort key.
  const lookup = useResource(
    filter && ids
      ? {
          key: `traces${spec}`,
          load: (signal) =>
            fetchTraces(
              {
                service: name,
                type: filter.type,
                ...window,
                traceId: ids.join(','),
                limit: LOOKUP_LIMIT,
              },
              signal,
            ),
        }
      : null,
    refreshToken,
  )
  const found = useMemo(
    () => lookup.data?.traces.filter((t) => ids?.includes(t.traceId)) ?? [],
    [lookup.data, ids],
  )

  const update = (patch: Partial<TraceState>, mode: HistoryMode = 'push') =>
    setState({ ...state, ...patch }, mode)

  const controls = (
    <Controls
      services={props.services}
      service={service}
      type={type}
      onServiceChange={(next) => update({ service: next, focus: null })}
      onTypeChange={(next) => update({ type: next, focus: null })}
    />
  )
  if (traceId === null) {
    return (
      <>
        {controls}
        <section className="notice" data-testid="trace-invalid">
          <h2>No trace id in this link</h2>
          <p>
            {state.traceId === '' ? (
              <>The link names no trace: add </>
            ) : (
              <>
                <code>{state.traceId}</code> is not a trace id: the link needs{' '}
              </>
            )}
            <code>traceId=</code> with one or more hex ids (up to 32 digits each, comma-separated).
          </p>
        </section>
      </>
    )
  }
  if (!traced) {
    return (
      <>
        {controls}
        <section className="notice" data-testid="trace-type">
          <h2>Traces have CPU and wall samples only</h2>
          <p>
            {type === null
              ? `${name} has not reported any profile type yet.`
              : `${type} samples carry no trace. Pick cpu or wall above.`}
          </p>
        </section>
      </>
    )
  }

  return (
    <>
      {controls}
      <TraceHeader
        ids={ids ?? []}
        found={found}
        window={window}
        defaulted={defaulted}
        exploreLink={defaultExploreState({ service: name, type }, { window })}
      />
      {profile.error !== undefined ? (
        <ErrorState what="the trace's profile" error={profile.error} onRetry={props.onRetry} />
      ) : profile.data === undefined ? (
        <LoadingState what="the trace's profile" />
      ) : profile.data.root.value === 0 ? (
        <section className="notice" data-testid="trace-empty">
          <h2>No samples of this trace in this window</h2>
          <p>
            Kiln has no {type} samples of {ids!.length === 1 ? 'this trace' : 'these traces'} in{' '}
            {name} between {formatWindow(window)}
            {defaulted ? ' (the link names no time, so only the last hour was searched)' : ''}.
            Traces are kept <code>KILN_TRACE_RETENTION_DAYS</code> days (7 by default); CPU samples
            exist only for traces that used CPU while the agent was collecting, and only in the
            service that ran them.
          </p>
        </section>
      ) : (
        <>
          <ProfileSummary profile={profile.data}>
            <PprofLink
              query={{ service: name, type, ...window, traceId }}
              testId="export-pprof"
              title="Download this trace's samples as one pprof file (go tool pprof reads it)"
            />
          </ProfileSummary>
          <div className="explore-grid">
            {top.data !== undefined ? (
              <TopTable
                functions={top.data.functions}
                unit={top.data.unit}
                total={top.data.total}
                stacks={top.data.stacks}
                leftOut={top.data.leftOut}
                search={state.search}
                sort={state.sort}
                focus={state.focus}
                onSortChange={(sort) => update({ sort }, 'replace')}
                onFocus={(focus) => update({ focus })}
              />
            ) : top.error !== undefined ? (
              <ErrorState what="the top functions" error={top.error} onRetry={props.onRetry} />
            ) : (
              <LoadingState what="the top functions" />
            )}
            <FlameGraph
              root={profile.data.root}
              unit={profile.data.unit}
              total={profile.data.total || profile.data.root.value}
              label="Flame graph of the trace"
              search={state.search}
              onSearchChange={(search) => update({ search }, 'replace')}
              focus={state.focus}
              exportName={['kiln', name, type, 'trace', ids![0]!, fileTime(profile.data.from)]}
              keyboard
            />
          </div>
        </>
      )}
    </>
  )
}

interface TraceHeaderProps {
  ids: readonly string[]
  /** The traces the window's list had (with endpoint, times, tracing link). */
  found: readonly TraceSummary[]
  window: TimeWindow
  defaulted: boolean
  exploreLink: ExploreState
}

/** Which trace, its endpoint and times, the window shown, and the way back to the tracing UI. */
function TraceHeader({ ids, found, window, defaulted, exploreLink }: TraceHeaderProps) {
  const endpoints = [...new Set(found.map((t) => t.endpoint))]
  return (
    <section className="trace-header" data-testid="trace-header">
      <h2>
        {ids.length === 1 ? 'Trace ' : `${ids.length} traces `}
        {ids.map((id, i) => (
          <span key={id}>
            {i > 0 ? ', ' : ''}
            <code data-testid="trace-id">{id}</code>
          </span>
        ))}
      </h2>
      <p className="summary">
        {endpoints.length > 0 ? (
          <span data-testid="trace-endpoint">
            Endpoint <code>{endpoints.map(endpointLabel).join(', ')}</code>
          </span>
        ) : null}
        {found.length > 0 ? (
          <span title="Samples are timed at the start of the profile that holds them">
            Sampled{' '}
            {formatSpan(
              Math.min(...found.map((t) => t.first)),
              Math.max(...found.map((t) => t.last)),
            )}
          </span>
        ) : null}
        <span>Window {formatWindow(window)}</span>
        {found.map((t) => {
          const href = safeHref(t.tracingUrl)
          return href === null ? null : (
            <a
              key={t.traceId}
              href={href}
              target="_blank"
              rel="noopener noreferrer"
              data-testid="tracing-link"
            >
              Open {ids.length > 1 ? `${t.traceId.slice(0, 8)}… ` : ''}in the tracing UI
            </a>
          )
        })}
        <AppLink to={exploreLink}>Explore this window</AppLink>
      </p>
      {defaulted ? (
        <p className="warning" role="status" data-testid="trace-default-window">
          The link names no time, so this shows the last hour. Links from a tracing UI should add{' '}
          <code>&amp;from=</code> and <code>&amp;to=</code> (the trace&rsquo;s start and end, in ms
          or µs) to find older traces.
        </p>
      ) : null}
    </section>
  )
}
