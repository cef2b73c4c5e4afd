import { diffUiLink } from '@kiln/wire'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser } from './helpers/browser.js'
import { startTestServer, type TestServer } from './helpers/kiln-server.js'
import { ingestAll, type SyntheticUpload } from './helpers/synthetic-ingest.js'
import { MS, UPLOAD_MS, argMax } from './helpers/ui-fixtures.js'
import { openPage, rowFunctions, screenshot, waitForFlameGraph } from './helpers/ui-page.js'

/*
 * A service whose CPU is spent in its own code and in two packages, express and a scoped package
 * installed by pnpm, and whose express time grows in the second window. The group of each leaf is
 * written here by hand, so the test checks the UI's reading of the paths against the fixture's.
 */

const SERVICE = 'storefront'
const MINUTE = 60_000
/** Uploads per window: 5 minutes of 10 s profiles. */
const UPLOADS = 30

const SERVER = 'main@/app/src/server.js'
const EXPRESS_LAYER = 'handle@/app/node_modules/express/lib/router/layer.js'
const EXPRESS_NEXT = 'next@/app/node_modules/express/lib/router/index.js'
const SCOPED =
  'validate@/app/node_modules/.pnpm/@scope+lib@1.2.0/node_modules/@scope/lib/dist/index.js'
const EXPRESS_SEARCH = 'node_modules/express/'

/** A row of the packages table: `data-package`, or `:` and `data-group` for the other groups. */
type GroupKey = 'express' | '@scope/lib' | ':own'

interface FixtureStack {
  stack: string[]
  /** CPU of the leaf per 10 s upload. */
  ms: number
  /** Whose code the leaf is. */
  group: GroupKey
}

const BASELINE: FixtureStack[] = [
  { stack: [SERVER, 'handleOrder@/app/src/orders.js'], ms: 300, group: ':own' },
  // Own code called by express is still own code: self goes to the leaf.
  { stack: [SERVER, EXPRESS_LAYER, 'renderPage@/app/src/render.js'], ms: 200, group: ':own' },
  { stack: [SERVER, EXPRESS_LAYER, EXPRESS_NEXT], ms: 300, group: 'express' },
  { stack: [SERVER, EXPRESS_LAYER, SCOPED], ms: 200, group: '@scope/lib' },
]
/** The same, with express's own time tripled. */
const COMPARISON: FixtureStack[] = BASELINE.map((s) =>
  s.group === 'express' ? { ...s, ms: 3 * s.ms } : s,
)

/** Share of each group in a window's CPU (per upload: every upload is the same). */
function shares(stacks: readonly FixtureStack[]): Map<GroupKey, number> {
  const total = stacks.reduce((sum, s) => sum + s.ms, 0)
  const out = new Map<GroupKey, number>()
  for (const s of stacks) out.set(s.group, (out.get(s.group) ?? 0) + s.ms / total)
  return out
}

function uploads(stacks: readonly FixtureStack[], from: number): SyntheticUpload[] {
  return Array.from({ length: UPLOADS }, (_, k) => ({
    service: SERVICE,
    labels: {},
    at: from + k * UPLOAD_MS,
    sampleType: ['cpu', 'nanoseconds'] as [string, string],
    samples: stacks.map((s) => ({ stack: s.stack, value: s.ms * MS })),
  }))
}

/** The rows of the packages table in order, as group keys. */
function tableGroups(page: Page): Promise<string[]> {
  return page
    .locator('[data-testid=packages-table] tbody tr[data-group]')
    .evaluateAll((rows) =>
      rows.map((row) => row.getAttribute('data-package') ?? `:${row.getAttribute('data-group')}`),
    )
}

/** The fill of every drawn frame of a chart, by the frame's function name. */
function frameFills(page: Page, testId: string): Promise<Record<string, string[]>> {
  return page.locator(`[data-testid=${testId}] g.frame`).evaluateAll((frames) => {
    const out: Record<string, string[]> = {}
    for (const frame of frames) {
      const name = frame.getAttribute('name') ?? ''
      const fill = frame.querySelector('rect')?.getAttribute('fill') ?? ''
      ;(out[name] ??= []).push(fill)
    }
    return out
  })
}

/** The legend's entries: label → swatch colour. */
function legend(page: Page, testId: string): Promise<Record<string, string>> {
  return page
    .locator(`[data-testid=${testId}-legend] li`)
    .evaluateAll((items) =>
      Object.fromEntries(
        items.map((li) => [li.textContent ?? '', li.getAttribute('data-color') ?? '']),
      ),
    )
}

