import { diffUiLink } from '@kiln/wire'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser } from './helpers/browser.js'
import { startTestServer, type TestServer } from './helpers/kiln-server.js'
import { ingestAll, type SyntheticUpload } from './helpers/synthetic-ingest.js'
import { MS, UPLOAD_MS } from './helpers/ui-fixtures.js'
import { screenshot, waitForFlameGraph } from './helpers/ui-page.js'

/*
 * The diff flame graph coloured by package (issue 21's by-package view, in diffs): a service whose
 * CPU is spent in its own code and in express, whose express time triples in the comparison. The
 * group of each function is written here by hand, so the test checks the UI's reading of the
 * paths against the fixture's.
 */

const SERVICE = 'storefront'
/** Uploads per window: 5 minutes of 10 s profiles. */
const UPLOADS = 30
const TEST_ID = 'diff-flamegraph'

type Group = 'Own code' | 'express'

/** Each frame of the fixture, with the legend label of its group. */
const FRAMES = {
  main: { frame: 'main@/app/src/server.js', group: 'Own code' },
  handleOrder: { frame: 'handleOrder@/app/src/orders.js', group: 'Own code' },
  handle: { frame: 'handle@/app/node_modules/express/lib/router/layer.js', group: 'express' },
  next: { frame: 'next@/app/node_modules/express/lib/router/index.js', group: 'express' },
} as const satisfies Record<string, { frame: string; group: Group }>

/** CPU of each leaf per upload in the baseline; express's `next` triples in the comparison. */
const BASELINE: { stack: string[]; ms: number }[] = [
  { stack: [FRAMES.main.frame, FRAMES.handleOrder.frame], ms: 400 },
  { stack: [FRAMES.main.frame, FRAMES.handle.frame, FRAMES.next.frame], ms: 200 },
]
const COMPARISON = BASELINE.map((s) =>
  s.stack.includes(FRAMES.next.frame) ? { ...s, ms: 3 * s.ms } : s,
)

function uploads(stacks: typeof BASELINE, from: number): SyntheticUpload[] {
  return Array.from({ length: UPLOADS }, (_, k) => ({
    service: SERVICE,
    labels: {},
    at: from + k * UPLOAD_MS,
    sampleType: ['cpu', 'nanoseconds'] as [string, string],
    samples: stacks.map((s) => ({ stack: s.stack, value: s.ms * MS })),
  }))
}

/** The legend's entries: label → swatch colour. */
function legend(page: Page): Promise<Record<string, string>> {
  return page
    .locator(`[data-testid=${TEST_ID}-legend] li`)
    .evaluateAll((items) =>
      Object.fromEntries(
        items.map((li) => [li.textContent ?? '', li.getAttribute('data-color') ?? '']),
      ),
    )
}

/** Fill, change and light-text mark of every drawn frame, by function name. */
function frames(page: Page) {
  return page.locator(`[data-testid=${TEST_ID}] g.frame`).evaluateAll((gs) =>
    Object.fromEntries(
      gs.map((g) => [
        g.getAttribute('name') ?? '',
        {
          fill: g.querySelector('rect')?.getAttribute('fill') ?? '',
          change: g.getAttribute('data-change'),
          light: g.hasAttribute('data-light'),
        },
      ]),
    ),
  )
}

describe('UI: the diff flame graph coloured by package', () => {
  let server: TestServer
  let browser: Browser
  const end = Math.floor(Date.now() / UPLOAD_MS) * UPLOAD_MS - UPLOAD_MS
  const compFrom = end - UPLOADS * UPLOAD_MS
  const baseFrom = compFrom - UPLOADS * UPLOAD_MS
  const errors: string[] = []

  beforeAll(async () => {
    server = await startTestServer()
    await ingestAll(server.url, [...uploads(BASELINE, baseFrom), ...uploads(COMPARISON, compFrom)])
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await server?.dispose()
    expect(errors).toEqual([])
  })

  it('fills frames by package with a legend, keeps the change, and goes back by change', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
    page.on('pageerror', (error) => errors.push(error.message))
    const link = diffUiLink(server.url, {
      service: SERVICE,
      type: 'cpu',
      baseFrom,
      baseTo: compFrom,
      compFrom,
      compTo: end,
    })
    await page.goto(link)
    await waitForFlameGraph(page, TEST_ID)
    // By change at first: the colour scale, no package legend.
    expect(await page.getByTestId(`${TEST_ID}-legend`).count()).toBe(0)
    expect(await page.getByTestId('diff-scale').count()).toBe(1)
    const byChange = await frames(page)
    // express's share grew by half of its larger side: deep red, with light text on it.
    expect(byChange.next).toMatchObject({ change: 'grew', light: true })

    await page.getByTestId(`${TEST_ID}-color-by`).selectOption('package')
    await expect.poll(() => new URL(page.url()).searchParams.get('color')).toBe('package')
    const groups = [...new Set(Object.values(FRAMES).map((f) => f.group))].sort()
    await expect.poll(async () => Object.keys(await legend(page)).sort()).toEqual(groups)
    const colours = await legend(page)
    expect(new Set(Object.values(colours)).size).toBe(groups.length)
    expect(await page.getByTestId('diff-scale').count()).toBe(0)
    await expect
      .poll(async () => {
        const drawn = await frames(page)
        return Object.entries(FRAMES).every(([fn, { group }]) => {
          const frame = drawn[fn]
          return frame !== undefined && frame.fill === colours[group] && !frame.light
        })
      })
      .toBe(true)
    // The change stays on each frame, in its attributes and its details line.
    const drawn = await frames(page)
    for (const fn of Object.keys(FRAMES)) expect(drawn[fn]!.change).toBe(byChange[fn]!.change)
    expect(drawn.next!.change).toBe('grew')
    await page.locator(`[data-testid=${TEST_ID}] g.frame[name="next"]`).hover()
    await expect
      .poll(() => page.getByTestId(`${TEST_ID}-details`).locator('strong.change-grew').count())
      .toBe(1)
    await page.mouse.move(0, 0)
    await screenshot(page, 'packages-diff-colour')

    // The colouring survives a reload, and "by change" brings the change colours back.
    await page.reload()
    await waitForFlameGraph(page, TEST_ID)
    await expect.poll(async () => Object.keys(await legend(page)).sort()).toEqual(groups)
    await page.getByTestId(`${TEST_ID}-color-by`).selectOption('name')
    await expect.poll(() => new URL(page.url()).searchParams.get('color')).toBeNull()
    await expect.poll(() => page.getByTestId(`${TEST_ID}-legend`).count()).toBe(0)
    await expect.poll(() => frames(page)).toEqual(byChange)
    expect(await page.getByTestId('diff-scale').count()).toBe(1)
    await page.close()
  })
})
