// Types for `d3-flame-graph/dist/d3-flamegraph.js` (a UMD bundle whose `module.exports` is the
// `flamegraph` factory), which tsconfig.json maps here with `paths`. The package's own
// `index.d.ts` (4.1.3) is a global script (`declare module "d3-flame-graph"`, no export) that
// would merge with any declaration of ours, and it lacks the tooltip object, `zoomTo` and
// `resetHeightOnZoom`. These are the parts Kiln uses, typed from its `src/flamegraph.js`.

/** The d3-hierarchy node the chart builds around each datum. */
export interface FlameGraphFrame<T> {
  readonly data: T
  readonly parent: FlameGraphFrame<T> | null
  readonly children?: FlameGraphFrame<T>[]
  readonly depth: number
  /** The width the frame is drawn with: 0 when hidden by a zoom. */
  readonly value: number
  /** Set on the frames the last search matched. */
  readonly highlight?: boolean
}

/** Called with the chart's SVG selection once, then `show`/`hide` on hover. */
export interface FlameGraphTooltip<T> {
  (svg: unknown): void
  show(frame: FlameGraphFrame<T>, element: SVGGElement): unknown
  hide(): unknown
  destroy?(): void
}

export interface FlameGraph<T> {
  /** Draw into a d3 selection whose datum is the root of the tree. */
  (selection: unknown): void
  width(px: number): this
  cellHeight(px: number): this
  minFrameSize(px: number): this
  transitionDuration(ms: number): this
  inverted(on: boolean): this
  sort(on: boolean): this
  resetHeightOnZoom(on: boolean): this
  tooltip(tooltip: FlameGraphTooltip<T>): this
  onClick(handler: (frame: FlameGraphFrame<T>) => void): this
  setSearchMatch(match: (frame: FlameGraphFrame<T>, term: string) => boolean): this
  setSearchHandler(
    handler: (matches: FlameGraphFrame<T>[], matchedValue: number, totalValue: number) => void,
  ): this
  /** Fill of each frame; `originalColor` is the default palette's (magenta for search matches). */
  setColorMapper(mapper: (frame: FlameGraphFrame<T>, originalColor: string) => string): this
  search(term: string): void
  clear(): void
  zoomTo(frame: FlameGraphFrame<T>): void
  resetZoom(): void
  /** Replace the data (a new root datum) or, without one, redraw. */
  update(data?: T): this
  destroy(): this
}

export default function flamegraph<T>(): FlameGraph<T>
