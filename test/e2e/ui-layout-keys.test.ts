import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser } from './helpers/browser.js'
import { startTestServer, type TestServer } from './helpers/kiln-server.js'
import { ingestAll, type SyntheticUpload } from './helpers/synthetic-ingest.js'
import {
  CPU_SERVICE,
  CPU_STACKS,
  INSTANCES,
  MS,
  UPLOAD_MS,
  cpuUploads,
} from './helpers/ui-fixtures.js'
import { rowFunctions, screenshot, waitForFlameGraph } from './helpers/ui-page.js'

/*
 * The rest of the on-call walk-through (issue 21): the flame graph in view on a laptop screen and
 * in a narrow window, in explore and in compare; the list of keys behind `?`; the sibling arrow
 * keys; and the empty states that name their cause and offer the way out.
 */

const MINUTE = 60_000
/** A service whose profiles stopped 40 minutes ago. */
const IDLE_SERVICE = 'aaa-batch'
const IDLE_STACK = ['main@batch.js', 'nightly@batch.js']
/** Rows of frames that must fit under the graph's top without scrolling. */
const ROWS_IN_VIEW = 12

/** A frame's function name, from a zoom path key (`"main (app.js)"`). */
const functionOf = (key: string) => key.split(' (')[0]!

/** The callees of `caller` on the fixture's stacks (either version), in the graph's order. */
function calleesOf(caller: string): string[] {
  const names = new Set<string>()
  for (const stacks of Object.values(CPU_STACKS)) {
    for (const { stack } of stacks) {
      const at = stack.findIndex((frame) => frame.split('@')[0] === caller)
      if (at >= 0 && at + 1 < stack.length) names.add(stack[at + 1]!.split('@')[0]!)
    }
  }
  // The graph sorts siblings by name, so they keep their places across refreshes.
  return [...names].sort()
}

