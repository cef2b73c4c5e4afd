import { mkdirSync, writeFileSync } from 'node:fs'
import type { FlameNode, FlamegraphResponse } from '@kiln/wire'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser } from './helpers/browser.js'
import { getJson, startTestServer, type TestServer } from './helpers/kiln-server.js'
import { ingestUpload, type SyntheticUpload } from './helpers/synthetic-ingest.js'
import { ARTIFACTS, openPage, waitForFlameGraph } from './helpers/ui-page.js'

/*
 * First render of a flame graph of about 10 000 nodes, measured in the page: the UI wraps each
 * render in `performance.measure('kiln:flamegraph-render')` (the synchronous d3-flame-graph draw)
 * and marks the first paint after it ('kiln:flamegraph-first-paint'). Two shapes: a deep tree whose
 * every frame is wide enough to draw, and a wide one whose narrow leaves are culled
 * (`minFrameSize`). The figures go to test/artifacts/render-timing.json; no threshold is asserted.
 */

const RUNS = 3
const MAX_NODES = 20_000

/** 100 call chains of 100 frames: 10 000 nodes, each at least 1/100 of the width. */
function deepStacks(): string[][] {
  return Array.from({ length: 100 }, (_, b) =>
    Array.from({ length: 100 }, (_, d) => `chain${b}_frame${d}@chain${b}.js`),
  )
}

/** 10 modules x 10 handlers x 100 leaves: 10 110 nodes, most leaves narrower than a pixel. */
function wideStacks(): string[][] {
  const stacks: string[][] = []
  for (let m = 0; m < 10; m++) {
    for (let h = 0; h < 10; h++) {
      for (let l = 0; l < 100; l++) {
        stacks.push([
          `module${m}@m${m}.js`,
          `handler${m}_${h}@m${m}.js`,
          `leaf${m}_${h}_${l}@m${m}.js`,
        ])
      }
    }
  }
  return stacks
}

function countNodes(node: FlameNode): number {
  return 1 + node.children.reduce((sum, child) => sum + countNodes(child), 0)
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

describe('UI: flame graph render time of a 10k-node tree', () => {
  let server: TestServer
  let browser: Browser
  const at = Math.floor(Date.now() / 10_000) * 10_000 - 60_000
  const shapes = { deep: deepStacks(), wide: wideStacks() }

  beforeAll(async () => {
    server = await startTestServer()
    for (const [shape, stacks] of Object.entries(shapes)) {
      const upload: SyntheticUpload = {
        service: `tree-${shape}`,
        labels: {},
        at,
        sampleType: ['cpu', 'nanoseconds'],
        // Distinct values, so frames differ in width as in a real profile.
        samples: stacks.map((stack, i) => ({ stack, value: (1 + (i % 7)) * 1e6 })),
      }
      await ingestUpload(server.url, upload)
    }
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await server?.dispose()
  })

  it('records the first render of each shape', async () => {
    const window = `from=${at}&to=${at + 10_000}`
    const results: Record<string, unknown> = {}
    for (const shape of Object.keys(shapes)) {
      const service = `tree-${shape}`
      const api = await getJson<FlamegraphResponse>(
        `${server.url}/api/v1/flamegraph?service=${service}&type=cpu&${window}&maxNodes=${MAX_NODES}`,
      )
      const nodes = countNodes(api.root)
      expect(nodes).toBeGreaterThanOrEqual(10_000)
      const runs: { renderMs: number; firstPaintMs: number; framesDrawn: number }[] = []
      for (let run = 0; run < RUNS; run++) {
        const { page, errors } = await openPage(
          browser,
          `${server.url}/?service=${service}&type=cpu&${window}&maxNodes=${MAX_NODES}`,
        )
        await waitForFlameGraph(page)
        const measure = () =>
          page.evaluate(() => {
            const first = (name: string) =>
              (performance.getEntriesByName(name) as PerformanceMeasure[]).find(
                (entry) => (entry.detail as { chart?: string } | null)?.chart === 'flamegraph',
              )
            const render = first('kiln:flamegraph-render')
            const paint = first('kiln:flamegraph-first-paint')
            return render && paint
              ? {
                  renderMs: render.duration,
                  firstPaintMs: paint.duration,
                  framesDrawn: (render.detail as { frames: number }).frames,
                }
              : null
          })
        await expect.poll(measure).not.toBeNull()
        const m = (await measure())!
        if (shape === 'deep') expect(m.framesDrawn).toBe(nodes)
        else expect(m.framesDrawn).toBeLessThan(nodes)
        expect(errors).toEqual([])
        runs.push(m)
        await page.close()
      }
      results[shape] = {
        nodes,
        framesDrawn: runs[0]!.framesDrawn,
        renderMsMedian: median(runs.map((r) => r.renderMs)),
        firstPaintMsMedian: median(runs.map((r) => r.firstPaintMs)),
        runs,
      }
    }
    const report = {
      measuredAt: new Date().toISOString(),
      browser: `chromium ${browser.version()}`,
      viewport: '1440x1000',
      note: 'renderMs: synchronous d3-flame-graph draw of the first tree; firstPaintMs: from the start of that draw to the first paint after it',
      results,
    }
    mkdirSync(ARTIFACTS, { recursive: true })
    writeFileSync(`${ARTIFACTS}render-timing.json`, `${JSON.stringify(report, null, 2)}\n`)
    process.stdout.write(
      `render timing: ${JSON.stringify(results, (k, v) => (k === 'runs' ? undefined : v))}\n`,
    )
  })
})