/** The legend's label of a fixture group. */
const LEGEND_LABEL: Record<GroupKey, string> = {
  express: 'express',
  '@scope/lib': '@scope/lib',
  ':own': 'Own code',
}

/** Every fixture function's frames have its group's legend colour; the groups' colours differ. */
async function expectColouredByPackage(page: Page, testId: string): Promise<void> {
  await expect
    .poll(async () => Object.keys(await legend(page, testId)).sort())
    .toEqual(Object.values(LEGEND_LABEL).sort())
  const colours = await legend(page, testId)
  expect(new Set(Object.values(colours)).size).toBe(Object.keys(colours).length)
  const groupOfFunction = new Map<string, GroupKey>()
  for (const s of BASELINE) groupOfFunction.set(s.stack.at(-1)!.split('@')[0]!, s.group)
  // The callers on the stacks: main is own code, handle is express's.
  groupOfFunction.set('main', ':own')
  groupOfFunction.set('handle', 'express')
  await expect
    .poll(async () => {
      const fills = await frameFills(page, testId)
      return [...groupOfFunction].every(
        ([fn, group]) =>
          fills[fn] !== undefined &&
          fills[fn].every((fill) => fill === colours[LEGEND_LABEL[group]]),
      )
    })
    .toBe(true)
}

function row(page: Page, key: GroupKey) {
  const selector = key.startsWith(':')
    ? `tr[data-group="${key.slice(1)}"]`
    : `tr[data-package="${key}"]`
  return page.locator(`[data-testid=packages-table] ${selector}`)
}

/** A share cell: its exact value (`data-share`) and the percentage it prints. */
async function shareCell(page: Page, key: GroupKey, column: number) {
  const cell = row(page, key).locator('td').nth(column)
  const exact = Number(await cell.getAttribute('data-share'))
  const percent = /(\d+(?:\.\d+)?)%/.exec(await cell.innerText())
  return { exact, printed: Number(percent?.[1]) }
}

/** `printed` is `value` to about three significant digits, as the UI prints numbers. */
function expectPrinted(printed: number, value: number): void {
  const halfDigit = Math.abs(value) >= 100 ? 0.5 : Math.abs(value) >= 10 ? 0.05 : 0.005
  expect(Math.abs(printed - value)).toBeLessThanOrEqual(halfDigit + 1e-9)
}

