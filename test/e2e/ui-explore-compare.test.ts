import { readFileSync } from 'node:fs'
import {
  diffUiLink,
  flamegraphUiLink,
  type AlertView,
  type FindingsRunResponse,
  type HookResponse,
} from '@kiln/wire'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser } from './helpers/browser.js'
import { startTestServer, type TestServer } from './helpers/kiln-server.js'
import { ingestAll, selfByFunction } from './helpers/synthetic-ingest.js'
import {
  CPU_SERVICE,
  CPU_STACKS,
  HEAP_SERVICE,
  INSTANCES,
  LEAKING_SITE,
  NEW_VERSION,
  OLD_VERSION,
  SHRINKING_SITE,
  SLOWER_FUNCTION,
  UPLOAD_MS,
  argMax,
  averageHeap,
  cpuUploads,
  heapUploads,
} from './helpers/ui-fixtures.js'
import {
  expectPngExport,
  openPage,
  rowFunctions,
  screenshot,
  waitForFlameGraph,
} from './helpers/ui-page.js'

const MINUTE = 60_000

/** Change of each function's share of its version's CPU, new minus old (from the fixture). */
function shareChanges(): Map<string, number> {
  const shares = (version: string) => {
    const total = CPU_STACKS[version]!.reduce((sum, s) => sum + s.ms, 0)
    return new Map(CPU_STACKS[version]!.map((s) => [s.stack.at(-1)!.split('@')[0]!, s.ms / total]))
  }
  const before = shares(OLD_VERSION)
  const after = shares(NEW_VERSION)
  return new Map([...after].map(([fn, share]) => [fn, share - (before.get(fn) ?? 0)]))
}

/** Change of share of the total of every frame below the root (each call path), new vs old. */
function frameShareChanges(): Map<string, number> {
  const shares = (version: string) => {
    const stacks = CPU_STACKS[version]!
    const total = stacks.reduce((sum, s) => sum + s.ms, 0)
    const byPath = new Map<string, number>()
    for (const { stack, ms } of stacks) {
      for (let depth = 1; depth <= stack.length; depth++) {
        const path = stack.slice(0, depth).join(';')
        byPath.set(path, (byPath.get(path) ?? 0) + ms / total)
      }
    }
    return byPath
  }
  const before = shares(OLD_VERSION)
  const after = shares(NEW_VERSION)
  const paths = new Set([...before.keys(), ...after.keys()])
  return new Map([...paths].map((p) => [p, (after.get(p) ?? 0) - (before.get(p) ?? 0)]))
}

