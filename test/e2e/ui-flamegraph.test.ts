import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HOT_FUNCTIONS } from '../fixtures/demo-workload.mjs'
import { launchBrowser } from './helpers/browser.js'
import { EVERY_WINDOW_SCHEDULE, startTestServer, type TestServer } from './helpers/kiln-server.js'
import { runDemoWithAgent, type DemoRun } from './helpers/run-demo.js'

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
})
