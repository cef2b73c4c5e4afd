import {
  PROFILE_TYPES,
  isProfileTypeName,
  type DiffResponse,
  type ServiceSummary,
} from '@kiln/wire'
import { useMemo } from 'react'
import { fetchDiff, fetchTimeline, fetchVersions } from '../api'
import {
  comparisonState,
  deployComparison,
  deployMarkers,
  isFixedDiff,
  resolveDiffWindows,
  shiftedComparison,
  versionLabel,
  type Comparison,
} from '../compare-presets'
import { AppLink } from '../components/AppLink'
import { ChangesTable } from '../components/ChangesTable'
import { Controls } from '../components/Controls'
import { DiffWindows } from '../components/DiffWindows'
import { EndpointsDiffPanel } from '../components/EndpointsDiffTable'
import { ErrorState } from '../components/ErrorState'
import { StaleNotice, keepsLastAnswer } from '../components/StaleNotice'
import { FlameGraph } from '../components/FlameGraph'
import { LoadingState } from '../components/LoadingState'
import { PackagesTable } from '../components/PackagesTable'
import { packageColoring } from '../package-colors'
import { packageChanges } from '../package-totals'
import { Timeline, TimelinePlaceholder } from '../components/Timeline'
import { defaultDiffMode, diffChartTree, sideTree } from '../diff-tree'
import { fileTime } from '../flame-export'
import type { HistoryMode } from '../hooks/use-view-state'
import { useEndpointsDiff } from '../hooks/use-endpoints'
import { useLabelNames } from '../hooks/use-label-names'
import { useResource } from '../hooks/use-resource'
import { timelineStep } from '../timeline-geometry'
import { DAY_MS, HOUR_MS, padWindow, roundWindow, unionWindow, windowLength } from '../time-window'
import { defaultExploreState, type DiffMode, type DiffState } from '../url-state'
import { toggleEndpointOnBoth } from '../endpoints'

/** Functions per ranked list. */
const CHANGES_LIMIT = 25

interface DiffViewProps {
  state: DiffState
  services: readonly ServiceSummary[]
  service: ServiceSummary
  type: string | null
  refreshToken: number
  onRetry(): void
  setState(next: DiffState, mode: HistoryMode): void
}

const MODES: readonly { mode: DiffMode; label: string; title: string }[] = [
  {
    mode: 'normalized',
    label: 'Normalized',
    title:
      'Colour by the change of each frame’s share of its window’s total (windows of any length or load)',
  },
  {
    mode: 'absolute',
    label: 'Absolute',
    title:
      'Colour by the change of each frame’s value, the comparison put at the baseline’s coverage ' +
      '(instance-seconds collected), so windows of other lengths or fleets compare per instance',
  },
]

/**
 * Two windows of one service and type: which functions grew or shrank, as a diff flame graph
 * coloured by change or as two flame graphs side by side, with the functions ranked.
 */