describe('UI: screens, keys and empty states for the engineer on call', () => {
  let server: TestServer
  let browser: Browser
  const end = Math.floor(Date.now() / UPLOAD_MS) * UPLOAD_MS - UPLOAD_MS
  const deployAt = end - 10 * MINUTE
  const idle: SyntheticUpload[] = Array.from({ length: 6 }, (_, k) => ({
    service: IDLE_SERVICE,
    labels: {},
    at: end - 46 * MINUTE + k * UPLOAD_MS,
    sampleType: ['cpu', 'nanoseconds'],
    samples: [{ stack: IDLE_STACK, value: 50 * MS }],
  }))
  const errors: string[] = []
  const explore = `/?service=${CPU_SERVICE}&type=cpu&range=1h`
  const compare = () =>
    `/?view=diff&service=${CPU_SERVICE}&type=cpu` +
    `&baseFrom=${deployAt - 10 * MINUTE}&baseTo=${deployAt}&compFrom=${deployAt}&compTo=${end}`

  async function open(path: string, viewport = { width: 1440, height: 1000 }): Promise<Page> {
    const page = await browser.newPage({ viewport })
    page.on('pageerror', (error) => errors.push(error.message))
    await page.goto(`${server.url}${path}`)
    return page
  }

  /**
   * The graph's first rows are on screen as the page opens: every frame of the (shallow) fixture
   * graph, and room under the graph's top for `ROWS_IN_VIEW` rows of frames.
   */
  async function expectGraphInView(page: Page, testId: string): Promise<void> {
    await waitForFlameGraph(page, testId)
    const view = await page.locator(`[data-testid=${testId}] svg`).evaluate((svg) => {
      const rects = Array.from(svg.querySelectorAll('g.frame rect'), (r) =>
        r.getBoundingClientRect(),
      )
      return {
        top: svg.getBoundingClientRect().top,
        rowPx: rects[0]!.height,
        framesBottom: Math.max(...rects.map((r) => r.bottom)),
        height: window.innerHeight,
        scrollY: window.scrollY,
        overflowX: document.documentElement.scrollWidth - window.innerWidth,
      }
    })
    expect(view.scrollY).toBe(0)
    expect(view.overflowX).toBeLessThanOrEqual(0)
    expect(view.framesBottom).toBeLessThanOrEqual(view.height)
    expect(view.height - view.top).toBeGreaterThanOrEqual(ROWS_IN_VIEW * view.rowPx)
  }

  beforeAll(async () => {
    server = await startTestServer()
    await ingestAll(server.url, [...idle, ...cpuUploads(deployAt)])
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await server?.dispose()
    expect(errors).toEqual([])
  })

  it('shows the flame graph before the top functions in an 800 px wide window', async () => {
    const page = await open(explore, { width: 800, height: 900 })
    await expectGraphInView(page, 'flamegraph')
    // One column: the graph first, the table under it.
    const tops = await page.evaluate(() =>
      ['.flame-panel', '.top-panel'].map((s) => document.querySelector(s)!.getBoundingClientRect()),
    )
    expect(tops[1]!.top).toBeGreaterThan(tops[0]!.bottom)
    await screenshot(page, 'explore-800')
    await page.close()
  })

  it('shows the diff flame graph in view at 1280×720 and at 800 px wide', async () => {
    for (const viewport of [
      { width: 1280, height: 720 },
      { width: 800, height: 900 },
    ]) {
      const page = await open(compare(), viewport)
      await expectGraphInView(page, 'diff-flamegraph')
      await page.close()
    }
  })

  it('lists the keys behind ?, and Esc closes the list without resetting the graph', async () => {
    const page = await open(explore)
    await waitForFlameGraph(page)
    const help = page.getByTestId('keyboard-help')
    const zoomParam = () => new URL(page.url()).searchParams.get('zoom')
    await page.keyboard.press('ArrowDown')
    await expect.poll(zoomParam).not.toBeNull()
    const zoom = zoomParam()

    await page.keyboard.press('?')
    await help.waitFor()
    expect(await help.getByRole('heading').textContent()).toBe('Keyboard shortcuts')
    const keys = await help
      .locator('tr')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-keys')))
    expect(keys).toEqual(['/', 'Esc', '↑', '↓', '← →', 's', '?'])
    await screenshot(page, 'keyboard-help')
    // While the list is open, the arrows do not move the zoom.
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Escape')
    await expect.poll(() => help.count()).toBe(0)
    expect(zoomParam()).toBe(zoom)

    // The close button works too; `?` typed into the search is just text.
    await page.keyboard.press('?')
    await help.waitFor()
    await page.getByTestId('keyboard-help-close').click()
    await expect.poll(() => help.count()).toBe(0)
    await page.keyboard.press('/')
    await page.keyboard.type('?')
    expect(await page.getByTestId('flamegraph-search').inputValue()).toBe('?')
    expect(await help.count()).toBe(0)
    await page.close()
  })

  it('opens the list of keys on the diff flame graph, without the explore-only s', async () => {
    const page = await open(compare())
    await waitForFlameGraph(page, 'diff-flamegraph')
    await page.keyboard.press('?')
    const help = page.getByTestId('keyboard-help')
    await help.waitFor()
    const keys = await help
      .locator('tr')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-keys')))
    expect(keys).toEqual(['/', 'Esc', '↑', '↓', '← →', '?'])
    await page.keyboard.press('Escape')
    await expect.poll(() => help.count()).toBe(0)
    await page.close()
  })

  it('moves between sibling frames with ← and →, stopping at the ends', async () => {
    const page = await open(explore)
    await waitForFlameGraph(page)
    const zoomed = () => {
      const param = new URL(page.url()).searchParams.get('zoom')
      return param === null ? [] : (JSON.parse(param) as string[]).map(functionOf)
    }
    const siblings = calleesOf('main')
    expect(siblings.length).toBeGreaterThanOrEqual(3)
    // ↓ twice: main, then its heaviest callee.
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('ArrowDown')
    await expect.poll(() => zoomed().length).toBe(3)
    let at = siblings.indexOf(zoomed()[2]!)
    expect(at).toBeGreaterThanOrEqual(0)

    // → to the last sibling, one step at a time, then once more: it stays there.
    for (; at < siblings.length - 1; at++) {
      await page.keyboard.press('ArrowRight')
      await expect.poll(zoomed).toEqual(['total', 'main', siblings[at + 1]])
    }
    await page.keyboard.press('ArrowRight')
    // ← back to the first, and once more.
    for (; at > 0; at--) {
      await page.keyboard.press('ArrowLeft')
      await expect.poll(zoomed).toEqual(['total', 'main', siblings[at - 1]])
    }
    await page.keyboard.press('ArrowLeft')
    await page.keyboard.press('ArrowUp')
    await expect.poll(zoomed).toEqual(['total', 'main'])
    await expect.poll(() => page.getByTestId('flamegraph-details').textContent()).toContain('main')
    await page.close()
  })

  it('names a filter that matches nothing, and clears it', async () => {
    const filter = `{instance="${INSTANCES[0]}-gone"}`
    const page = await open(`${explore}&query=${encodeURIComponent(filter)}`)
    const cause = page.getByTestId('no-samples-cause')
    await cause.waitFor()
    const text = await cause.textContent()
    expect(text).toContain(filter)
    expect(text).not.toContain('agent')
    await page.getByTestId('clear-filter').click()
    await waitForFlameGraph(page)
    expect(new URL(page.url()).searchParams.get('query')).toBeNull()
    await page.close()
  })

  it('says a window is after the last profile, and jumps to the last data', async () => {
    const page = await open(`/?service=${IDLE_SERVICE}&type=cpu&range=15m`)
    const cause = page.getByTestId('no-samples-cause')
    await cause.waitFor()
    expect(await cause.textContent()).toContain(`${IDLE_SERVICE} sent its last profile at`)
    await page.getByTestId('jump-to-last').click()
    await waitForFlameGraph(page)
    // A fixed window of the same 15 minutes, ending with the last upload.
    const params = new URL(page.url()).searchParams
    const from = Number(params.get('from'))
    const to = Number(params.get('to'))
    expect(to - from).toBeGreaterThanOrEqual(15 * MINUTE)
    expect(to).toBeGreaterThanOrEqual(idle.at(-1)!.at)
    const functions = [...new Set(IDLE_STACK.map((frame) => frame.split('@')[0]!))].sort()
    await expect.poll(async () => (await rowFunctions(page, 'top-table')).sort()).toEqual(functions)
    await page.close()
  })
})
