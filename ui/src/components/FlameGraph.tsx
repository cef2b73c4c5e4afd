import { useEffect, useRef, useState, type PointerEvent, type ReactNode } from 'react'
import { diffColor, needsLightText, type ChartNode } from '../diff-tree'
import { formatPercent, type ValueUnit } from '../format'
import type { SearchSummary } from '../flame-tree'
import { createFlameChart, type FlameChart, type FlameChartOptions } from '../flamegraph-bindings'
import type { ColorBy, PackageColoring } from '../package-colors'
import type { DiffMode, FunctionRef } from '../url-state'
import { DiffScaleLegend } from './DiffScaleLegend'
import { ExportButtons } from './ExportButtons'
import { FlameTooltip } from './FlameTooltip'
import { FrameDetails } from './FrameDetails'
import { KeyboardHelp } from './KeyboardHelp'
import { PackageLegend } from './PackageLegend'

interface FlameGraphProps {
  root: ChartNode
  unit: ValueUnit
  /** What percentages are of: the window's total. */
  total: number
  /** Accessible name of the chart, e.g. "Flame graph". */
  label: string
  /** The search term and its setter; without them the graph has no toolbar (a compact graph). */
  search?: string
  onSearchChange?(term: string): void
  focus?: FunctionRef | null
  /** Colour frames by their change (the nodes carry `diff` values), measured this way. */
  diffMode?: DiffMode
  /** `data-testid` of the chart element. */
  testId?: string
  /** Parts of the export file names; without them there are no SVG/PNG buttons. */
  exportName?: readonly string[]
  /** More controls for the toolbar (export links, legends). */
  children?: ReactNode
  /** The frame to zoom to at the first draw (a path of frame keys, from the URL). */
  zoom?: readonly string[] | null
  /** The reader zoomed (a click, a key, a reset): the path to keep in the URL, `null` for none. */
  onZoomChange?(path: string[] | null): void
  /**
   * The page's main graph: `/` focuses its search, Esc clears the search and the zoom, the arrow
   * keys move the zoom to the parent (↑), the heaviest child (↓) or a sibling (← →), `?` lists
   * the keys.
   */
  keyboard?: boolean
  /**
   * Fill frames by package (and show the legend); `null` or absent: by name, or by change. A diff
   * coloured by package keeps each frame's change in its tooltip and details line.
   */
  coloring?: PackageColoring | null
  /**
   * With a setter, the toolbar offers the choice between colouring by name (by change, for a
   * diff) and by package.
   */
  colorBy?: ColorBy
  onColorByChange?(colorBy: ColorBy): void
  /** Open a function's callers and callees (from the details line, or the `s` key). */
  onOpenSandwich?(fn: FunctionRef): void
}

interface Hover {
  node: ChartNode
  isRoot: boolean
  x: number
  y: number
}

/**
 * Fill and attributes of a diff's frames. `byChange()` is false while the frames are filled by
 * package: the labels then keep their dark text on the light package colours.
 */
function diffOptions(byChange: () => boolean): FlameChartOptions<ChartNode> {
  return {
    color: (node) => (node.diff ? diffColor(node.diff) : 'rgb(222, 226, 230)'),
    attributes: (node): Record<string, string> =>
      node.diff
        ? {
            'data-change': node.diff.kind,
            ...(byChange() && needsLightText(node.diff) ? { 'data-light': '' } : {}),
          }
        : {},
  }
}

/**
 * The flame graph with its search box, reset-zoom button, export buttons, the colour scale of a
 * diff, the tooltip and, under a graph with a toolbar, a line with the hovered or zoomed frame's
 * details and a button that copies its name.
 */
