import { PROFILE_TYPES, isProfileTypeName, type ServiceSummary } from '@kiln/wire'
import { useMemo, useState } from 'react'
import {
  fetchAgents,
  fetchAlerts,
  fetchFlamegraph,
  fetchTimeline,
  fetchTop,
  fetchVersions,
} from '../api'
import {
  comparisonState,
  deployComparison,
  deployMarkers,
  shiftedComparison,
  versionLabel,
} from '../compare-presets'
import { AgentsPanel } from '../components/AgentsPanel'
import { ComparePresets } from '../components/ComparePresets'
import { Controls } from '../components/Controls'
import { EndpointsPanel } from '../components/EndpointsTable'
import { ErrorState } from '../components/ErrorState'
import { StaleNotice, keepsLastAnswer } from '../components/StaleNotice'
import { FlameGraph } from '../components/FlameGraph'
import { FunctionTraces } from '../components/FunctionTraces'
import { LabelFilter } from '../components/LabelFilter'
import { LoadingState } from '../components/LoadingState'
import { NoSamplesState } from '../components/NoSamplesState'
import { PackagesTable } from '../components/PackagesTable'
import { PprofLink } from '../components/PprofLink'
import { ProfileSummary } from '../components/ProfileSummary'
import { SandwichPanel } from '../components/SandwichPanel'
import { Timeline, TimelinePlaceholder } from '../components/Timeline'
import { TimeRangePicker } from '../components/TimeRangePicker'
import { TopTable } from '../components/TopTable'
import { fileTime } from '../flame-export'
import type { HistoryMode } from '../hooks/use-view-state'
import { useEndpoints } from '../hooks/use-endpoints'
import { useLabelNames } from '../hooks/use-label-names'
import { useResource } from '../hooks/use-resource'
import { useNavigate } from '../navigation'
import { timelineStep } from '../timeline-geometry'
import { timeRangeOf, timeWindow } from '../time-range'
import { roundWindow, windowLength, type TimeWindow } from '../time-window'
import { viewOfLink, type ExploreState, type FunctionRef, type ViewState } from '../url-state'
import { combineSelectors } from '../label-selector'
import { toggleEndpoint } from '../endpoints'
import { packageColoring } from '../package-colors'
import { packageTotals } from '../package-totals'

/** Rows asked of `/top`; the table searches and sorts within them. */
const TOP_LIMIT = 500

interface ExploreViewProps {
  state: ExploreState
  services: readonly ServiceSummary[]
  service: ServiceSummary
  type: string | null
  refreshToken: number
  onRetry(): void
  setState(next: ExploreState, mode: HistoryMode): void
}

/**
 * One window of one service: the timeline (deploys, alerts, brush), the top functions beside
 * the flame graph, and the callers and callees of a focused function.
 */
