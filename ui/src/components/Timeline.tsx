import type { AlertView, TimelineResponse } from '@kiln/wire'
import { useRef, useState, type PointerEvent, type ReactNode } from 'react'
import type { DeployMarker } from '../compare-presets'
import { formatNumber, formatRate, formatValue } from '../format'
import { useElementWidth } from '../hooks/use-element-width'
import {
  brushWindow,
  formatTick,
  linearScale,
  niceCeiling,
  seriesPaths,
  timeTicks,
} from '../timeline-geometry'
import { formatDuration, type TimeWindow } from '../time-window'
import type { ViewState } from '../url-state'
import { AppLink } from './AppLink'

const HEIGHT_PX = 150
/**
 * On short screens (a laptop at 1280×720) and narrow windows (where the page is one column) the
 * timeline gives its height to the flame graph; the same bounds as styles.css's media query.
 */
const SHORT_HEIGHT_PX = 104
const SHORT_VIEWPORT_PX = 820
const NARROW_VIEWPORT_PX = 901

function chartHeight(): number {
  return typeof window !== 'undefined' &&
    (window.innerHeight < SHORT_VIEWPORT_PX || window.innerWidth < NARROW_VIEWPORT_PX)
    ? SHORT_HEIGHT_PX
    : HEIGHT_PX
}
const MARGIN = { top: 44, right: 12, bottom: 22, left: 12 }
const MAX_TICKS = 8

/** A window drawn over the chart (the two sides of a comparison). */
export interface TimelineHighlight {
  window: TimeWindow
  kind: 'baseline' | 'comparison'
  label: string
}

interface TimelineProps {
  timeline: TimelineResponse
  /** The chart's time axis; the timeline's own window when absent. */
  domain?: TimeWindow
  deploys?: readonly DeployMarker[]
  alerts?: readonly AlertView[]
  highlights?: readonly TimelineHighlight[]
  /** Where a deploy marker leads (its before/after comparison); `null`: nowhere. */
  deployLink?(marker: DeployMarker): ViewState | null
  alertLink?(alert: AlertView): ViewState | null
  /** A window was brushed; `shiftKey` when Shift was held at the end of the drag. */
  onBrush(window: TimeWindow, modifiers: { shiftKey: boolean }): void
  /** Explains what brushing does here. */
  brushHint: string
  /** A control in the caption (the explore view's _Split by_ select). */
  captionControl?: ReactNode
}

interface Drag {
  x0: number
  x1: number
}

const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
})

/**
 * Totals over time (for heap types: bytes in use), with deploy and alert markers and a brush.
 * Plain SVG: the shapes are few and the geometry lives in `timeline-geometry.ts`.
 */