describe('UI: CPU by package against a real server', () => {
  let server: TestServer
  let browser: Browser
  const end = Math.floor(Date.now() / UPLOAD_MS) * UPLOAD_MS - UPLOAD_MS
  const compFrom = end - UPLOADS * UPLOAD_MS
  const baseFrom = compFrom - UPLOADS * UPLOAD_MS
  const errors: string[] = []

  async function open(url: string): Promise<Page> {
    const opened = await openPage(browser, url)
    opened.page.on('pageerror', (error) => errors.push(error.message))
    errors.push(...opened.errors)
    return opened.page
  }

  beforeAll(async () => {
    expect(end - baseFrom).toBe(10 * MINUTE)
    server = await startTestServer()
    await ingestAll(server.url, [...uploads(BASELINE, baseFrom), ...uploads(COMPARISON, compFrom)])
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await server?.dispose()
    expect(errors).toEqual([])
  })

  it("shows each package's share of the window, and searches the flame graph for a package", async () => {
    const page = await open(
      `${server.url}/?service=${SERVICE}&type=cpu&from=${baseFrom}&to=${compFrom}`,
    )
    await waitForFlameGraph(page)
    const expected = shares(BASELINE)
    const bySize = [...expected].sort((a, b) => b[1] - a[1]).map(([key]) => key)
    await expect.poll(() => tableGroups(page)).toEqual(bySize)
    for (const [key, share] of expected) {
      const { exact, printed } = await shareCell(page, key, 2)
      expect(exact).toBeCloseTo(share, 9)
      expectPrinted(printed, 100 * share)
    }
    await row(page, ':own').scrollIntoViewIfNeeded()
    await screenshot(page, 'packages')

    // A package's row searches the flame graph (and so the top table) for its files.
    await row(page, 'express').locator('button').click()
    await expect.poll(() => new URL(page.url()).searchParams.get('search')).toBe(EXPRESS_SEARCH)
    expect(await page.getByTestId('flamegraph-search').inputValue()).toBe(EXPRESS_SEARCH)
    const expressFunctions = [
      ...new Set(
        BASELINE.flatMap((s) => s.stack)
          .filter((frame) => frame.includes(EXPRESS_SEARCH))
          .map((frame) => frame.split('@')[0]!),
      ),
    ].sort()
    await expect
      .poll(async () => (await rowFunctions(page, 'top-table')).sort())
      .toEqual(expressFunctions)
    // Again: the search is cleared.
    await row(page, 'express').locator('button').click()
    await expect.poll(() => new URL(page.url()).searchParams.get('search')).toBeNull()
  })

  it('colours the flame graph by package with a legend, kept in the URL', async () => {
    const page = await open(
      `${server.url}/?service=${SERVICE}&type=cpu&from=${baseFrom}&to=${compFrom}`,
    )
    await waitForFlameGraph(page)
    expect(await page.getByTestId('flamegraph-legend').count()).toBe(0)
    await page.getByTestId('flamegraph-color-by').selectOption('package')
    await expect.poll(() => new URL(page.url()).searchParams.get('color')).toBe('package')
    await expectColouredByPackage(page, 'flamegraph')
    // Legend order: the heaviest group first, as in the table.
    const expected = shares(BASELINE)
    const bySize = [...expected].sort((a, b) => b[1] - a[1]).map(([key]) => LEGEND_LABEL[key])
    expect(Object.keys(await legend(page, 'flamegraph'))).toEqual(bySize)
    await page.getByTestId('flamegraph-legend').scrollIntoViewIfNeeded()
    await screenshot(page, 'packages-colour')

    await page.reload()
    await waitForFlameGraph(page)
    await expectColouredByPackage(page, 'flamegraph')
    // Back to colours by name: no legend, and express's frames no longer share one colour.
    await page.getByTestId('flamegraph-color-by').selectOption('name')
    await expect.poll(() => page.getByTestId('flamegraph-legend').count()).toBe(0)
    await expect.poll(() => new URL(page.url()).searchParams.get('color')).toBeNull()
    await expect
      .poll(async () => {
        const fills = await frameFills(page, 'flamegraph')
        return new Set([...(fills.handle ?? []), ...(fills.next ?? [])]).size
      })
      .toBe(2)
  })

  it('colours both side-by-side graphs of a comparison by package alike', async () => {
    const link = diffUiLink(server.url, {
      service: SERVICE,
      type: 'cpu',
      baseFrom,
      baseTo: compFrom,
      compFrom,
      compTo: end,
    })
    const page = await open(`${link}&layout=split&color=package`)
    await waitForFlameGraph(page, 'baseline-flamegraph')
    await waitForFlameGraph(page, 'comparison-flamegraph')
    await expectColouredByPackage(page, 'baseline-flamegraph')
    await expectColouredByPackage(page, 'comparison-flamegraph')
    expect(await legend(page, 'comparison-flamegraph')).toEqual(
      await legend(page, 'baseline-flamegraph'),
    )
  })

  it('ranks the package that grew first in a comparison', async () => {
    const link = diffUiLink(server.url, {
      service: SERVICE,
      type: 'cpu',
      baseFrom,
      baseTo: compFrom,
      compFrom,
      compTo: end,
    })
    const page = await open(link)
    await waitForFlameGraph(page, 'diff-flamegraph')
    const before = shares(BASELINE)
    const after = shares(COMPARISON)
    const change = new Map([...after].map(([key, share]) => [key, share - before.get(key)!]))
    expect(argMax(change)).toBe('express')
    const byChange = [...change].sort((a, b) => b[1] - a[1]).map(([key]) => key)
    await expect.poll(() => tableGroups(page)).toEqual(byChange)
    expect(await row(page, 'express').getAttribute('data-change')).toBe('grew')
    for (const [key, delta] of change) {
      expect((await shareCell(page, key, 1)).exact).toBeCloseTo(before.get(key)!, 9)
      expect((await shareCell(page, key, 2)).exact).toBeCloseTo(after.get(key)!, 9)
      const points = await row(page, key).locator('td').nth(3).innerText()
      // "+26.3 pp" or "−18.8 pp" (a minus sign, not a hyphen).
      expectPrinted(Number.parseFloat(points.replace('−', '-')), 100 * delta)
    }
    await row(page, 'express').scrollIntoViewIfNeeded()
    await screenshot(page, 'packages-compare')
  })
})