export function ExploreView(props: ExploreViewProps) {
  const { state, service, type, refreshToken, setState } = props
  const navigate = useNavigate()
  const { query, range, maxNodes, sort } = state
  // Gauges (heap in use) are averaged per instance: their timeline is not split by a label.
  const cumulative =
    type !== null && isProfileTypeName(type) && PROFILE_TYPES[type].aggregation === 'cumulative'
  const groupBy = cumulative ? state.groupBy : ''
  const splittable = groupBy !== ''
  const name = service.name
  // The window every request of this refresh reads: a preset's moves on with each refresh.
  const fixed = state.window
  const current = useMemo<TimeWindow>(
    () => fixed ?? timeWindow(range, Date.now()),
    // refreshToken is not read: a new one means a new "now".
    [fixed, range, refreshToken],
  )
  // Requests are keyed by what the reader chose, not by the moving times, so a refresh keeps the
  // old answer on screen until the new one arrives.
  const windowKey = JSON.stringify(fixed ?? range)
  const spec = JSON.stringify([name, type, fixed ?? range, query])
  const selector = query === '' ? {} : { query }

  const timeline = useResource(
    type === null
      ? null
      : {
          key: `timeline${spec}${groupBy}`,
          group: JSON.stringify([name, type, query, groupBy]),
          load: (signal) =>
            fetchTimeline(
              {
                service: name,
                type,
                ...current,
                ...selector,
                step: timelineStep(windowLength(current)),
                ...(splittable ? { groupBy } : {}),
              },
              signal,
            ),
        },
    refreshToken,
  )
  const profile = useResource(
    type === null
      ? null
      : {
          key: `flamegraph${spec}${maxNodes ?? ''}`,
          load: (signal) =>
            fetchFlamegraph(
              { service: name, type, ...current, ...selector, ...(maxNodes ? { maxNodes } : {}) },
              signal,
            ),
        },
    refreshToken,
  )
  const top = useResource(
    type === null
      ? null
      : {
          key: `top${spec}${sort}`,
          load: (signal) =>
            fetchTop(
              { service: name, type, ...current, ...selector, sort, limit: TOP_LIMIT },
              signal,
            ),
        },
    refreshToken,
  )
  const versions = useResource(
    { key: `versions${name}`, load: (signal) => fetchVersions(name, signal) },
    refreshToken,
  )
  const alerts = useResource(
    { key: `alerts${spec}`, load: (signal) => fetchAlerts({ service: name, ...current }, signal) },
    refreshToken,
  )
  const agents = useResource(
    { key: `agents${spec}`, load: (signal) => fetchAgents({ service: name, ...current }, signal) },
    refreshToken,
  )
  const endpoints = useEndpoints(
    cumulative ? { service: name, window: current, windowKey, query } : null,
    refreshToken,
  )
  const labels = useLabelNames(name, type, current)
  const [sandwichOpened, setSandwichOpened] = useState(0)
  const root = profile.data?.root
  const coloring = useMemo(
    () =>
      state.colorBy === 'package' && root !== undefined
        ? packageColoring(packageTotals(root, root.value).map((t) => ({ ...t, weight: t.self })))
        : null,
    [state.colorBy, root],
  )
  /** Focus a function (from the table or the graph) and bring its callers and callees into view. */
  const openSandwich = (fn: FunctionRef | null) => {
    update({ focus: fn })
    if (fn !== null) setSandwichOpened((n) => n + 1)
  }

  const update = (patch: Partial<ExploreState>, mode: HistoryMode = 'push') =>
    setState({ ...state, ...patch }, mode)
  const versionList = versions.data?.versions ?? []
  const label = versionLabel(labels.data?.names ?? [])
  const shown = timeline.data ? { from: timeline.data.from, to: timeline.data.to } : current

  return (
    <>
      <Controls
        services={props.services}
        service={service}
        type={type}
        onServiceChange={(next) => update({ service: next, focus: null, query: '' })}
        onTypeChange={(next) => update({ type: next, focus: null })}
      >
        <TimeRangePicker
          range={range}
          window={fixed}
          current={current}
          onRangeChange={(next) => update({ range: next, window: null })}
          onWindowChange={(next) => update({ window: roundWindow(next) })}
        />
        {type !== null ? (
          <LabelFilter
            service={name}
            type={type}
            window={current}
            names={labels.data?.names}
            query={query}
            onQueryChange={(next) => update({ query: next })}
          />
        ) : null}
      </Controls>
      {type !== null && timeline.data !== undefined ? (
        <Timeline
          timeline={timeline.data}
          deploys={deployMarkers(versionList, shown)}
          alerts={alerts.data?.alerts ?? []}
          deployLink={(marker) => {
            const c = deployComparison(
              versionList,
              marker.version,
              windowLength(shown),
              label,
              query,
            )
            return c && comparisonState(c, { service: name, type })
          }}
          captionControl={
            cumulative ? (
              <label className="timeline-split">
                <span>Split by</span>
                <select
                  data-testid="group-by"
                  value={groupBy}
                  onChange={(event) => update({ groupBy: event.target.value }, 'replace')}
                >
                  <option value="">nothing (total)</option>
                  {(labels.data?.names ?? []).map((label) => (
                    <option key={label}>{label}</option>
                  ))}
                </select>
              </label>
            ) : null
          }
          alertLink={(alert) =>
            alert.links ? withFilter(viewOfLink(alert.links.diff), query) : null
          }
          brushHint="Drag to zoom into a window; Shift+drag to compare it with the window before."
          onBrush={(window, { shiftKey }) => {
            const brushed = roundWindow(window)
            if (shiftKey) {
              navigate(
                comparisonState(shiftedComparison(brushed, 'previous', query), {
                  service: name,
                  type,
                }),
              )
            } else {
              update({ window: brushed })
            }
          }}
        />
      ) : type !== null ? (
        <TimelinePlaceholder {...(timeline.error ? { error: timeline.error } : {})} />
      ) : null}
      {type !== null ? (
        <ComparePresets
          service={name}
          type={type}
          window={current}
          query={query}
          versions={versionList}
          versionLabel={label}
        />
      ) : null}
      {profile.error !== undefined &&
      profile.data !== undefined &&
      keepsLastAnswer(profile.error) ? (
        <StaleNotice what="the flame graph" error={profile.error} onRetry={props.onRetry} />
      ) : null}
      {profile.error !== undefined &&
      (profile.data === undefined || !keepsLastAnswer(profile.error)) ? (
        <ErrorState what="the flame graph" error={profile.error} onRetry={props.onRetry} />
      ) : type === null || (profile.data !== undefined && profile.data.root.value === 0) ? (
        <NoSamplesState
          service={name}
          type={type}
          rangeLabel={fixed === null ? timeRangeOf(range).label : 'chosen window'}
          query={query}
          lastSeen={props.service.lastSeen}
          window={current}
          onClearFilter={() => update({ query: '' })}
          onJumpToLast={() => {
            const length = windowLength(current)
            const to = props.service.lastSeen
            update({ window: roundWindow({ from: to - length, to }) })
          }}
        />
      ) : profile.data === undefined ? (
        <LoadingState what="the flame graph" />
      ) : (
        <>
          <ProfileSummary profile={profile.data}>
            <PprofLink
              query={{ service: name, type, ...shownWindow(profile.data), ...selector }}
              testId="export-pprof"
              title="Download this window merged into one pprof file (go tool pprof reads it)"
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
                sort={sort}
                focus={state.focus}
                onSortChange={(next) => update({ sort: next }, 'replace')}
                onFocus={openSandwich}
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
              label="Flame graph"
              search={state.search}
              onSearchChange={(search) => update({ search }, 'replace')}
              focus={state.focus}
              exportName={['kiln', name, type, fileTime(profile.data.from)]}
              zoom={state.zoom}
              onZoomChange={(zoom) => update({ zoom }, 'replace')}
              keyboard
              coloring={coloring}
              colorBy={state.colorBy}
              onColorByChange={(colorBy) => update({ colorBy }, 'replace')}
              onOpenSandwich={openSandwich}
            />
          </div>
          {state.focus !== null ? (
            <SandwichPanel
              root={profile.data.root}
              focus={state.focus}
              unit={profile.data.unit}
              total={profile.data.total || profile.data.root.value}
              onClose={() => update({ focus: null })}
              reveal={sandwichOpened}
            >
              {cumulative ? (
                <FunctionTraces
                  service={name}
                  type={type}
                  window={current}
                  windowKey={windowKey}
                  query={query}
                  fn={state.focus}
                  refreshToken={refreshToken}
                />
              ) : null}
            </SandwichPanel>
          ) : null}
          <EndpointsPanel
            endpoints={endpoints}
            query={query}
            onToggle={(endpoint) => update({ query: toggleEndpoint(query, endpoint) })}
          />
          <PackagesTable
            source={{
              kind: 'explore',
              root: profile.data.root,
              total: profile.data.total || profile.data.root.value,
            }}
            unit={profile.data.unit}
            search={state.search}
            onSearchChange={(search) => update({ search }, 'replace')}
          />
        </>
      )}
      <AgentsPanel agents={agents.data?.agents ?? []} />
    </>
  )
}

function shownWindow(profile: { from: number; to: number }): TimeWindow {
  return { from: profile.from, to: profile.to }
}

/** A comparison opened from the explore view keeps its label filter on both sides. */
function withFilter(view: ViewState, query: string): ViewState {
  if (view.view !== 'diff' || query === '') return view
  return {
    ...view,
    baseQuery: combineSelectors(view.baseQuery, query),
    compQuery: combineSelectors(view.compQuery, query),
  }
}