export function Timeline(props: TimelineProps) {
  const { timeline, deploys = [], alerts = [], highlights = [] } = props
  const domain = props.domain ?? { from: timeline.from, to: timeline.to }
  const container = useRef<HTMLDivElement>(null)
  const widthPx = useElementWidth(container)
  const [drag, setDrag] = useState<Drag | null>(null)
  const [hoverX, setHoverX] = useState<number | null>(null)

  const plotRight = Math.max(MARGIN.left + 1, widthPx - MARGIN.right)
  const heightPx = chartHeight()
  const plotBottom = heightPx - MARGIN.bottom
  const x = linearScale([domain.from, domain.to], [MARGIN.left, plotRight])
  const peak = Math.max(0, ...timeline.values.map((v) => v ?? 0))
  const y = linearScale([0, niceCeiling(peak)], [plotBottom, MARGIN.top])
  const paths = seriesPaths(timeline, domain, x, y)
  const { step: tickStep, ticks } = timeTicks(domain, Math.min(MAX_TICKS, widthPx / 90))
  const empty = timeline.values.every((v) => v === null)

  const localX = (event: PointerEvent<SVGElement>) =>
    event.clientX - event.currentTarget.getBoundingClientRect().left

  function onPointerDown(event: PointerEvent<SVGRectElement>) {
    if (event.button !== 0) return
    event.currentTarget.setPointerCapture(event.pointerId)
    const at = localX(event)
    setDrag({ x0: at, x1: at })
  }

  function onPointerMove(event: PointerEvent<SVGRectElement>) {
    const at = localX(event)
    setHoverX(at)
    if (drag !== null) setDrag({ ...drag, x1: at })
  }

  function onPointerUp(event: PointerEvent<SVGRectElement>) {
    if (drag === null) return
    const window = brushWindow(drag.x0, localX(event), x, domain)
    setDrag(null)
    if (window !== null) props.onBrush(window, { shiftKey: event.shiftKey })
  }

  const hovered = hoverX === null || drag !== null ? null : bucketAt(timeline, x.invert(hoverX))
  const band = (w: TimeWindow) => {
    const x0 = Math.max(MARGIN.left, x(w.from))
    const x1 = Math.min(plotRight, x(w.to))
    return x1 > x0 ? { x: x0, width: x1 - x0 } : null
  }

  return (
    <section className="timeline" aria-label="Timeline" data-testid="timeline">
      <div className="timeline-caption">
        <span data-testid="timeline-caption">{timelineCaption(timeline, peak)}</span>
        {props.captionControl}
        <span className="timeline-readout" aria-live="polite">
          {hovered !== null
            ? `${timeFormat.format(hovered.at)}: ${bucketReadout(hovered, timeline)}`
            : props.brushHint}
        </span>
      </div>
      {timeline.groups ? (
        <ul className="timeline-legend" aria-label={`Split by ${timeline.groupBy ?? 'label'}`}>
          {timeline.groups.map((group, i) => (
            <li key={group.other ? '\u0000other' : `g${group.value}`} data-group={groupName(group)}>
              <span
                className="timeline-swatch"
                style={{ background: GROUP_COLOURS[i % GROUP_COLOURS.length] }}
              />
              {groupName(group)}
            </li>
          ))}
        </ul>
      ) : null}
      <div className="timeline-chart" ref={container}>
        {widthPx > 0 ? (
          <svg width={widthPx} height={heightPx} role="img" aria-label="Totals over time">
            {empty
              ? null
              : [niceCeiling(peak), niceCeiling(peak) / 2].map((v) => (
                  <g key={`y${v}`} className="timeline-ytick" data-testid="timeline-ytick">
                    <line x1={MARGIN.left} x2={plotRight} y1={y(v)} y2={y(v)} />
                    <text x={MARGIN.left + 2} y={y(v) - 3}>
                      {naturalRate(v, timeline)}
                    </text>
                  </g>
                ))}
            {ticks.map((t) => (
              <g key={t} className="timeline-tick">
                <line x1={x(t)} x2={x(t)} y1={MARGIN.top} y2={plotBottom} />
                <text x={x(t)} y={heightPx - 6} textAnchor={tickAnchor(x(t), widthPx)}>
                  {formatTick(t, tickStep)}
                </text>
              </g>
            ))}
            <line
              className="timeline-axis"
              x1={MARGIN.left}
              x2={plotRight}
              y1={plotBottom}
              y2={plotBottom}
            />
            {alerts.map((alert) => {
              // The whole time it fired; its links look at the last hour of a longer one.
              const b = band({ from: alert.startsAt, to: alert.window.to })
              return b ? (
                <rect
                  key={alert.id}
                  className="timeline-alert-band"
                  x={b.x}
                  width={b.width}
                  y={MARGIN.top}
                  height={plotBottom - MARGIN.top}
                />
              ) : null
            })}
            {highlights.map((h) => {
              const b = band(h.window)
              return b ? (
                <rect
                  key={h.kind}
                  className={`timeline-highlight timeline-highlight-${h.kind}`}
                  data-testid={`timeline-${h.kind}`}
                  x={b.x}
                  width={b.width}
                  y={MARGIN.top}
                  height={plotBottom - MARGIN.top}
                />
              ) : null
            })}
            {coverageStrip(timeline).map((c) => {
              const b = band({ from: c.from, to: c.from + timeline.step })
              return b ? (
                <rect
                  key={c.from}
                  className="timeline-coverage"
                  data-testid="timeline-coverage"
                  x={b.x}
                  width={b.width}
                  y={plotBottom - COVERAGE_STRIP_PX}
                  height={COVERAGE_STRIP_PX}
                  opacity={0.25 + 0.75 * c.share}
                >
                  <title>{`${c.instances.toFixed(c.instances < 10 ? 1 : 0)} instances collecting`}</title>
                </rect>
              ) : null
            })}
            <path className="timeline-area" d={paths.area} />
            <path className="timeline-line" d={paths.line} />
            {(timeline.groups ?? []).map((group, i) => (
              <path
                key={group.other ? '\u0000other' : `g${group.value}`}
                className="timeline-group-line"
                data-testid="timeline-group"
                data-group={groupName(group)}
                stroke={GROUP_COLOURS[i % GROUP_COLOURS.length]}
                d={seriesPaths({ ...timeline, values: group.values }, domain, x, y).line}
              />
            ))}
            {deploys.map((m) => (
              <line
                key={m.version}
                className="timeline-deploy-line"
                x1={x(m.at)}
                x2={x(m.at)}
                y1={MARGIN.top - 4}
                y2={plotBottom}
              />
            ))}
            {empty ? (
              <text
                className="timeline-empty"
                x={(MARGIN.left + plotRight) / 2}
                y={(MARGIN.top + plotBottom) / 2}
                textAnchor="middle"
              >
                No samples in this window
              </text>
            ) : null}
            {drag !== null ? (
              <rect
                className="timeline-brush"
                x={Math.min(drag.x0, drag.x1)}
                width={Math.abs(drag.x1 - drag.x0)}
                y={MARGIN.top}
                height={plotBottom - MARGIN.top}
              />
            ) : null}
            {hoverX !== null && drag === null ? (
              <line
                className="timeline-cursor"
                x1={hoverX}
                x2={hoverX}
                y1={MARGIN.top}
                y2={plotBottom}
              />
            ) : null}
            <rect
              className="timeline-overlay"
              data-testid="timeline-brush-area"
              x={MARGIN.left}
              y={MARGIN.top}
              width={plotRight - MARGIN.left}
              height={plotBottom - MARGIN.top}
              onPointerDown={onPointerDown}
              onPointerMove={onPointerMove}
              onPointerUp={onPointerUp}
              onPointerLeave={() => setHoverX(null)}
              onPointerCancel={() => setDrag(null)}
            />
          </svg>
        ) : null}
        {widthPx > 0
          ? deploys.map((m) => (
              <Marker
                key={m.version}
                className="timeline-deploy"
                left={x(m.at)}
                top={2}
                to={props.deployLink?.(m) ?? null}
                testId={`deploy-marker-${m.version}`}
                title={`Deploy of ${m.version} (after ${m.previous}), first seen ${timeFormat.format(m.at)}: compare before and after`}
              >
                ▲ {m.version}
              </Marker>
            ))
          : null}
        {widthPx > 0
          ? alerts.map((alert) => (
              <Marker
                key={alert.id}
                className="timeline-alert"
                left={Math.max(MARGIN.left, x(alert.startsAt))}
                top={22}
                to={props.alertLink?.(alert) ?? null}
                testId="alert-marker"
                title={`Alert ${alert.name} (${alert.status}): compare its window with the one before`}
              >
                ⚠ {alert.name}
              </Marker>
            ))
          : null}
      </div>
    </section>
  )
}

