import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { expect } from 'vitest'

export const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url))
export const SCREENSHOTS = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url))

/** A page that records uncaught errors, to assert none happened. */
export async function openPage(
  browser: Browser,
  url: string,
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({
    viewport: { width: 1440, height: 1000 },
    acceptDownloads: true,
  })
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(url)
  return { page, errors }
}

/** Wait until a flame graph has drawn and its transition has settled (root spans the chart). */
export async function waitForFlameGraph(page: Page, testId = 'flamegraph'): Promise<void> {
  const span = () =>
    page.evaluate((id) => {
      const chart = document.querySelector(`[data-testid="${id}"]`)
      const svg = chart?.querySelector('svg')
      const root = chart?.querySelector('g.frame rect')
      return svg && root
        ? root.getBoundingClientRect().width / svg.getBoundingClientRect().width
        : 0
    }, testId)
  await expect.poll(span, { timeout: 20_000 }).toBeGreaterThan(0.95)
}

/** `data-function` of the rows of a table, in order. */
export function rowFunctions(page: Page, testId: string): Promise<string[]> {
  return page
    .locator(`[data-testid="${testId}"] tbody tr[data-function]`)
    .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-function') ?? ''))
}

/**
 * A screenshot in `test/artifacts/ui-<name>.png`, copied to `docs/screenshots/<name>.png` for the
 * README when `docs` is set, so the pictures there always show the UI as the tests last saw it.
 */
export async function screenshot(page: Page, name: string, { docs = false } = {}): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true })
  const artifact = `${ARTIFACTS}ui-${name}.png`
  await page.screenshot({ path: artifact, fullPage: false })
  if (docs) {
    mkdirSync(SCREENSHOTS, { recursive: true })
    copyFileSync(artifact, `${SCREENSHOTS}${name}.png`)
  }
}

/** Click the PNG export and check that a PNG file (by its signature) is downloaded. */
export async function expectPngExport(page: Page): Promise<void> {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'PNG', exact: true }).click(),
  ])
  expect(download.suggestedFilename()).toMatch(/\.png$/)
  const png = readFileSync((await download.path())!)
  expect([...png.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47])
}