export function FlameGraph(props: FlameGraphProps) {
  const { root, unit, total, search, onSearchChange, focus = null, diffMode } = props
  const { coloring = null, onOpenSandwich } = props
  const testId = props.testId ?? 'flamegraph'
  const chartElement = useRef<HTMLDivElement>(null)
  const chart = useRef<FlameChart<ChartNode> | null>(null)
  const pointer = useRef({ x: 0, y: 0 })
  const [hover, setHover] = useState<Hover | null>(null)
  /** The frame zoomed to; `null`: the whole tree. */
  const [zoomed, setZoomed] = useState<ChartNode | null>(null)
  const [searchSummary, setSearchSummary] = useState<SearchSummary | null>(null)
  // Chosen once per chart: a graph is a diff or not for its whole life (its parent keys it).
  const [isDiff] = useState(diffMode !== undefined)

  const zoomChange = useRef(props.onZoomChange)
  zoomChange.current = props.onZoomChange
  const initialZoom = useRef(props.zoom)
  const searchInput = useRef<HTMLInputElement>(null)
  const { keyboard = false } = props
  const [helpOpen, setHelpOpen] = useState(false)
  const helpShown = useRef(helpOpen)
  helpShown.current = helpOpen
  // Read by the diff's attributes at each decoration (the recolour effect below redraws).
  const coloredByChange = useRef(coloring === null)
  coloredByChange.current = coloring === null

  useEffect(() => {
    const element = chartElement.current
    if (element === null) return undefined
    const created = createFlameChart<ChartNode>(
      element,
      {
        onHover: (node, isRoot) => setHover({ node, isRoot, ...pointer.current }),
        onLeave: () => setHover(null),
        onZoom: setZoomed,
        onZoomPath: (path) => zoomChange.current?.(path),
        onSearch: setSearchSummary,
      },
      { ...(isDiff ? diffOptions(() => coloredByChange.current) : {}), name: testId },
    )
    if (initialZoom.current) created.zoomToPath(initialZoom.current)
    chart.current = created
    let lastWidthPx = element.clientWidth
    const observer = new ResizeObserver(() => {
      const width = element.clientWidth
      if (width === lastWidthPx || width === 0) return
      lastWidthPx = width
      created.resize(width)
    })
    observer.observe(element)
    return () => {
      observer.disconnect()
      created.destroy()
      chart.current = null
    }
  }, [isDiff, testId])

  // Before the first draw (the effects run in order), so it draws in these colours at once.
  useEffect(() => {
    chart.current?.recolor(coloring?.color)
  }, [coloring])

  // The zoomed frame is never the root (zooming back to it reports `null`); a hovered one can be.
  const sandwichOf = (node: ChartNode | null, isRoot = false): FunctionRef | null =>
    node === null || isRoot
      ? null
      : { name: node.name, ...(node.file !== undefined ? { file: node.file } : {}) }
  const openSandwich = useRef<() => void>(() => undefined)
  openSandwich.current = () => {
    const fn = sandwichOf(zoomed)
    if (fn !== null) onOpenSandwich?.(fn)
  }

  useEffect(() => {
    if (!keyboard) return undefined
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return
      // While the list of keys is open, keys close it and do nothing else.
      if (helpShown.current) {
        if (event.key === 'Escape' || event.key === '?') {
          event.preventDefault()
          setHelpOpen(false)
        }
        return
      }
      const target = event.target as HTMLElement | null
      const typing =
        target !== null &&
        (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT')
      if (event.key === 'Escape') {
        if (target === searchInput.current) searchInput.current?.blur()
        else if (typing) return
        onSearchChange?.('')
        chart.current?.resetZoom()
        return
      }
      if (typing) return
      const steps: Record<string, 'up' | 'down' | 'left' | 'right'> = {
        ArrowUp: 'up',
        ArrowDown: 'down',
        ArrowLeft: 'left',
        ArrowRight: 'right',
      }
      if (event.key === '/') {
        event.preventDefault()
        searchInput.current?.focus()
      } else if (event.key === '?') {
        event.preventDefault()
        setHelpOpen(true)
      } else if (event.key === 's') {
        openSandwich.current()
      } else if (steps[event.key] !== undefined) {
        event.preventDefault()
        chart.current?.step(steps[event.key]!)
      }
    }
    document.addEventListener('keydown', onKey)
    return () => document.removeEventListener('keydown', onKey)
  }, [keyboard, onSearchChange])

  // Focus before render: the first draw then zooms to the focused function.
  useEffect(() => {
    chart.current?.focus(focus)
  }, [focus])

  useEffect(() => {
    chart.current?.render(root)
  }, [root])

  useEffect(() => {
    chart.current?.search(search ?? '')
  }, [search])

  function onPointerMove(event: PointerEvent<HTMLDivElement>) {
    const bounds = event.currentTarget.getBoundingClientRect()
    pointer.current = { x: event.clientX - bounds.left, y: event.clientY - bounds.top }
    setHover((current) => current && { ...current, ...pointer.current })
  }

  const toolbar = onSearchChange !== undefined
  return (
    <section className="flame-panel" aria-label={props.label}>
      {toolbar ? (
        <div className="flame-toolbar">
          <input
            type="search"
            className="flame-search"
            placeholder="Search functions or files"
            aria-label="Search functions or files"
            data-testid={`${testId}-search`}
            ref={searchInput}
            value={search ?? ''}
            onChange={(event) => onSearchChange(event.target.value)}
          />
          {searchSummary !== null ? (
            <span className="flame-search-summary" role="status">
              {searchSummary.matches} {searchSummary.matches === 1 ? 'match' : 'matches'}
              {isDiff ? '' : `, ${formatPercent(searchSummary.value, total)} of total`}
            </span>
          ) : null}
          <button
            type="button"
            onClick={() => chart.current?.resetZoom()}
            disabled={zoomed === null}
            title="Show the whole tree again"
          >
            Reset zoom
          </button>
          {props.exportName !== undefined ? (
            <ExportButtons name={props.exportName} svg={() => chart.current?.svg() ?? null} />
          ) : null}
          {props.onColorByChange !== undefined ? (
            <label className="flame-color-by">
              <span>Colour</span>
              <select
                data-testid={`${testId}-color-by`}
                value={props.colorBy ?? 'name'}
                onChange={(event) =>
                  props.onColorByChange?.(event.target.value === 'package' ? 'package' : 'name')
                }
              >
                <option value="name">{isDiff ? 'by change' : 'by name'}</option>
                <option value="package">by package</option>
              </select>
            </label>
          ) : null}
          {diffMode !== undefined && coloring === null ? (
            <DiffScaleLegend root={root} mode={diffMode} unit={unit} />
          ) : null}
          {props.children}
          <span className="flame-hint">Click a frame to zoom into it.</span>
        </div>
      ) : null}
      {coloring !== null ? (
        <PackageLegend legend={coloring.legend} testId={`${testId}-legend`} />
      ) : null}
      <div className="flame-area" onPointerMove={onPointerMove}>
        <div className="flame-chart" data-testid={testId} ref={chartElement} />
        {hover !== null ? (
          <FlameTooltip
            node={hover.node}
            unit={unit}
            total={total}
            mode={diffMode}
            x={hover.x}
            y={hover.y}
          />
        ) : null}
      </div>
      {toolbar ? (
        <FrameDetails
          node={hover?.node ?? zoomed}
          unit={unit}
          total={total}
          mode={diffMode}
          testId={`${testId}-details`}
          keyboard={keyboard}
          sandwichKey={onOpenSandwich !== undefined}
          {...(onOpenSandwich !== undefined &&
          sandwichOf(hover?.node ?? zoomed, hover?.isRoot) !== null
            ? {
                onOpenSandwich: (node: ChartNode) => {
                  const fn = sandwichOf(node)
                  if (fn !== null) onOpenSandwich(fn)
                },
              }
            : {})}
        />
      ) : null}
      {helpOpen ? (
        <KeyboardHelp
          sandwichKey={onOpenSandwich !== undefined}
          onClose={() => setHelpOpen(false)}
        />
      ) : null}
    </section>
  )
}
