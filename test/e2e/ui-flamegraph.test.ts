import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HOT_FUNCTIONS } from '../fixtures/demo-workload.mjs'
import { launchBrowser } from './helpers/browser.js'
import { EVERY_WINDOW_SCHEDULE, startTestServer, type TestServer } from './helpers/kiln-server.js'
import { runDemoWithAgent, type DemoRun } from './helpers/run-demo.js'
import { waitForFlameGraph } from './helpers/ui-page.js'

const SERVICE = 'ui-demo'
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url))

describe('UI in a real browser', () => {
  let server: TestServer
  let browser: Browser
  let run: DemoRun

  beforeAll(async () => {
    server = await startTestServer(EVERY_WINDOW_SCHEDULE)
    run = await runDemoWithAgent({
      serverUrl: server.url,
      service: SERVICE,
      durationMs: 3000,
    })
    expect(run.code, run.stderr).toBe(0)
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await server?.dispose()
  })

  it('renders the flame graph of the demo service with its hot functions', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    await page.goto(`${server.url}/?service=${SERVICE}&type=cpu&range=1h`)

    const svg = page.locator('[data-testid=flamegraph] svg')
    for (const name of Object.keys(HOT_FUNCTIONS)) {
      await expect.poll(() => svg.textContent(), { timeout: 15_000 }).toContain(name)
    }
    await expect.poll(() => page.getByTestId('service-select').inputValue()).toBe(SERVICE)
    // The root frame spans the graph once d3-flame-graph's transition has settled.
    const rootSpan = () =>
      page.evaluate(() => {
        const svg = document.querySelector('[data-testid=flamegraph] svg')
        const rect = document.querySelector('[data-testid=flamegraph] g.frame[name="total"] rect')
        return rect && svg
          ? rect.getBoundingClientRect().width / svg.getBoundingClientRect().width
          : 0
      })
    await expect.poll(rootSpan, { timeout: 10_000 }).toBeGreaterThan(0.95)
    // The demo's agent, as it reported itself with its uploads: one instance, its pid, a cost.
    const panel = page.getByTestId('agents-panel')
    await panel.locator('summary').click()
    const row = panel.locator(`tr[data-pid="${run.pid}"]`)
    await expect.poll(() => row.count()).toBe(1)
    const cpu = await row.getByTestId('agent-cpu').textContent()
    expect(Number.parseFloat(cpu ?? '')).toBeGreaterThan(0)
    await expect.poll(() => panel.locator('tbody tr').count()).toBe(1)
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}/explore.png` })
    expect(errors).toEqual([])
  })

  /** The explore page of the demo service, its flame graph drawn. */
  async function openExplore(page: Page): Promise<string[]> {
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    await page.goto(`${server.url}/?service=${SERVICE}&type=cpu&range=1h`)
    await waitForFlameGraph(page)
    return errors
  }

  /** `name` and computed opacity of every drawn frame. */
  const frameOpacities = (page: Page) =>
    page.locator('[data-testid=flamegraph] g.frame').evaluateAll((frames) =>
      frames.map((f) => ({
        name: f.getAttribute('name') ?? '',
        opacity: getComputedStyle(f).opacity,
      })),
    )

  it('search highlights the matching frames and dims the rest until it is cleared', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
    const errors = await openExplore(page)
    // The lightest hot function: a narrow match among wider frames.
    const [term] = Object.entries(HOT_FUNCTIONS)
      .sort((a, b) => a[1] - b[1])
      .map(([name]) => name)
    const search = page.getByTestId('flamegraph-search')
    await search.fill(term!)
    const matching = (frames: { name: string }[]) =>
      frames.filter((f) => f.name.toLowerCase().includes(term!.toLowerCase()))
    await expect
      .poll(async () => {
        const frames = await frameOpacities(page)
        return frames.filter((f) => Number(f.opacity) < 1).length
      })
      .toBeGreaterThan(0)
    const frames = await frameOpacities(page)
    expect(matching(frames).length).toBeGreaterThan(0)
    for (const frame of frames) {
      const matches = matching([frame]).length > 0
      expect(Number(frame.opacity), frame.name).toSatisfy((o: number) =>
        matches ? o === 1 : o < 1,
      )
    }
    const summary = page.locator('.flame-search-summary')
    expect(await summary.textContent()).toContain(`${matching(frames).length} match`)

    await search.fill('')
    await expect
      .poll(async () => (await frameOpacities(page)).every((f) => f.opacity === '1'))
      .toBe(true)
    expect(errors).toEqual([])
    await page.close()
  })

  it('copies a frame name, and keeps the tooltip whole at the window edges', async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url })
    const page = await context.newPage()
    const errors = await openExplore(page)
    const details = page.getByTestId('flamegraph-details')

    // Click a frame (zoom to it): the line under the graph keeps it once the pointer leaves.
    const [name] = Object.keys(HOT_FUNCTIONS)
    await page.locator(`[data-testid=flamegraph] g.frame[name="${name}"] rect`).first().click()
    await page.mouse.move(0, 0)
    await expect.poll(() => details.locator('.flame-details-name').textContent()).toBe(name)
    await details.getByRole('button', { name: 'Copy name' }).click()
    await expect.poll(() => details.getByRole('status').textContent()).toBe('Copied')
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(name)
    await page.getByRole('button', { name: 'Reset zoom' }).click()
    await waitForFlameGraph(page)

    // The root frame, hovered at its left end and at its right end with the window's bottom
    // just below it: the tooltip flips left and up, whole and as wide as on the left.
    const root = page.locator('[data-testid=flamegraph] g.frame[name="total"] rect')
    const tooltip = page.getByTestId('flame-tooltip')
    let box = (await root.boundingBox())!
    await page.mouse.move(box.x + 20, box.y + box.height / 2)
    await expect.poll(() => tooltip.isVisible()).toBe(true)
    const leftWidth = (await tooltip.boundingBox())!.width
    await page.mouse.move(0, 0)
    await page.setViewportSize({ width: 1400, height: Math.ceil(box.y + box.height + 12) })
    // A scroll bar may narrow the page and so the graph: wait until its frames are still.
    const rootWidth = async () => (await root.boundingBox())?.width ?? 0
    await expect
      .poll(async () => {
        const before = await rootWidth()
        await new Promise((resolve) => setTimeout(resolve, 100))
        return before === (await rootWidth())
      })
      .toBe(true)
    box = (await root.boundingBox())!
    const pointer = { x: box.x + box.width - 4, y: box.y + box.height / 2 }
    await page.mouse.move(pointer.x, pointer.y)
    await expect.poll(() => tooltip.isVisible()).toBe(true)
    const view = await page.evaluate(() => ({
      width: document.documentElement.clientWidth,
      height: document.documentElement.clientHeight,
    }))
    const shown = (await tooltip.boundingBox())!
    expect(shown.width).toBeCloseTo(leftWidth, 0)
    expect(shown.x).toBeGreaterThanOrEqual(0)
    expect(shown.y).toBeGreaterThanOrEqual(0)
    expect(shown.x + shown.width).toBeLessThanOrEqual(Math.min(view.width, pointer.x))
    expect(shown.y + shown.height).toBeLessThanOrEqual(Math.min(view.height, pointer.y))
    expect(errors).toEqual([])
    await context.close()
  })
})