function Marker(props: {
  className: string
  left: number
  top: number
  to: ViewState | null
  testId: string
  title: string
  children: ReactNode
}) {
  const style = { left: props.left, top: props.top }
  return props.to === null ? (
    <span className={props.className} style={style} title={props.title} data-testid={props.testId}>
      {props.children}
    </span>
  ) : (
    <AppLink
      to={props.to}
      className={props.className}
      style={style}
      title={props.title}
      aria-label={props.title}
      data-testid={props.testId}
    >
      {props.children}
    </AppLink>
  )
}

const COVERAGE_STRIP_PX = 3

/**
 * The strip along the axis that shows, per bucket, how many instances collected (scheduled
 * agents collect in some windows only): darker is more, none is a gap in collection, not an
 * idle service. Empty for gauges and for servers that send no coverage.
 */
export function coverageStrip(
  timeline: Pick<TimelineResponse, 'timestamps' | 'coverage' | 'step'>,
): { from: number; instances: number; share: number }[] {
  const coverage = timeline.coverage ?? []
  const most = Math.max(0, ...coverage.map((c) => c ?? 0))
  if (most <= 0) return []
  return timeline.timestamps.flatMap((from, i) => {
    const c = coverage[i]
    return c === null || c === undefined || c <= 0
      ? []
      : [{ from, instances: c / timeline.step, share: c / most }]
  })
}