describe('UI: explore, compare and heap views against a real server', () => {
  let server: TestServer
  let browser: Browser
  // Whole 10 s steps, in the past: the last upload ends at `end`.
  const end = Math.floor(Date.now() / UPLOAD_MS) * UPLOAD_MS - UPLOAD_MS
  const deployAt = end - 10 * MINUTE
  const cpu = cpuUploads(deployAt)
  const heap = heapUploads(end)
  let alert: AlertView
  const pages: Page[] = []
  const errors: string[] = []

  async function open(url: string): Promise<Page> {
    const opened = await openPage(browser, url)
    pages.push(opened.page)
    opened.page.on('pageerror', (error) => errors.push(error.message))
    errors.push(...opened.errors)
    return opened.page
  }

  beforeAll(async () => {
    server = await startTestServer()
    await ingestAll(server.url, [...cpu, ...heap])
    const response = await fetch(`${server.url}/api/v1/hooks/generic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        service: CPU_SERVICE,
        name: 'CheckoutLatencyHigh',
        startsAt: deployAt + 2 * MINUTE,
        endsAt: deployAt + 7 * MINUTE,
      }),
    })
    expect(response.status).toBe(200)
    alert = ((await response.json()) as HookResponse).alerts[0]!
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await server?.dispose()
    expect(errors).toEqual([])
  })

  it('explores the hottest functions beside the flame graph, with deploy and alert markers', async () => {
    const page = await open(`${server.url}/?service=${CPU_SERVICE}&type=cpu&range=1h`)
    await waitForFlameGraph(page)
    const expected = [...selfByFunction(cpu)].sort((a, b) => b[1] - a[1]).map(([name]) => name)
    await expect
      .poll(() => rowFunctions(page, 'top-table'))
      .toEqual(expect.arrayContaining(expected))
    expect((await rowFunctions(page, 'top-table')).slice(0, expected.length)).toEqual(expected)
    const names = await page
      .locator('[data-testid=flamegraph] g.frame')
      .evaluateAll((frames) => frames.map((f) => f.getAttribute('name')))
    for (const name of expected) expect(names).toContain(name)
    await expect.poll(() => page.getByTestId(`deploy-marker-${NEW_VERSION}`).count()).toBe(1)
    // The first version has nothing before it: no deploy marker.
    expect(await page.getByTestId(`deploy-marker-${OLD_VERSION}`).count()).toBe(0)
    await expect.poll(() => page.getByTestId('alert-marker').textContent()).toContain(alert.name)
    await screenshot(page, 'explore')
  })

  it('opens before/after of a deploy from its marker, with the slower function marked as grown', async () => {
    const page = await open(`${server.url}/?service=${CPU_SERVICE}&type=cpu&range=1h`)
    await page.getByTestId(`deploy-marker-${NEW_VERSION}`).click()
    await waitForFlameGraph(page, 'diff-flamegraph')
    const url = new URL(page.url())
    expect(url.searchParams.get('view')).toBe('diff')
    expect(url.searchParams.get('compFrom')).toBe(String(deployAt))
    expect(url.searchParams.get('baseTo')).toBe(String(deployAt))
    expect(url.searchParams.get('baseQuery')).toBe(`{service_version="${OLD_VERSION}"}`)
    expect(url.searchParams.get('compQuery')).toBe(`{service_version="${NEW_VERSION}"}`)

    const changes = shareChanges()
    expect(argMax(changes)).toBe(SLOWER_FUNCTION)
    await expect.poll(() => rowFunctions(page, 'changes-grew')).not.toEqual([])
    expect((await rowFunctions(page, 'changes-grew'))[0]).toBe(SLOWER_FUNCTION)
    const frame = page.locator(`[data-testid=diff-flamegraph] g.frame[name="${SLOWER_FUNCTION}"]`)
    expect(await frame.getAttribute('data-change')).toBe('grew')
    // Every other leaf lost share to it.
    for (const [fn, change] of changes) {
      if (change < 0) {
        const other = page.locator(`[data-testid=diff-flamegraph] g.frame[name="${fn}"]`)
        expect(await other.getAttribute('data-change')).toBe('shrank')
      }
    }
    // The colour scale beside the graph, with the largest changes of a frame in share points.
    const scale = page.getByTestId('diff-scale')
    expect(await scale.isVisible()).toBe(true)
    expect(await scale.locator('.diff-scale-tick').allTextContents()).toEqual([
      'gone',
      '×½',
      'same',
      '×2',
      'new',
    ])
    const range = scale.getByTestId('diff-scale-range')
    const points = [...((await range.textContent()) ?? '').matchAll(/([+−])([\d.]+) pp/g)].map(
      ([, sign, n]) => (sign === '−' ? -1 : 1) * Number(n),
    )
    const frameChanges = [...frameShareChanges().values()]
    expect(points).toHaveLength(2)
    expect(points[0]).toBeCloseTo(Math.min(...frameChanges) * 100, 0)
    expect(points[1]).toBeCloseTo(Math.max(...frameChanges) * 100, 0)
    await screenshot(page, 'compare')

    // Absolute: the unchanged functions are the same; the slower one still grew.
    await page.getByTestId('mode-absolute').click()
    await expect
      .poll(() =>
        page
          .locator('[data-testid=diff-flamegraph] g.frame[name="renderInvoice"]')
          .getAttribute('data-change'),
      )
      .toBe('same')
    expect(await frame.getAttribute('data-change')).toBe('grew')
    expect(new URL(page.url()).searchParams.get('mode')).toBe('absolute')
    // The scale's largest changes are now values (CPU time), not share points.
    await expect.poll(() => range.textContent()).not.toContain('pp')
    expect(await range.textContent()).toMatch(/[+−][\d.]+ (ns|µs|ms|s)\b/)

    // Side by side: each window's own flame graph.
    await page.getByTestId('layout-split').click()
    await waitForFlameGraph(page, 'baseline-flamegraph')
    await waitForFlameGraph(page, 'comparison-flamegraph')
    await screenshot(page, 'side-by-side')
  })

  it('reproduces a comparison from its deep link', async () => {
    const first = await open(`${server.url}/?service=${CPU_SERVICE}&type=cpu&range=1h`)
    await first.getByTestId(`deploy-marker-${NEW_VERSION}`).click()
    await waitForFlameGraph(first, 'diff-flamegraph')
    const p = new URL(first.url()).searchParams
    const time = (name: string) => Number(p.get(name))
    // The link an alert answer would carry for the same two windows.
    const link = diffUiLink(server.url, {
      service: CPU_SERVICE,
      type: 'cpu',
      baseFrom: time('baseFrom'),
      baseTo: time('baseTo'),
      compFrom: time('compFrom'),
      compTo: time('compTo'),
      baseQuery: p.get('baseQuery')!,
      compQuery: p.get('compQuery')!,
    })
    expect(first.url()).toBe(link)

    const second = await open(link)
    await waitForFlameGraph(second, 'diff-flamegraph')
    expect(second.url()).toBe(link)
    for (const table of ['changes-grew', 'changes-shrank']) {
      const text = (page: Page) => page.getByTestId(table).textContent()
      expect(await text(second)).toBe(await text(first))
    }
    for (const side of ['diff-baseline', 'diff-comparison']) {
      const text = (page: Page) => page.getByTestId(side).locator('p').first().textContent()
      expect(await text(second)).toBe(await text(first))
    }

    // The flame graph link of an alert: window and selector come back as they were.
    const query = `{instance="${INSTANCES[0]}"}`
    const explore = flamegraphUiLink(server.url, {
      service: CPU_SERVICE,
      type: 'cpu',
      from: deployAt - 10 * MINUTE,
      to: end,
      query,
    })
    const third = await open(explore)
    await waitForFlameGraph(third)
    expect(third.url()).toBe(explore)
    expect(await third.getByTestId('query-input').inputValue()).toBe(query)
    expect(await third.getByTestId('profile-summary').textContent()).toContain(query)
    expect(await third.getByTestId('range-select').inputValue()).toBe('custom')
  })

  it('compares heap in use between two windows and shows the site that grew', async () => {
    const from = end - 10 * MINUTE
    const page = await open(
      `${server.url}/?service=${HEAP_SERVICE}&type=heap_inuse_space&from=${from}&to=${end}`,
    )
    await waitForFlameGraph(page)
    expect(await page.getByTestId('timeline').textContent()).toContain('In use')
    await page.getByTestId('compare-previous').click()
    await waitForFlameGraph(page, 'diff-flamegraph')
    // Heap in use is compared by bytes unless the reader chooses otherwise.
    expect(await page.getByTestId('mode-absolute').getAttribute('aria-pressed')).toBe('true')

    const before = averageHeap(heap, from - 10 * MINUTE, from)
    const after = averageHeap(heap, from, end)
    const growth = new Map([...after].map(([site, bytes]) => [site, bytes - before.get(site)!]))
    expect(argMax(growth)).toBe(LEAKING_SITE)
    await expect.poll(() => rowFunctions(page, 'changes-grew')).not.toEqual([])
    expect((await rowFunctions(page, 'changes-grew'))[0]).toBe(LEAKING_SITE)
    expect((await rowFunctions(page, 'changes-shrank'))[0]).toBe(SHRINKING_SITE)
    const site = page.locator(`[data-testid=diff-flamegraph] g.frame[name="${LEAKING_SITE}"]`)
    expect(await site.getAttribute('data-change')).toBe('grew')
    await screenshot(page, 'heap')
  })

  it('compares version against version, and brushes both windows of a comparison', async () => {
    const page = await open(`${server.url}/?service=${CPU_SERVICE}&type=cpu&range=1h`)
    await expect.poll(() => page.getByTestId('version-b').inputValue()).toBe(NEW_VERSION)
    expect(await page.getByTestId('version-a').inputValue()).toBe(OLD_VERSION)
    await page.getByTestId('compare-versions').click()
    await waitForFlameGraph(page, 'diff-flamegraph')
    const p = new URL(page.url()).searchParams
    expect(p.get('baseQuery')).toBe(`{service_version="${OLD_VERSION}"}`)
    expect(p.get('compQuery')).toBe(`{service_version="${NEW_VERSION}"}`)
    // Each version over its whole life here (less than a day).
    expect(Number(p.get('baseFrom'))).toBe(deployAt - 10 * MINUTE)
    expect(Number(p.get('compTo'))).toBe(end)
    await expect.poll(() => rowFunctions(page, 'changes-grew')).not.toEqual([])
    expect((await rowFunctions(page, 'changes-grew'))[0]).toBe(SLOWER_FUNCTION)

    const area = page.getByTestId('timeline-brush-area')
    const box = (await area.boundingBox())!
    const drag = async (x0: number, x1: number, shift: boolean) => {
      await page.mouse.move(box.x + box.width * x0, box.y + box.height / 2)
      await page.mouse.down()
      await page.mouse.move(box.x + box.width * x1, box.y + box.height / 2, { steps: 5 })
      if (shift) await page.keyboard.down('Shift')
      await page.mouse.up()
      if (shift) await page.keyboard.up('Shift')
    }
    const before = new URL(page.url()).searchParams
    await drag(0.6, 0.8, false)
    await expect
      .poll(() => new URL(page.url()).searchParams.get('compFrom'))
      .not.toBe(before.get('compFrom'))
    let after = new URL(page.url()).searchParams
    expect(after.get('baseFrom')).toBe(before.get('baseFrom'))
    await drag(0.2, 0.4, true)
    await expect
      .poll(() => new URL(page.url()).searchParams.get('baseFrom'))
      .not.toBe(before.get('baseFrom'))
    after = new URL(page.url()).searchParams
    expect(Number(after.get('baseTo'))).toBeLessThan(Number(after.get('compFrom')))
    await waitForFlameGraph(page, 'diff-flamegraph')
  })

  it('lists alerts, each opening its comparison', async () => {
    const page = await open(`${server.url}/?view=alerts`)
    const row = page.locator(`[data-testid=alerts-table] tr[data-alert="${alert.name}"]`)
    await row.waitFor()
    await row.getByTestId('open-comparison').click()
    await waitForFlameGraph(page, 'diff-flamegraph')
    const p = new URL(page.url()).searchParams
    expect(p.get('view')).toBe('diff')
    expect(Number(p.get('compFrom'))).toBe(alert.window.from)
    expect(Number(p.get('compTo'))).toBe(alert.window.to)
    expect(Number(p.get('baseFrom'))).toBe(alert.baseline.from)
  })

  it("opens an alert's templated link on the deploy's before/after, with data", async () => {
    // As an Alertmanager template writes it: labels and the alert's own times.
    const link =
      `${server.url}/open?label.alertname=CheckoutLatencyHigh&label.service=${CPU_SERVICE}` +
      `&start=${new Date(deployAt + 2 * MINUTE).toISOString()}&end=0001-01-01T00:00:00Z`
    const page = await open(link)
    await waitForFlameGraph(page, 'diff-flamegraph')
    const p = new URL(page.url()).searchParams
    expect(p.get('view')).toBe('diff')
    expect(p.get('service')).toBe(CPU_SERVICE)
    // The deploy falls in the lookback: the new version against the previous one.
    expect(p.get('baseQuery')).toContain(OLD_VERSION)
    expect(p.get('compQuery')).toContain(NEW_VERSION)
    expect((await rowFunctions(page, 'changes-grew'))[0]).toBe(SLOWER_FUNCTION)
  })

  it('lists findings, each opening its comparison', async () => {
    const run = await fetch(`${server.url}/api/v1/findings/run`, { method: 'POST' })
    expect(run.status).toBe(200)
    const { findings } = (await run.json()) as FindingsRunResponse
    const regression = findings.find(
      (f) => f.kind === 'cpu_regression' && f.service === CPU_SERVICE,
    )
    expect(regression?.version).toBe(NEW_VERSION)
    const page = await open(`${server.url}/?view=alerts`)
    const row = page.locator('[data-testid=findings-table] tr[data-finding=cpu_regression]')
    await expect.poll(() => row.count()).toBe(1)
    expect(await row.textContent()).toContain(SLOWER_FUNCTION)
    await screenshot(page, 'alerts')
    await row.getByTestId('open-comparison').click()
    await waitForFlameGraph(page, 'diff-flamegraph')
    // The page shows the finding's own link, parameter for parameter.
    expect(new URL(page.url()).search).toBe(new URL(regression!.links.diff).search)
    expect((await rowFunctions(page, 'changes-grew'))[0]).toBe(SLOWER_FUNCTION)
  })

  it('focuses a function from the top table and shows its callers and callees', async () => {
    const page = await open(`${server.url}/?service=${CPU_SERVICE}&type=cpu&range=1h`)
    await waitForFlameGraph(page)
    await page.locator('[data-testid=top-table] tr[data-function="renderInvoice"] button').click()
    expect(new URL(page.url()).searchParams.get('focus')).toBe('renderInvoice')
    await expect
      .poll(() =>
        page
          .locator('[data-testid=flamegraph] g.frame[data-focused]')
          .evaluateAll((frames) => frames.map((f) => f.getAttribute('name'))),
      )
      .toEqual(['renderInvoice'])
    await waitForFlameGraph(page, 'sandwich-callers')
    const callers = await page
      .locator('[data-testid=sandwich-callers] g.frame')
      .evaluateAll((frames) => frames.map((f) => f.getAttribute('name')))
    expect(callers).toEqual(['renderInvoice', 'handleRequest', 'main'])
    await page.getByTestId('sandwich').scrollIntoViewIfNeeded()
    await screenshot(page, 'sandwich')
  })

  it('opens callers and callees from the flame graph, in view at 1280×720', async () => {
    const page = await open(`${server.url}/?service=${CPU_SERVICE}&type=cpu&range=1h`)
    await page.setViewportSize({ width: 1280, height: 720 })
    await waitForFlameGraph(page)
    // Click a frame (it zooms and stays in the details line), then ask for its callers and callees.
    await page
      .locator('[data-testid=flamegraph] g.frame[name="handleRequest"] rect')
      .first()
      .click()
    await page.mouse.move(0, 0)
    const details = page.getByTestId('flamegraph-details')
    await expect
      .poll(() => details.locator('.flame-details-name').textContent())
      .toBe('handleRequest')
    await details.getByTestId('flamegraph-details-sandwich').click()
    await expect.poll(() => new URL(page.url()).searchParams.get('focus')).toBe('handleRequest')
    await waitForFlameGraph(page, 'sandwich-callees')
    // The panel sits under the graph: opening it brings it into view.
    await expect.poll(() => page.getByTestId('sandwich').evaluate(inViewport)).toBe(true)
    const callers = await page
      .locator('[data-testid=sandwich-callers] g.frame')
      .evaluateAll((frames) => frames.map((f) => f.getAttribute('name')))
    expect(callers).toEqual(['handleRequest', 'main'])

    // The `s` key opens the frame zoomed to; ↓ zooms to the heaviest child: main, handleRequest,
    // then parseCatalog (200 + 600 ms per upload over the hour against renderInvoice's 300 + 300).
    await page.getByRole('button', { name: 'Clear focus' }).click()
    await expect.poll(() => page.getByTestId('sandwich').count()).toBe(0)
    await page.evaluate(() => window.scrollTo(0, 0))
    await page.keyboard.press('Escape')
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown')
    await page.keyboard.press('s')
    await expect.poll(() => new URL(page.url()).searchParams.get('focus')).toBe('parseCatalog')
    await expect.poll(() => page.getByTestId('sandwich').evaluate(inViewport)).toBe(true)
  })

  it('filters by label with suggested values, and brushes a window', async () => {
    const page = await open(`${server.url}/?service=${CPU_SERVICE}&type=cpu&range=1h`)
    await waitForFlameGraph(page)
    await page.getByTestId('label-name-select').selectOption('instance')
    const suggestions = page.locator('[data-testid=label-value-suggestions] option')
    await expect
      .poll(() => suggestions.evaluateAll((o) => o.map((x) => x.getAttribute('value'))))
      .toEqual(INSTANCES)
    await page.getByTestId('label-value-input').fill(INSTANCES[1]!)
    await page.getByTestId('label-value-input').press('Enter')
    const query = `{instance="${INSTANCES[1]}"}`
    await expect.poll(() => new URL(page.url()).searchParams.get('query')).toBe(query)
    await expect.poll(() => page.getByTestId('profile-summary').textContent()).toContain(query)

    const area = page.getByTestId('timeline-brush-area')
    const box = (await area.boundingBox())!
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2)
    await page.mouse.down()
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2, { steps: 5 })
    await page.mouse.up()
    await expect.poll(() => new URL(page.url()).searchParams.get('from')).not.toBeNull()
    const p = new URL(page.url()).searchParams
    expect(Number(p.get('to')) - Number(p.get('from'))).toBeGreaterThan(20 * MINUTE)
    expect(Number(p.get('to')) - Number(p.get('from'))).toBeLessThan(30 * MINUTE)
    expect(p.get('query')).toBe(query)
  })

  it('exports the view as pprof, SVG and PNG', async () => {
    const page = await open(`${server.url}/?service=${CPU_SERVICE}&type=cpu&range=1h`)
    await waitForFlameGraph(page)
    const href = await page.getByTestId('export-pprof').getAttribute('href')
    const pprof = await fetch(new URL(href!, server.url))
    expect(pprof.status).toBe(200)
    expect([...new Uint8Array(await pprof.arrayBuffer()).slice(0, 2)]).toEqual([0x1f, 0x8b])

    const [svgDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'SVG', exact: true }).click(),
    ])
    const svg = readFileSync((await svgDownload.path())!, 'utf8')
    expect(svg).toMatch(/^<svg/)
    expect(svg).not.toContain('foreignObject')
    expect(svg).toContain(SLOWER_FUNCTION)

    await expectPngExport(page)
  })
})

/** The element's top is on screen (run in the page). */
function inViewport(element: Element): boolean {
  const top = element.getBoundingClientRect().top
  return top >= 0 && top < window.innerHeight
}
