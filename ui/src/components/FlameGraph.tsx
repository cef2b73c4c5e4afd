import type { FlameNode } from '@kiln/wire'
import { useEffect, useRef, useState, type PointerEvent } from 'react'
import { formatPercent, type ValueUnit } from '../format'
import type { SearchSummary } from '../flame-tree'
import { createFlameChart, type FlameChart } from '../flamegraph-bindings'
import { FlameTooltip } from './FlameTooltip'

interface FlameGraphProps {
  root: FlameNode
  unit: ValueUnit
  /** What percentages are of: the window's total. */
  total: number
}

interface Hover {
  node: FlameNode
  x: number
  y: number
}

/** The flame graph with its search box, reset-zoom button and tooltip. */
export function FlameGraph({ root, unit, total }: FlameGraphProps) {
  const chartElement = useRef<HTMLDivElement>(null)
  const chart = useRef<FlameChart | null>(null)
  const pointer = useRef({ x: 0, y: 0 })
  const [hover, setHover] = useState<Hover | null>(null)
  const [zoomed, setZoomed] = useState(false)
  const [searchTerm, setSearchTerm] = useState('')
  const [searchSummary, setSearchSummary] = useState<SearchSummary | null>(null)
  const [widthPx, setWidthPx] = useState(0)

  useEffect(() => {
    const element = chartElement.current
    if (element === null) return undefined
    const created = createFlameChart(element, {
      onHover: (node) => setHover({ node, ...pointer.current }),
      onLeave: () => setHover(null),
      onZoom: setZoomed,
      onSearch: setSearchSummary,
    })
    chart.current = created
    let lastWidthPx = element.clientWidth
    setWidthPx(lastWidthPx)
    const observer = new ResizeObserver(() => {
      const width = element.clientWidth
      if (width === lastWidthPx || width === 0) return
      lastWidthPx = width
      setWidthPx(width)
      created.resize(width)
    })
    observer.observe(element)
    return () => {
      observer.disconnect()
      created.destroy()
      chart.current = null
    }
  }, [])

  useEffect(() => {
    chart.current?.render(root)
  }, [root])

  useEffect(() => {
    chart.current?.search(searchTerm)
  }, [searchTerm])

  function onPointerMove(event: PointerEvent<HTMLDivElement>) {
    const bounds = event.currentTarget.getBoundingClientRect()
    pointer.current = { x: event.clientX - bounds.left, y: event.clientY - bounds.top }
    setHover((current) => current && { ...current, ...pointer.current })
  }

  return (
    <section className="flame-panel" aria-label="Flame graph">
      <div className="flame-toolbar">
        <input
          type="search"
          className="flame-search"
          placeholder="Search functions or files"
          aria-label="Search functions or files"
          value={searchTerm}
          onChange={(event) => setSearchTerm(event.target.value)}
        />
        {searchSummary !== null ? (
          <span className="flame-search-summary" role="status">
            {searchSummary.matches} {searchSummary.matches === 1 ? 'match' : 'matches'},{' '}
            {formatPercent(searchSummary.value, total)} of total
          </span>
        ) : null}
        <button
          type="button"
          onClick={() => chart.current?.resetZoom()}
          disabled={!zoomed}
          title="Show the whole tree again"
        >
          Reset zoom
        </button>
        <span className="flame-hint">Click a frame to zoom into it.</span>
      </div>
      <div className="flame-area" onPointerMove={onPointerMove}>
        <div className="flame-chart" data-testid="flamegraph" ref={chartElement} />
        {hover !== null ? (
          <FlameTooltip
            node={hover.node}
            unit={unit}
            total={total}
            x={hover.x}
            y={hover.y}
            containerWidth={widthPx}
          />
        ) : null}
      </div>
    </section>
  )
}