function bucketAt(
  timeline: TimelineResponse,
  at: number,
): { at: number; value: number | null; coverage: number | null } | null {
  const index = timeline.timestamps.findIndex((t) => at >= t && at < t + timeline.step)
  const start = timeline.timestamps[index]
  if (start === undefined) return null
  // Older servers send no coverage.
  const coverage = timeline.coverage?.[index] ?? null
  return { at: start, value: timeline.values[index] ?? null, coverage }
}

/**
 * What the readout says of a bucket: its value and, for cumulative types, how many instances
 * collected on average (scheduled agents collect in some windows only), so a gap in collection
 * is never read as an idle service.
 */
export function bucketReadout(
  bucket: { value: number | null; coverage: number | null },
  timeline: Pick<TimelineResponse, 'unit' | 'step' | 'aggregation'> & { type?: string },
): string {
  if (bucket.value === null) {
    return timeline.aggregation === 'cumulative' && bucket.coverage === null
      ? 'nothing collected'
      : 'no samples'
  }
  const raw = formatValue(bucket.value, timeline.unit)
  const value =
    timeline.aggregation === 'gauge' ? raw : `${naturalRate(bucket.value, timeline)} (${raw})`
  if (bucket.coverage === null || bucket.coverage <= 0) return value
  const instances = bucket.coverage / timeline.step
  return `${value} · ${instances.toFixed(instances < 10 ? 1 : 0)} instances collecting`
}

/**
 * A bucket's value in the unit people think in: for cumulative types its rate over the bucket
 * (CPU in cores, other times in ms/s, bytes in KiB/s), summed over the instances that collected;
 * gauges (heap in use) as they are.
 */
export function naturalRate(
  value: number,
  timeline: Pick<TimelineResponse, 'unit' | 'step' | 'aggregation'> & { type?: string },
): string {
  if (timeline.aggregation === 'gauge') return formatValue(value, timeline.unit)
  const perSecond = value / (timeline.step / 1000)
  if (timeline.unit === 'nanoseconds' && timeline.type === 'cpu') {
    return `${formatNumber(perSecond / 1e9)} cores`
  }
  return formatRate(perSecond, timeline.unit)
}

/** Colours of a split timeline's lines, told apart also without colour vision (the legend). */
const GROUP_COLOURS = [
  '#0b5cad',
  '#d9480f',
  '#2b8a3e',
  '#862e9c',
  '#c2255c',
  '#5c940d',
  '#1098ad',
  '#e67700',
  '#868e96',
]

/** A group's name in the legend: its label value, "(no label)", or "other". */
export function groupName(group: { value: string; other: boolean }): string {
  return group.other ? 'other' : group.value === '' ? '(no label)' : group.value
}

/** What the timeline's values are, said once above it. */
export function timelineCaption(
  timeline: Pick<TimelineResponse, 'unit' | 'step' | 'aggregation'> & { type?: string },
  peak: number,
): string {
  if (timeline.aggregation === 'gauge') {
    return `In use (average per ${formatDuration(timeline.step)}), peak ${formatValue(peak, timeline.unit)}`
  }
  const what = timeline.type === 'cpu' ? 'CPU in cores' : 'Per second'
  return `${what}, summed over the instances collecting (per ${formatDuration(timeline.step)}); peak ${naturalRate(peak, timeline)}`
}

/** Tick labels near an edge are anchored inside the chart, so they are not cut off. */
function tickAnchor(px: number, widthPx: number): 'start' | 'middle' | 'end' {
  if (px < 40) return 'start'
  if (px > widthPx - 40) return 'end'
  return 'middle'
}

/** Where the timeline will be: same height, so the page does not jump when it arrives. */
export function TimelinePlaceholder({ error }: { error?: { message: string; code: string } }) {
  return (
    <section className="timeline timeline-placeholder" aria-label="Timeline">
      {error === undefined ? (
        <p className="loading" role="status">
          Loading the timeline…
        </p>
      ) : (
        <p className="error-message" role="alert">
          Could not load the timeline: {error.message} (<code>{error.code}</code>)
        </p>
      )}
    </section>
  )
}
