import type { FlameNode } from '@kiln/wire'
// The chart's own bundle: the package entry also pulls in its tooltip and colour mapper bundles
// (each with a copy of d3), which Kiln does not use.
import flamegraph, { type FlameGraphFrame } from 'd3-flame-graph/dist/d3-flamegraph.js'
import 'd3-flame-graph/dist/d3-flamegraph.css'
import { select } from 'd3-selection'
import { fitLabel } from './flame-export'
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
  /** `isRoot`: the frame is the whole tree's ("total"). */
  onHover(node: T, isRoot: boolean): void
  onLeave(): void
  /** The frame zoomed to (by a click, a focus or a refresh); `null`: the whole tree again. */
  onZoom(node: T | null): void
  /**
   * The path of the frame zoomed to by the reader (a click, a key, a reset), for the URL;
   * `null`: the whole tree. Not called when a refresh or a focus moves the zoom.
   */
  onZoomPath?(path: string[] | null): void
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
  /** Zoom to the frame at `path` (from the URL), now or at the first draw. */
  zoomToPath(path: readonly string[]): void
  /** Move the zoom to the parent, the heaviest child, or the previous or next sibling. */
  step(direction: 'up' | 'down' | 'left' | 'right'): void
  /** Fill frames with `color` (search matches keep their highlight); `undefined`: the default. */
  recolor(color: ((node: T) => string) | undefined): void
  /** The chart's SVG, for export. */
  svg(): SVGSVGElement | null
  destroy(): void
}

const SVG_NS = 'http://www.w3.org/2000/svg'
/** The label font (`.flame-chart .d3-flame-graph-label` in styles.css), to measure a character. */
const LABEL_FONT = '12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace'
const LABEL_X_PX = 4
/** Baseline of a label in a 20 px cell: 12 px text, vertically centred. */
const LABEL_BASELINE_PX = 14

/** Width of one character of the (monospace) label font, measured once; `undefined`: no canvas. */
let labelCharPx: number | null = null
function measureLabelChar(): number | undefined {
  if (labelCharPx === null) {
    const context = document.createElement('canvas').getContext('2d')
    if (context !== null) context.font = LABEL_FONT
    labelCharPx = (context?.measureText('0123456789').width ?? 0) / 10
  }
  return labelCharPx > 0 ? labelCharPx : undefined
}

/**
 * Labels as SVG `<text>`, cut to the frame's width, in place of d3-flame-graph's.
 *
 * d3-flame-graph gives every frame a `<foreignObject><div class="d3-flame-graph-label">`, even
 * the ones too narrow for text (it hides those with `display: none`), and writes the name at
 * the end of a transition per frame (`.transition().delay(transitionDuration).text(getName)` in
 * its `update()`): an HTML layout box and a timer per frame, most of the first draw of a
 * 10k-frame graph (bench/README.md, "UI render"). The build leaves those boxes out
 * (d3-flame-graph-patch.ts); where the bundle is not patched (`vite dev`) each draw removes the
 * ones it added. Either way a frame gets a `<text>` (same class, for styles and tests) when it
 * has room for two characters, the name cut with an ellipsis as the export does (`fitLabel`).
 */
function writeLabel(frame: Element, charPx: number | undefined): void {
  // A frame d3-flame-graph has just added ends with its `<foreignObject>`; ours with the label.
  let last = frame.lastElementChild
  if (last?.localName === 'foreignObject') {
    last.remove()
    last = frame.lastElementChild
  }
  let text = last?.localName === 'text' ? last : null
  // d3-flame-graph sets `width` on the `<g>` at once (the `<rect>`'s follows in a transition).
  const label = fitLabel(
    frame.getAttribute('name') ?? '',
    Number(frame.getAttribute('width')),
    charPx,
  )
  if (label === '') {
    text?.remove()
    return
  }
  if (text === null) {
    text = document.createElementNS(SVG_NS, 'text')
    text.setAttribute('class', 'd3-flame-graph-label')
    text.setAttribute('x', String(LABEL_X_PX))
    text.setAttribute('y', String(LABEL_BASELINE_PX))
    frame.append(text)
  }
  if (text.textContent !== label) text.textContent = label
}

/** The datum d3 keeps on each drawn `<g>` (d3-selection stores it as `__data__`). */
function frameOf<T>(element: Element): FlameGraphFrame<T> | undefined {
  return (element as Element & { __data__?: FlameGraphFrame<T> }).__data__
}

