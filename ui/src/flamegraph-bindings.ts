import type { FlameNode } from '@kiln/wire'
// The chart's own bundle: the package entry also pulls in its tooltip and colour mapper bundles
// (each with a copy of d3), which Kiln does not use.
import flamegraph, { type FlameGraphFrame } from 'd3-flame-graph/dist/d3-flamegraph.js'
import 'd3-flame-graph/dist/d3-flamegraph.css'
import { select } from 'd3-selection'
import {
  findFrame,
  framePath,
  matchesSearch,
  summarizeMatches,
  type SearchSummary,
} from './flame-tree'

const CELL_HEIGHT_PX = 20
/** Narrower frames are not drawn: they cannot be read and slow big graphs down. */
const MIN_FRAME_WIDTH_PX = 1
const TRANSITION_MS = 300
const FALLBACK_WIDTH_PX = 960

export interface FlameChartHandlers {
  onHover(node: FlameNode): void
  onLeave(): void
  /** `zoomed` is false when the chart shows the whole tree again. */
  onZoom(zoomed: boolean): void
  /** `null` when the search term is empty. */
  onSearch(summary: SearchSummary | null): void
}

/** The d3-flame-graph chart behind the `FlameGraph` component. */
export interface FlameChart {
  /** Draw a (new) tree, keeping the zoomed frame and the search when they still apply. */
  render(root: FlameNode): void
  resize(widthPx: number): void
  search(term: string): void
  resetZoom(): void
  destroy(): void
}

/**
 * d3-flame-graph writes labels at the end of a transition
 * (`.transition().delay(transitionDuration).text(getName)` in its `update()`), so right after a
 * draw the label divs are empty. Fill them now from the `name` attribute it sets at once, so
 * the names are in the DOM as soon as the SVG is.
 */
function fillLabels(container: HTMLElement): void {
  for (const frame of container.querySelectorAll('g.frame')) {
    const label = frame.querySelector('.d3-flame-graph-label')
    const name = frame.getAttribute('name')
    if (label !== null && name !== null && label.textContent !== name) label.textContent = name
  }
}

export function createFlameChart(container: HTMLElement, handlers: FlameChartHandlers): FlameChart {
  let drawn = false
  let zoomPath: string[] = []
  let searchTerm = ''

  const tooltip = Object.assign((_svg: unknown) => undefined, {
    show: (frame: FlameGraphFrame<FlameNode>) => handlers.onHover(frame.data),
    hide: () => handlers.onLeave(),
  })

  const chart = flamegraph<FlameNode>()
    .width(container.clientWidth || FALLBACK_WIDTH_PX)
    .cellHeight(CELL_HEIGHT_PX)
    .minFrameSize(MIN_FRAME_WIDTH_PX)
    .transitionDuration(TRANSITION_MS)
    // Root on top, callees below: the widest frames sit next to the controls.
    .inverted(true)
    // Alphabetical siblings keep frames in place across refreshes.
    .sort(true)
    .resetHeightOnZoom(true)
    .tooltip(tooltip)
    .setSearchMatch((frame, term) => matchesSearch(frame.data, term))
    .setSearchHandler((matches) => handlers.onSearch(summarizeMatches(matches)))
    .onClick((frame) => {
      zoomPath = framePath(frame)
      handlers.onZoom(frame.parent !== null)
      fillLabels(container)
    })

  function rootFrame(): FlameGraphFrame<FlameNode> {
    // d3-flame-graph replaces the container's datum with the d3-hierarchy root it builds.
    return select(container).datum() as FlameGraphFrame<FlameNode>
  }

  function applySearch(): void {
    if (searchTerm.trim() === '') {
      chart.clear()
      handlers.onSearch(null)
    } else {
      chart.search(searchTerm)
    }
  }

  return {
    render(root) {
      // The chart keeps zoom state (`hide`, `fade`) on the data objects: give it its own copy.
      const data = structuredClone(root)
      if (drawn) chart.update(data)
      else select(container).datum(data).call(chart)
      drawn = true
      if (zoomPath.length > 1) {
        const frame = findFrame(rootFrame(), zoomPath)
        if (frame === undefined) {
          zoomPath = []
          handlers.onZoom(false)
        } else {
          chart.zoomTo(frame)
        }
      }
      if (searchTerm !== '') applySearch()
      fillLabels(container)
    },
    resize(widthPx) {
      chart.width(widthPx)
      if (drawn) {
        chart.update()
        fillLabels(container)
      }
    },
    search(term) {
      searchTerm = term
      if (drawn) {
        applySearch()
        fillLabels(container)
      }
    },
    resetZoom() {
      if (drawn) chart.resetZoom()
    },
    destroy() {
      chart.destroy()
    },
  }
}
