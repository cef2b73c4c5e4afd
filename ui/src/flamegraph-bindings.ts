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
import { sameFunction } from './top-functions'
import type { FunctionRef } from './url-state'

const CELL_HEIGHT_PX = 20
/** Narrower frames are not drawn: they cannot be read and slow big graphs down. */
const MIN_FRAME_WIDTH_PX = 1
const TRANSITION_MS = 300
const FALLBACK_WIDTH_PX = 960
/** `performance.measure` names, read by the browser test that records render times. */
export const RENDER_MEASURE = 'kiln:flamegraph-render'
export const PAINT_MEASURE = 'kiln:flamegraph-first-paint'

export interface FlameChartHandlers<T extends FlameNode> {
  onHover(node: T): void
  onLeave(): void
  /** `zoomed` is false when the chart shows the whole tree again. */
  onZoom(zoomed: boolean): void
  /** `null` when the search term is empty. */
  onSearch(summary: SearchSummary | null): void
}

export interface FlameChartOptions<T extends FlameNode> {
  /** Fill of a frame (search matches keep their highlight); default: a warm palette by name. */
  color?(node: T): string
  /** Attributes of a frame's `<g>` (`data-*`), for styles and tests. */
  attributes?(node: T): Record<string, string>
  /** Names the chart in its `performance.measure` entries. */
  name?: string
}

/** The d3-flame-graph chart behind the `FlameGraph` component. */
export interface FlameChart<T extends FlameNode> {
  /** Draw a (new) tree, keeping the zoomed frame and the search when they still apply. */
  render(root: T): void
  resize(widthPx: number): void
  search(term: string): void
  /** Outline every frame of `fn` and zoom to its heaviest call path; `null` clears. */
  focus(fn: FunctionRef | null): void
  resetZoom(): void
  /** The chart's SVG, for export. */
  svg(): SVGSVGElement | null
  destroy(): void
}

/**
 * d3-flame-graph writes labels at the end of a transition
 * (`.transition().delay(transitionDuration).text(getName)` in its `update()`), so right after a
 * draw the label divs are empty. Fill them now from the `name` attribute it sets at once, so
 * the names are in the DOM as soon as the SVG is.
 */
function fillLabels(container: HTMLElement): void {
  for (const label of container.querySelectorAll<HTMLElement>('g.frame .d3-flame-graph-label')) {
    // Frames narrower than 35 px hide their label: leave those empty (most of a big tree).
    if (label.style.display === 'none') continue
    const name = label.closest('g.frame')?.getAttribute('name')
    if (name != null && label.textContent !== name) label.textContent = name
  }
}

/** The datum d3 keeps on each drawn `<g>` (d3-selection stores it as `__data__`). */
function frameOf<T>(element: Element): FlameGraphFrame<T> | undefined {
  return (element as Element & { __data__?: FlameGraphFrame<T> }).__data__
}

function* frames<T>(root: FlameGraphFrame<T>): Generator<FlameGraphFrame<T>> {
  const stack = [root]
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    yield frame
    if (frame.children) stack.push(...frame.children)
  }
}