/** A copy of each node (the values they point to are shared: the chart only reads those). */
function copyTree<T extends FlameNode>(node: T): T {
  return { ...node, children: node.children.map((child) => copyTree(child as T)) }
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
  let searchMatches = 0
  let focused: FunctionRef | null = null
  const chartName = options.name ?? 'flamegraph'
  // What d3-flame-graph draws into. The first draw happens while it is out of the document, so
  // the browser does not restyle the page for each of the thousands of elements d3 adds and
  // sets attributes on (the worst-case draw took 1.2 s attached, 0.9 s detached).
  const host = document.createElement('div')

  const tooltip = Object.assign((_svg: unknown) => undefined, {
    show: (frame: FlameGraphFrame<T>) => handlers.onHover(frame.data, frame.parent === null),
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
    .setSearchHandler((matches) => {
      searchMatches = matches.length
      handlers.onSearch(summarizeMatches(matches))
    })
    .onClick((frame) => {
      zoomPath = framePath(frame)
      handlers.onZoom(frame.parent !== null ? frame.data : null)
      handlers.onZoomPath?.(frame.parent !== null ? zoomPath : null)
      decorate()
    })
  function setColor(color: ((node: T) => string) | undefined): void {
    chart.setColorMapper((frame, original) =>
      frame.highlight || color === undefined ? original : color(frame.data),
    )
  }
  if (options.color !== undefined) setColor(options.color)

  function rootFrame(): FlameGraphFrame<T> {
    // d3-flame-graph replaces the host's datum with the d3-hierarchy root it builds.
    return select(host).datum() as FlameGraphFrame<T>
  }

  /**
   * Labels, the caller's attributes, the focus outline and the search match on every drawn
   * frame. While a search matches, the frames that do not are dimmed (styles.css), so a narrow
   * match stands out.
   */
  /** Every attribute name `options.attributes` has returned, to remove the ones it drops. */
  const attributeNames = new Set<string>()
  function decorate(): void {
    const charPx = measureLabelChar()
    const { attributes } = options
    const searching = searchTerm.trim() !== '' && searchMatches > 0
    host.toggleAttribute('data-searching', searching)
    for (const element of host.querySelectorAll('g.frame')) {
      writeLabel(element, charPx)
      const frame = frameOf<T>(element)
      if (frame === undefined) continue
      const node = frame.data
      if (attributes !== undefined) {
        const wanted = attributes(node)
        for (const [name, value] of Object.entries(wanted)) {
          attributeNames.add(name)
          if (element.getAttribute(name) !== value) element.setAttribute(name, value)
        }
        // One the caller gave before and not now (a diff's `data-light` once it is coloured by
        // package) goes.
        for (const name of attributeNames) {
          if (!(name in wanted) && element.hasAttribute(name)) element.removeAttribute(name)
        }
      }
      const isFocused = focused !== null && sameFunction(node, focused)
      if (element.hasAttribute('data-focused') !== isFocused) {
        element.toggleAttribute('data-focused', isFocused)
      }
      const isMatch = searching && frame.highlight === true
      if (element.hasAttribute('data-match') !== isMatch) {
        element.toggleAttribute('data-match', isMatch)
      }
    }
  }

  function applySearch(): void {
    if (searchTerm.trim() === '') {
      searchMatches = 0
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
    const detail = { chart: chartName, frames: host.querySelectorAll('g.frame').length }
    performance.measure(RENDER_MEASURE, { start, end: performance.now(), detail })
    if (!first) return
    const rect = host.querySelector('g.frame rect')
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
      const data = copyTree(root)
      if (drawn) {
        chart.update(data)
      } else {
        // Nothing to animate from on the first draw: show the frames at once.
        chart.transitionDuration(0)
        select(host).datum(data).call(chart)
        chart.transitionDuration(TRANSITION_MS)
      }
      drawn = true
      if (zoomPath.length > 1) {
        const frame = findFrame(rootFrame(), zoomPath)
        if (frame === undefined) {
          zoomPath = []
          handlers.onZoom(null)
        } else {
          chart.zoomTo(frame)
        }
      } else if (first) {
        applyFocus()
      }
      if (searchTerm !== '') applySearch()
      decorate()
      if (first) container.append(host)
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
      zoomPath = []
      handlers.onZoom(null)
      handlers.onZoomPath?.(null)
      if (drawn) decorate()
    },
    zoomToPath(path) {
      zoomPath = [...path]
      if (!drawn) return
      const frame = findFrame(rootFrame(), zoomPath)
      if (frame === undefined) return
      chart.zoomTo(frame)
      handlers.onZoom(frame.parent !== null ? frame.data : null)
      decorate()
    },
    step(direction) {
      if (!drawn) return
      const root = rootFrame()
      const current = (zoomPath.length > 1 ? findFrame(root, zoomPath) : undefined) ?? root
      let next: FlameGraphFrame<T> | undefined
      if (direction === 'up') next = current.parent ?? undefined
      else if (direction === 'down') {
        next = [...(current.children ?? [])].sort((a, b) => (b.value ?? 0) - (a.value ?? 0))[0]
      } else {
        const siblings = current.parent?.children ?? []
        const at = siblings.indexOf(current)
        next = siblings[direction === 'left' ? at - 1 : at + 1]
      }
      if (next === undefined) return
      zoomPath = framePath(next)
      chart.zoomTo(next)
      handlers.onZoom(next.parent !== null ? next.data : null)
      handlers.onZoomPath?.(next.parent !== null ? zoomPath : null)
      decorate()
    },
    recolor(color) {
      setColor(color ?? options.color)
      if (drawn) {
        chart.update()
        decorate()
      }
    },
    svg() {
      return host.querySelector('svg')
    },
    destroy() {
      chart.destroy()
      host.remove()
    },
  }
}