export function DiffView(props: DiffViewProps) {
  const { state, service, type, refreshToken, setState } = props
  const name = service.name
  const fixed = isFixedDiff(state)
  const { baseline, comparison } = useMemo(
    () => resolveDiffWindows(state, Date.now()),
    // refreshToken is not read: a new one means a new "now" for the times the link left out.
    [state, refreshToken],
  )
  const aggregation =
    type !== null && isProfileTypeName(type) ? PROFILE_TYPES[type].aggregation : undefined
  const mode = state.mode ?? defaultDiffMode(aggregation)
  const { baseQuery, compQuery } = state
  const spec = JSON.stringify([
    name,
    type,
    state.baseFrom,
    state.baseTo,
    state.compFrom,
    state.compTo,
  ])

  const diff = useResource(
    type === null
      ? null
      : {
          key: `diff${spec}${baseQuery}\u0000${compQuery}${mode}`,
          load: (signal) =>
            fetchDiff(
              {
                service: name,
                type,
                baseFrom: baseline.from,
                baseTo: baseline.to,
                compFrom: comparison.from,
                compTo: comparison.to,
                ...(baseQuery !== '' ? { baseQuery } : {}),
                ...(compQuery !== '' ? { compQuery } : {}),
                limit: CHANGES_LIMIT,
                rankBy: mode === 'absolute' ? 'absolute' : 'share',
              },
              signal,
            ),
        },
    refreshToken,
  )
  const domain = padWindow(unionWindow(baseline, comparison), 0.1)
  const timeline = useResource(
    type === null
      ? null
      : {
          key: `timeline${spec}`,
          group: JSON.stringify([name, type]),
          load: (signal) =>
            fetchTimeline(
              { service: name, type, ...domain, step: timelineStep(windowLength(domain)) },
              signal,
            ),
        },
    refreshToken,
  )
  const versions = useResource(
    { key: `versions${name}`, load: (signal) => fetchVersions(name, signal) },
    refreshToken,
  )
  const endpointChanges = useEndpointsDiff(
    type !== null && aggregation === 'cumulative'
      ? { service: name, type, baseline, comparison, windowsKey: spec, baseQuery, compQuery }
      : null,
    refreshToken,
  )
  const versionList = versions.data?.versions ?? []
  const label = versionLabel(useLabelNames(name, type, domain).data?.names ?? [])

  const chartTree = useMemo(
    () => (diff.data ? diffChartTree(diff.data, mode) : null),
    [diff.data, mode],
  )
  const sides = useMemo(
    () =>
      diff.data && state.layout === 'split'
        ? { base: sideTree(diff.data.root, 'base'), comp: sideTree(diff.data.root, 'comp') }
        : null,
    [diff.data, state.layout],
  )
  // By package: one colouring for the diff graph, or for both sides so a package has the same
  // colour left and right.
  const coloring = useMemo(
    () =>
      diff.data && state.colorBy === 'package'
        ? packageColoring(
            packageChanges(diff.data.root, {
              base: diff.data.baseline.total,
              comp: diff.data.comparison.total,
            }).map((c) => ({ ...c, weight: c.baseShare + c.compShare })),
          )
        : null,
    [diff.data, state.colorBy],
  )

  const update = (patch: Partial<DiffState>, mode: HistoryMode = 'push') =>
    setState({ ...state, ...patch }, mode)
  const apply = (c: Comparison) =>
    update({
      baseFrom: c.baseline.from,
      baseTo: c.baseline.to,
      compFrom: c.comparison.from,
      compTo: c.comparison.to,
      baseQuery: c.baseQuery ?? '',
      compQuery: c.compQuery ?? '',
    })

  if (type === null) {
    return <p className="notice">{name} has not reported any profile type yet.</p>
  }
  const changesTable = diff.data ? (
    <ChangesTable
      changes={diff.data.changes}
      rank={state.rank}
      mode={mode}
      unit={diff.data.unit}
      totals={{ base: diff.data.baseline.total, comp: diff.data.comparison.total }}
      stacks={{ base: diff.data.baseline.stacks, comp: diff.data.comparison.stacks }}
      seconds={collectedSeconds(diff.data)}
      focus={state.focus}
      onRankChange={(rank) => update({ rank }, 'replace')}
      onFocus={(focus) => update({ focus })}
    />
  ) : null
  const exploreOf = (window: typeof baseline, query: string) =>
    defaultExploreState({ service: name, type }, { window, query })

  return (
    <>
      <Controls
        services={props.services}
        service={service}
        type={type}
        onServiceChange={(next) =>
          update({ service: next, baseQuery: '', compQuery: '', focus: null })
        }
        onTypeChange={(next) => update({ type: next, mode: null, focus: null })}
      >
        <div className="control">
          <span>Colour by change</span>
          <div className="segmented" role="group" aria-label="Colour by change">
            {MODES.map((m) => (
              <button
                key={m.mode}
                type="button"
                aria-pressed={mode === m.mode}
                data-testid={`mode-${m.mode}`}
                title={m.title}
                onClick={() => update({ mode: m.mode }, 'replace')}
              >
                {m.label}
              </button>
            ))}
          </div>
        </div>
        <div className="control">
          <span>Show</span>
          <div className="segmented" role="group" aria-label="Show">
            <button
              type="button"
              aria-pressed={state.layout === 'diff'}
              data-testid="layout-diff"
              onClick={() => update({ layout: 'diff' }, 'replace')}
            >
              Diff flame graph
            </button>
            <button
              type="button"
              aria-pressed={state.layout === 'split'}
              data-testid="layout-split"
              onClick={() => update({ layout: 'split' }, 'replace')}
            >
              Side by side
            </button>
          </div>
        </div>
        {/* Beside the pickers where there is room: the graph below keeps its height. */}
        <p className="mode-note" data-testid="mode-note">
          {mode === 'normalized'
            ? 'Normalized: each function’s change of share of its window’s total, so windows of any length or load compare.'
            : aggregation === 'gauge'
              ? 'Absolute: the change of each function’s average value (heap in use is averaged over each instance’s snapshots, then summed).'
              : 'Absolute: values per second of collected instance time, so windows of other lengths or fleet sizes compare.'}
        </p>
      </Controls>
      <DiffWindows
        service={name}
        type={type}
        baseline={{ window: baseline, query: baseQuery }}
        comparison={{ window: comparison, query: compQuery }}
        diff={diff.data}
        onQueryChange={(side, query) =>
          update(side === 'baseline' ? { baseQuery: query } : { compQuery: query })
        }
      />
      <div className="compare-presets" role="group" aria-label="Change the comparison">
        <span className="compare-presets-label">Baseline:</span>
        <button
          type="button"
          onClick={() => apply(shiftedComparison(comparison, 'previous', compQuery))}
        >
          previous window
        </button>
        <button
          type="button"
          onClick={() => apply(shiftedComparison(comparison, HOUR_MS, compQuery))}
        >
          1 h earlier
        </button>
        <button
          type="button"
          onClick={() => apply(shiftedComparison(comparison, DAY_MS, compQuery))}
        >
          1 d earlier
        </button>
        <button
          type="button"
          title="Swap baseline and comparison"
          onClick={() =>
            apply({
              baseline: comparison,
              comparison: baseline,
              baseQuery: compQuery,
              compQuery: baseQuery,
            })
          }
        >
          Swap
        </button>
        <AppLink className="button-link" to={exploreOf(baseline, baseQuery)}>
          Explore baseline
        </AppLink>
        <AppLink className="button-link" to={exploreOf(comparison, compQuery)}>
          Explore comparison
        </AppLink>
      </div>
      {timeline.data !== undefined ? (
        <Timeline
          timeline={timeline.data}
          domain={domain}
          deploys={deployMarkers(versionList, domain)}
          deployLink={(marker) => {
            // A filter on both sides (not a version each) goes with the deploy's versions.
            const filter = baseQuery === compQuery ? compQuery : ''
            const c = deployComparison(
              versionList,
              marker.version,
              windowLength(comparison),
              label,
              filter,
            )
            return c && comparisonState(c, { service: name, type })
          }}
          highlights={[
            { kind: 'baseline', window: baseline, label: 'Baseline' },
            { kind: 'comparison', window: comparison, label: 'Comparison' },
          ]}
          brushHint="Drag to choose the comparison window; Shift+drag to choose the baseline."
          onBrush={(window, { shiftKey }) => {
            const w = roundWindow(window)
            update(
              shiftKey ? { baseFrom: w.from, baseTo: w.to } : { compFrom: w.from, compTo: w.to },
            )
          }}
        />
      ) : (
        <TimelinePlaceholder {...(timeline.error ? { error: timeline.error } : {})} />
      )}
      {diff.error !== undefined && diff.data !== undefined && keepsLastAnswer(diff.error) ? (
        <StaleNotice what="the comparison" error={diff.error} onRetry={props.onRetry} />
      ) : null}
      {diff.error !== undefined && (diff.data === undefined || !keepsLastAnswer(diff.error)) ? (
        <ErrorState what="the comparison" error={diff.error} onRetry={props.onRetry} />
      ) : diff.data === undefined || chartTree === null ? (
        <LoadingState what="the comparison" />
      ) : diff.data.baseline.total === 0 && diff.data.comparison.total === 0 ? (
        <section className="notice" data-testid="no-samples-state">
          <h2>No samples in either window</h2>
          <p>
            {name} sent no {type} samples in these windows
            {baseQuery !== '' || compQuery !== '' ? ' matching the selectors' : ''}. Brush other
            windows on the timeline, or pick a preset.
          </p>
        </section>
      ) : (
        <>
          {diff.data.baseline.total === 0 || diff.data.comparison.total === 0 ? (
            <p className="warning" role="status">
              The {diff.data.baseline.total === 0 ? 'baseline' : 'comparison'} has no samples, so
              every function shows as {diff.data.baseline.total === 0 ? 'new' : 'gone'}.
            </p>
          ) : null}
          {sides === null ? (
            <div className="explore-grid">
              {changesTable}
              <FlameGraph
                root={chartTree}
                unit={diff.data.unit}
                total={chartTree.value}
                label="Diff flame graph"
                testId="diff-flamegraph"
                diffMode={mode}
                keyboard
                search={state.search}
                onSearchChange={(search) => update({ search }, 'replace')}
                focus={state.focus}
                exportName={['kiln', name, type, 'diff', fileTime(comparison.from)]}
                coloring={coloring}
                colorBy={state.colorBy}
                onColorByChange={(colorBy) => update({ colorBy }, 'replace')}
              >
                {coloring === null ? (
                  <span className="diff-legend" aria-label="Colours">
                    <span className="swatch swatch-grew" /> grew
                    <span className="swatch swatch-shrank" /> shrank
                    <span className="swatch swatch-same" /> about the same
                  </span>
                ) : null}
              </FlameGraph>
            </div>
          ) : (
            <>
              <div className="side-by-side">
                <FlameGraph
                  root={sides.base}
                  unit={diff.data.unit}
                  total={diff.data.baseline.total}
                  label="Baseline flame graph"
                  testId="baseline-flamegraph"
                  search={state.search}
                  onSearchChange={(search) => update({ search }, 'replace')}
                  focus={state.focus}
                  exportName={['kiln', name, type, 'baseline', fileTime(baseline.from)]}
                  coloring={coloring}
                  colorBy={state.colorBy}
                  onColorByChange={(colorBy) => update({ colorBy }, 'replace')}
                />
                <FlameGraph
                  root={sides.comp}
                  unit={diff.data.unit}
                  total={diff.data.comparison.total}
                  label="Comparison flame graph"
                  testId="comparison-flamegraph"
                  search={state.search}
                  onSearchChange={(search) => update({ search }, 'replace')}
                  focus={state.focus}
                  exportName={['kiln', name, type, 'comparison', fileTime(comparison.from)]}
                  coloring={coloring}
                />
              </div>
              {changesTable}
            </>
          )}
          <EndpointsDiffPanel
            changes={endpointChanges}
            baseQuery={baseQuery}
            compQuery={compQuery}
            onToggle={(endpoint) =>
              update(toggleEndpointOnBoth({ baseQuery, compQuery }, endpoint))
            }
          />
          <PackagesTable
            source={{
              kind: 'diff',
              root: diff.data.root,
              totals: { base: diff.data.baseline.total, comp: diff.data.comparison.total },
            }}
            unit={diff.data.unit}
            search={state.search}
            onSearchChange={(search) => update({ search }, 'replace')}
          />
        </>
      )}
      {fixed ? null : (
        <p className="table-note">
          This comparison moves with time (its link names no fixed times) and refreshes.
        </p>
      )}
    </>
  )
}

/**
 * Seconds of collected instance time of each window, for per-second values; the window's
 * length when its profiles do not say how long they lasted. `null` for gauges (heap in use).
 */
function collectedSeconds(diff: DiffResponse): { base: number; comp: number } | null {
  if (diff.aggregation === 'gauge') return null
  const seconds = (w: DiffResponse['baseline']) =>
    (w.coverageMs > 0 ? w.coverageMs : Math.max(w.to - w.from, 1)) / 1000
  return { base: seconds(diff.baseline), comp: seconds(diff.comparison) }
}