export function createFlameChart<T extends FlameNode>(
  container: HTMLElement,
  handlers: FlameChartHandlers<T>,
  options: FlameChartOptions<T> = {},
): FlameChart<T> {
  let drawn = false
  let zoomPath: string[] = []
  let searchTerm = ''
  let focused: FunctionRef | null = null
  const chartName = options.name ?? 'flamegraph'

  const tooltip = Object.assign((_svg: unknown) => undefined, {
    show: (frame: FlameGraphFrame<T>) => handlers.onHover(frame.data),
    hide: () => handlers.onLeave(),
  })

  const chart = flamegraph<T>()
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
      decorate()
    })
  const { color } = options
  if (color !== undefined) {
    chart.setColorMapper((frame, original) => (frame.highlight ? original : color(frame.data)))
  }

  function rootFrame(): FlameGraphFrame<T> {
    // d3-flame-graph replaces the container's datum with the d3-hierarchy root it builds.
    return select(container).datum() as FlameGraphFrame<T>
  }

  /** Labels, the caller's attributes and the focus outline on every drawn frame. */
  function decorate(): void {
    fillLabels(container)
    const { attributes } = options
    if (attributes === undefined && focused === null) return
    for (const element of container.querySelectorAll('g.frame')) {
      const node = frameOf<T>(element)?.data
      if (node === undefined) continue
      if (attributes !== undefined) {
        for (const [name, value] of Object.entries(attributes(node))) {
          if (element.getAttribute(name) !== value) element.setAttribute(name, value)
        }
      }
      element.toggleAttribute('data-focused', focused !== null && sameFunction(node, focused))
    }
  }

  function applySearch(): void {
    if (searchTerm.trim() === '') {
      chart.clear()
      handlers.onSearch(null)
    } else {
      chart.search(searchTerm)
    }
  }

  /** Zoom to the heaviest outermost frame of the focused function. */
  function applyFocus(): void {
    if (focused === null) return
    let heaviest: FlameGraphFrame<T> | undefined
    for (const frame of frames(rootFrame())) {
      if (sameFunction(frame.data, focused) && frame.data.value > (heaviest?.data.value ?? -1)) {
        heaviest = frame
      }
    }
    if (heaviest !== undefined) chart.zoomTo(heaviest)
  }

  /**
   * Time the draw, and for the first one the time until the frames have their widths on screen:
   * d3-flame-graph sets them in a transition, so poll each animation frame; a task queued from
   * an animation frame runs once that frame is painted.
   */
  function measure(start: number, first: boolean): void {
    const detail = { chart: chartName, frames: container.querySelectorAll('g.frame').length }
    performance.measure(RENDER_MEASURE, { start, end: performance.now(), detail })
    if (!first) return
    const rect = container.querySelector('g.frame rect')
    const check = () => {
      if (rect === null || Number(rect.getAttribute('width')) > 0) {
        setTimeout(() => performance.measure(PAINT_MEASURE, { start, detail }))
      } else {
        requestAnimationFrame(check)
      }
    }
    requestAnimationFrame(check)
  }

  return {
    render(root) {
      const start = performance.now()
      const first = !drawn
      // The chart keeps zoom state (`hide`, `fade`) on the data objects: give it its own copy.
      const data = structuredClone(root)
      if (drawn) {
        chart.update(data)
      } else {
        // Nothing to animate from on the first draw: show the frames at once.
        chart.transitionDuration(0)
        select(container).datum(data).call(chart)
        chart.transitionDuration(TRANSITION_MS)
      }
      drawn = true
      if (zoomPath.length > 1) {
        const frame = findFrame(rootFrame(), zoomPath)
        if (frame === undefined) {
          zoomPath = []
          handlers.onZoom(false)
        } else {
          chart.zoomTo(frame)
        }
      } else if (first) {
        applyFocus()
      }
      if (searchTerm !== '') applySearch()
      decorate()
      measure(start, first)
    },
    resize(widthPx) {
      chart.width(widthPx)
      if (drawn) {
        chart.update()
        decorate()
      }
    },
    search(term) {
      // Clearing redraws every frame: skip it when nothing was searched (every first draw).
      if (term.trim() === searchTerm.trim()) {
        searchTerm = term
        return
      }
      searchTerm = term
      if (drawn) {
        applySearch()
        decorate()
      }
    },
    focus(fn) {
      const changed = fn === null || focused === null ? fn !== focused : !sameFunction(fn, focused)
      focused = fn
      if (!drawn || !changed) return
      if (fn === null) chart.resetZoom()
      else applyFocus()
      decorate()
    },
    resetZoom() {
      if (drawn) chart.resetZoom()
    },
    svg() {
      return container.querySelector('svg')
    },
    destroy() {
      chart.destroy()
    },
  }
}
