/*
 * Two statements of d3-flame-graph 4.1.3's `update()` (dist/d3-flamegraph.js), rewritten when
 * the UI is built (vite.config.ts). They cost most of the first draw of a big graph after
 * d3's own per-frame work (bench/README.md, "UI render"):
 *
 * - `node.append('foreignObject').append('xhtml:div')`: an HTML label box for every frame, even
 *   the ones too narrow for text. Kiln writes its labels as SVG `<text>` (flamegraph-bindings.ts),
 *   and without the `<foreignObject>` the later `g.select('foreignObject')…text(getName)` chain
 *   selects nothing, so its transition per frame is gone too.
 * - `node.append('svg:rect').transition().delay(transitionDuration / 2).attr('width', width)`:
 *   a transition per new frame even when the duration is 0 (Kiln's first draw); then the width
 *   is set at once.
 *
 * The bindings do not depend on it: they remove any `<foreignObject>` the chart adds (the dev
 * server serves the bundle as published), so the patch only makes the draw cheaper.
 */

const LABEL_BOX = /node\.append\('foreignObject'\)\s*\.append\('xhtml:div'\)/
const FRAME_RECT =
  /node\.append\('svg:rect'\)\s*\.transition\(\)\s*\.delay\(transitionDuration \/ 2\)\s*\.attr\('width', width\)/

/** The file the patch applies to, as a module id ends. */
export const D3_FLAME_GRAPH_BUNDLE = '/d3-flame-graph/dist/d3-flamegraph.js'

/** d3-flame-graph's bundle with both statements rewritten; throws when one is not found. */
export function patchD3FlameGraph(code: string): string {
  for (const [name, pattern] of [
    ['label box', LABEL_BOX],
    ['frame rect', FRAME_RECT],
  ] as const) {
    if (!pattern.test(code)) {
      throw new Error(
        `d3-flame-graph: the ${name} statement (${pattern.source}) is not in ${D3_FLAME_GRAPH_BUNDLE}; ` +
          'its update() changed: review ui/src/d3-flame-graph-patch.ts against the new version',
      )
    }
  }
  return code
    .replace(LABEL_BOX, '/* kiln: no label box, see ui/src/d3-flame-graph-patch.ts */')
    .replace(
      FRAME_RECT,
      // A statement of its own: the bundle has no semicolons, so one starting with `(` would
      // call the previous line's value.
      "if (transitionDuration === 0) node.append('svg:rect').attr('width', width)\n" +
        "else node.append('svg:rect').transition().delay(transitionDuration / 2).attr('width', width)",
    )
}
