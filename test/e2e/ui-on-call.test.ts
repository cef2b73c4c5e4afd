import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser } from './helpers/browser.js'
import { startServerProcess, type ServerProcess } from './helpers/server-process.js'
import { ingestAll, type SyntheticUpload } from './helpers/synthetic-ingest.js'
import {
  CPU_SERVICE,
  CPU_STACKS,
  INSTANCES,
  MS,
  NEW_VERSION,
  OLD_VERSION,
  SLOWER_FUNCTION,
  UPLOAD_MS,
  cpuUploads,
} from './helpers/ui-fixtures.js'
import { openPage, rowFunctions, waitForFlameGraph } from './helpers/ui-page.js'

/*
 * The UI as the engineer on call uses it (issue 21): the service shown first, a link to a service
 * that is not there, absolute comparisons of windows of different lengths, filters that go with
 * the presets and alert links, and a server that goes away and comes back.
 */

const MINUTE = 60_000
/** A service whose profiles stopped 40 minutes ago; alphabetically before `checkout`. */
const IDLE_SERVICE = 'aaa-batch'

describe('UI for the engineer on call', () => {
  let server: ServerProcess
  let browser: Browser
  let dataDir: string
  const end = Math.floor(Date.now() / UPLOAD_MS) * UPLOAD_MS - UPLOAD_MS
  const deployAt = end - 10 * MINUTE
  const errors: string[] = []

  async function open(path: string): Promise<Page> {
    const opened = await openPage(browser, `${server.url}${path}`)
    errors.push(...opened.errors)
    opened.page.on('pageerror', (error) => errors.push(error.message))
    return opened.page
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-on-call-ui-'))
    server = await startServerProcess({}, { dataDir })
    const idle: SyntheticUpload[] = Array.from({ length: 6 }, (_, k) => ({
      service: IDLE_SERVICE,
      labels: {},
      at: end - 46 * MINUTE + k * UPLOAD_MS,
      sampleType: ['cpu', 'nanoseconds'],
      samples: [{ stack: ['main@batch.js', 'nightly@batch.js'], value: 50 * MS }],
    }))
    await ingestAll(server.url, [...idle, ...cpuUploads(deployAt)])
    const alert = await fetch(`${server.url}/api/v1/hooks/generic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        service: CPU_SERVICE,
        name: 'CheckoutSlow',
        startsAt: deployAt + 2 * MINUTE,
        endsAt: deployAt + 6 * MINUTE,
      }),
    })
    expect(alert.status).toBe(200)
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await server?.dispose()
    rmSync(dataDir, { recursive: true, force: true })
    expect(errors).toEqual([])
  })

  it('opens the most recently active service, not the first by name', async () => {
    const page = await open('/')
    await waitForFlameGraph(page)
    expect(await page.getByTestId('service-select').inputValue()).toBe(CPU_SERVICE)
  })

  it('says so when a link names a service that is not there, and offers the others', async () => {
    const page = await open('/?service=chekout&type=cpu')
    const notice = page.getByTestId('unknown-service')
    await notice.waitFor()
    expect(await notice.textContent()).toContain('chekout')
    // The link is not rewritten to another service behind the reader's back.
    expect(new URL(page.url()).searchParams.get('service')).toBe('chekout')
    await notice.getByRole('link', { name: `Open ${CPU_SERVICE}` }).click()
    await waitForFlameGraph(page)
    expect(await page.getByTestId('service-select').inputValue()).toBe(CPU_SERVICE)
  })

  it('compares windows of different lengths per second: the 3x slower function grew', async () => {
    // 25 uploads of the old version against 17 of the new: raw sums of unequal windows.
    const baseline = { from: deployAt - 25 * UPLOAD_MS, to: deployAt }
    const comparison = { from: deployAt, to: deployAt + 17 * UPLOAD_MS }
    const page = await open(
      `/?view=diff&service=${CPU_SERVICE}&type=cpu&mode=absolute` +
        `&baseFrom=${baseline.from}&baseTo=${baseline.to}` +
        `&compFrom=${comparison.from}&compTo=${comparison.to}`,
    )
    await waitForFlameGraph(page, 'diff-flamegraph')
    await expect.poll(() => rowFunctions(page, 'changes-grew')).not.toEqual([])
    expect((await rowFunctions(page, 'changes-grew'))[0]).toBe(SLOWER_FUNCTION)
    // Per second of collected time: the fixture's ms per 10 s upload, divided by 10.
    const perSecond = (version: string) =>
      CPU_STACKS[version]!.find((s) => s.stack.at(-1)!.startsWith(SLOWER_FUNCTION))!.ms /
      (UPLOAD_MS / 1000)
    const row = page.locator(`[data-testid=changes-grew] tr[data-function="${SLOWER_FUNCTION}"]`)
    const cells = await row.locator('td').allTextContents()
    expect(cells[1]).toContain(`${perSecond(OLD_VERSION)} ms/s`)
    expect(cells[2]).toContain(`${perSecond(NEW_VERSION)} ms/s`)
    expect(cells[3]).toBe(`+${perSecond(NEW_VERSION) - perSecond(OLD_VERSION)} ms/s`)
    expect(await page.getByTestId('mode-note').textContent()).toContain('per second')
  })

  it('keeps the label filter through the deploy marker and the alert marker', async () => {
    const filter = `{instance="${INSTANCES[0]}"}`
    const explore = `/?service=${CPU_SERVICE}&type=cpu&range=1h&query=${encodeURIComponent(filter)}`
    const page = await open(explore)
    await waitForFlameGraph(page)
    await page.getByTestId(`deploy-marker-${NEW_VERSION}`).click()
    await waitForFlameGraph(page, 'diff-flamegraph')
    let params = new URL(page.url()).searchParams
    expect(params.get('baseQuery')).toBe(
      `{instance="${INSTANCES[0]}", service_version="${OLD_VERSION}"}`,
    )
    expect(params.get('compQuery')).toBe(
      `{instance="${INSTANCES[0]}", service_version="${NEW_VERSION}"}`,
    )

    const again = await open(explore)
    await waitForFlameGraph(again)
    await again.getByTestId('alert-marker').first().click()
    await waitForFlameGraph(again, 'diff-flamegraph')
    params = new URL(again.url()).searchParams
    expect(params.get('baseQuery')).toBe(filter)
    expect(params.get('compQuery')).toBe(filter)
  })

  it('reads the timeline in cores, and splits it by a label', async () => {
    const page = await open(`/?service=${CPU_SERVICE}&type=cpu&range=1h`)
    await waitForFlameGraph(page)
    expect(await page.getByTestId('timeline-caption').textContent()).toMatch(/^CPU in cores/)
    const ticks = await page.getByTestId('timeline-ytick').allTextContents()
    expect(ticks.length).toBe(2)
    for (const tick of ticks) expect(tick).toMatch(/ cores$/)

    await page.getByTestId('group-by').selectOption('instance')
    await expect.poll(() => page.getByTestId('timeline-group').count()).toBe(INSTANCES.length)
    const groups = await page
      .getByTestId('timeline-group')
      .evaluateAll((paths) => paths.map((p) => p.getAttribute('data-group')))
    expect(groups.sort()).toEqual([...INSTANCES].sort())
    expect(new URL(page.url()).searchParams.get('groupBy')).toBe('instance')
  })

  it('moves around the flame graph with the keyboard, and keeps the zoom in the URL', async () => {
    const page = await open(`/?service=${CPU_SERVICE}&type=cpu&range=1h`)
    await waitForFlameGraph(page)
    const zoomParam = () => new URL(page.url()).searchParams.get('zoom')
    // ↓ zooms to the heaviest child each time: main, then handleRequest (its biggest callee).
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('ArrowDown')
    await expect.poll(zoomParam).not.toBeNull()
    const path = JSON.parse(zoomParam()!) as string[]
    expect(path.map((key) => key.split(' (')[0])).toEqual(['total', 'main', 'handleRequest'])

    // The zoom survives a reload.
    await page.reload()
    await waitForFlameGraph(page)
    await expect
      .poll(() => page.getByTestId('flamegraph-details').textContent())
      .toContain('handleRequest')
    expect(zoomParam()).toBe(JSON.stringify(path))

    // ↑ goes back up; `/` focuses the search; Esc clears the search and the zoom.
    await page.keyboard.press('ArrowUp')
    await expect.poll(() => JSON.parse(zoomParam() ?? '[]').length).toBe(2)
    await page.keyboard.press('/')
    await page.keyboard.type('parse')
    expect(await page.getByTestId('flamegraph-search').inputValue()).toBe('parse')
    await page.keyboard.press('Escape')
    await expect.poll(() => page.getByTestId('flamegraph-search').inputValue()).toBe('')
    await expect.poll(zoomParam).toBeNull()
  })

  it('follows a dark operating system theme', async () => {
    const context = await browser.newContext({ colorScheme: 'dark' })
    const page = await context.newPage()
    page.on('pageerror', (error) => errors.push(error.message))
    await page.goto(`${server.url}/?service=${CPU_SERVICE}&type=cpu&range=1h`)
    await waitForFlameGraph(page)
    const luminance = (css: string) => {
      const [r, g, b] = (/\d+/g[Symbol.match](css) ?? []).map(Number)
      return (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255
    }
    const colours = await page.evaluate(() => ({
      page: getComputedStyle(document.documentElement).backgroundColor,
      text: getComputedStyle(document.body).color,
    }))
    expect(luminance(colours.page)).toBeLessThan(0.2)
    expect(luminance(colours.text)).toBeGreaterThan(0.7)
    await context.close()
  })

  it('shows the first rows of the flame graph without scrolling at 1280×720', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } })
    const page = await context.newPage()
    await page.goto(`${server.url}/?service=${CPU_SERVICE}&type=cpu&range=1h`)
    await waitForFlameGraph(page)
    const top = await page
      .locator('[data-testid=flamegraph] svg')
      .first()
      .evaluate((svg) => svg.getBoundingClientRect().top)
    // At least 15 rows of frames (18 px each) in view: the flame graph, not the controls.
    expect(720 - top).toBeGreaterThanOrEqual(15 * 18)
    await context.close()
  })

  it('keeps the flame graph on screen while the server is away, and recovers', async () => {
    const page = await open(`/?service=${CPU_SERVICE}&type=cpu&range=1h`)
    await waitForFlameGraph(page)
    const frames = page.locator('[data-testid=flamegraph] g.frame')
    const before = await frames.count()
    expect(before).toBeGreaterThan(0)

    const port = new URL(server.url).port
    await server.dispose() // the data directory stays
    await page.getByRole('button', { name: 'Refresh', exact: true }).click()
    const notice = page.getByTestId('stale-notice').first()
    await notice.waitFor()
    expect(await frames.count()).toBe(before)
    expect(await page.getByTestId('error-state').count()).toBe(0)

    server = await startServerProcess({ KILN_PORT: port }, { dataDir })
    await page.getByRole('button', { name: 'Retry now' }).first().click()
    await expect.poll(() => page.getByTestId('stale-notice').count(), { timeout: 15_000 }).toBe(0)
    expect(await frames.count()).toBe(before)
  })
})
