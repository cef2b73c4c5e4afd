import { describe, expect, it } from 'vitest'
// The bundle as installed, as text (Vite's `?raw`): the patch must apply to this version.
import bundle from 'd3-flame-graph/dist/d3-flamegraph.js?raw'
import { patchD3FlameGraph } from './d3-flame-graph-patch'

describe('patchD3FlameGraph', () => {
  it('drops the label box and the zero-length rect transition of the installed bundle', () => {
    expect(bundle).toContain("append('foreignObject')")
    const patched = patchD3FlameGraph(bundle)
    expect(patched).not.toContain("append('foreignObject')")
    expect(patched).not.toContain("append('xhtml:div')")
    expect(patched).toContain("if (transitionDuration === 0) node.append('svg:rect')")
    // Still a script.
    expect(() => new Function(patched)).not.toThrow()
  })

  it('refuses a bundle whose update() changed', () => {
    expect(() => patchD3FlameGraph('node.append("foreignObject")')).toThrow(/label box/)
    const labelOnly = "node.append('foreignObject').append('xhtml:div')"
    expect(() => patchD3FlameGraph(labelOnly)).toThrow(/frame rect/)
  })
})
