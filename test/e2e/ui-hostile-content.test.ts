import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { FindingsRunResponse, HookResponse } from '@kiln/wire'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser } from './helpers/browser.js'
import {
  expectInert,
  inspectPage,
  openGuardedPage,
  payloadsRun,
  type GuardedPage,
} from './helpers/guarded-page.js'
import {
  HOSTILE_FUNCTIONS,
  asExported,
  HOSTILE_SERVICE,
  NEW_VERSION,
  OLD_VERSION,
  PAYLOADS,
  PODS,
  PROTOTYPE_LABELS,
  RUN_AS_HTML,
  SLOWER,
  hostileAlerts,
  hostileGrafanaWebhook,
  hostileUploads,
  type HostileFunction,
} from './helpers/hostile-fixtures.js'
import { startTestServer, type TestServer } from './helpers/kiln-server.js'
import { ingestAll, selfByFunction } from './helpers/synthetic-ingest.js'
import { UPLOAD_MS } from './helpers/ui-fixtures.js'
import { expectPngExport, rowFunctions, waitForFlameGraph } from './helpers/ui-page.js'

/*
 * Function names, file names, label values, versions and alerts full of markup and script
 * (`helpers/hostile-fixtures.ts`), through every view and the SVG export. Each page runs under
 * the server's Content-Security-Policy; at the end of each test no payload has run, nothing was
 * refused by the policy (so nothing tried), nothing threw, and the DOM holds nothing that could
 * run later. The hostile strings must be on screen as text, exactly as ingested.
 */

const MINUTE = 60_000
/** pprof-builder gives every function line 1: the UI shows `file:1`. */
const LINE = 1
/** Longer than `expect.poll`'s default second: the store answers slower on a busy machine. */
const WAIT = { timeout: 10_000 }
const EXPLORE = `/?service=${encodeURIComponent(HOSTILE_SERVICE)}&type=cpu&range=1h`

/** `{service_version="..."}` as the UI writes it: the value as a JSON string. */
const versionQuery = (version: string) => `{service_version=${JSON.stringify(version)}}`

/** Name and file (`file:line`) of each row of a function table, as the page shows them. */
function tableRows(page: Page, testId: string): Promise<{ name: string; file: string }[]> {
  return page.locator(`[data-testid="${testId}"] tbody tr[data-function]`).evaluateAll((rows) =>
    rows.map((row) => ({
      name: row.querySelector('.function-name')?.textContent ?? '',
      file: row.querySelector('.function-file')?.textContent ?? '',
    })),
  )
}

/** `name` attributes of a flame graph's frames, and the labels it wrote into them. */
function drawnFrames(page: Page, testId: string): Promise<{ name: string; label: string }[]> {
  return page.locator(`[data-testid="${testId}"] g.frame`).evaluateAll((frames) =>
    frames.map((frame) => ({
      name: frame.getAttribute('name') ?? '',
      label: frame.querySelector('.d3-flame-graph-label')?.textContent ?? '',
    })),
  )
}

/** Move the pointer onto the frame named `name` and wait for the tooltip to show it. */
async function hoverFrame(page: Page, testId: string, fn: HostileFunction): Promise<void> {
  const box = await page.evaluate(
    ({ id, name }) => {
      const frames = document.querySelectorAll(`[data-testid="${id}"] g.frame`)
      const frame = Array.from(frames).find((f) => f.getAttribute('name') === name)
      const rect = frame?.querySelector('rect')?.getBoundingClientRect()
      return rect && { x: rect.x, y: rect.y, width: rect.width, height: rect.height }
    },
    { id: testId, name: fn.name },
  )
  expect(box, `frame ${fn.kind} drawn in ${testId}`).toBeTruthy()
  // Away first, so the chart sees the pointer enter the frame.
  await page.mouse.move(0, 0)
  await page.mouse.move(box!.x + box!.width / 2, box!.y + box!.height / 2, { steps: 2 })
  const tooltip = page.getByTestId('flame-tooltip')
  await expect.poll(() => tooltip.locator('.flame-tooltip-name').textContent(), WAIT).toBe(fn.name)
  expect(await tooltip.locator('.flame-tooltip-file').textContent()).toBe(fn.file)
}

/** Click the focus button of `fn`'s row of a function table. */
async function focusRow(page: Page, testId: string, fn: HostileFunction): Promise<void> {
  const index = (await rowFunctions(page, testId)).indexOf(fn.name)
  expect(index, `row of ${fn.kind} in ${testId}`).toBeGreaterThanOrEqual(0)
  await page
    .locator(`[data-testid="${testId}"] tbody tr[data-function]`)
    .nth(index)
    .locator('button')
    .click()
}

describe('UI: hostile names, labels and alerts are shown as text and never run', () => {
  let server: TestServer
  let browser: Browser
  let downloads: string
  const end = Math.floor(Date.now() / UPLOAD_MS) * UPLOAD_MS - UPLOAD_MS
  const deployAt = end - 10 * MINUTE
  const uploads = hostileUploads(deployAt)
  const alerts = hostileAlerts({ from: deployAt + 2 * MINUTE, to: deployAt + 7 * MINUTE })
  const grafanaWebhook = hostileGrafanaWebhook({
    from: deployAt + 2 * MINUTE,
    to: deployAt + 7 * MINUTE,
  })
  /** Every alert the page lists: the generic ones and Grafana's. */
  const alertNames = [...alerts.map((a) => a.name!), grafanaWebhook.alerts[0]!.labels.alertname]
  const pages: GuardedPage[] = []

  async function open(path: string): Promise<GuardedPage> {
    const guarded = await openGuardedPage(browser, `${server.url}${path}`)
    pages.push(guarded)
    return guarded
  }

  beforeAll(async () => {
    server = await startTestServer()
    downloads = mkdtempSync(join(tmpdir(), 'kiln-hostile-'))
    await ingestAll(server.url, uploads)
    const hook = await fetch(`${server.url}/api/v1/hooks/generic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ alerts }),
    })
    expect(hook.status).toBe(200)
    const answer = (await hook.json()) as HookResponse
    expect(answer.alerts.map((a) => a.name)).toEqual(alerts.map((a) => a.name))
    const grafana = await fetch(`${server.url}/api/v1/hooks/grafana`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(grafanaWebhook),
    })
    expect(grafana.status).toBe(200)
    browser = await launchBrowser()
  })

  afterAll(async () => {
    try {
      // Every page a test opened, once more at the end: events that came late count too.
      for (const guarded of pages) await expectInert(guarded)
    } finally {
      await browser?.close()
      await server?.dispose()
      rmSync(downloads, { recursive: true, force: true })
    }
  })

  it('the payloads are live: markup ones run when a page without a policy parses them', async () => {
    // Each alone (the comment payload would swallow what follows it), as HTML text.
    const viewer = await browser.newPage()
    const ran = new Set<unknown>()
    for (const [kind, make] of Object.entries(PAYLOADS)) {
      await viewer.setContent(`<!doctype html><p>${make(`live-${kind}`)}</p>`)
      for (const ids of await payloadsRun(viewer)) for (const id of ids as unknown[]) ran.add(id)
    }
    await viewer.close()
    expect([...ran].sort()).toEqual(RUN_AS_HTML.map((kind) => `live-${kind}`).sort())
  })

  it('the guard sees markup that reaches a Kiln page, and the policy refuses to run it', async () => {
    const guarded = await openGuardedPage(browser, `${server.url}${EXPLORE}`)
    const { page } = guarded
    await waitForFlameGraph(page)
    // The top table answers on its own request: it can land after the flame graph.
    await page.locator('[data-testid=top-table] .function-name').first().waitFor()
    // What a `dangerouslySetInnerHTML` of a function name would do.
    await page.evaluate(
      ([img, iframe]) => {
        const cell = document.querySelector('[data-testid=top-table] .function-name')!
        cell.innerHTML = img!
        cell.insertAdjacentHTML('afterend', iframe!)
      },
      [PAYLOADS.img('guard-img'), PAYLOADS.iframe('guard-iframe')],
    )
    await expect
      .poll(async () => (await inspectPage(guarded)).violations.join('\n'), WAIT)
      .toMatch(/script-src-attr[^]*script-src-elem|script-src-elem[^]*script-src-attr/)
    await expect.poll(() => guarded.policyMessages.length, WAIT).toBeGreaterThan(0)
    const findings = await inspectPage(guarded)
    expect(findings.ran).toEqual([])
    expect(findings.active).toEqual(
      expect.arrayContaining(['element <iframe>', 'element <img>', '<img> onerror']),
    )
    await page.close()
  })

  it('explore: the top table, the flame graph, its tooltips and the markers show the names as text', async () => {
    const guarded = await open(EXPLORE)
    const { page } = guarded
    await waitForFlameGraph(page)

    // Heaviest self first, computed from the uploads.
    const expected = [...selfByFunction(uploads)].sort((a, b) => b[1] - a[1]).map(([n]) => n)
    await expect
      .poll(() => rowFunctions(page, 'top-table'), WAIT)
      .toEqual(expect.arrayContaining(expected))
    expect((await rowFunctions(page, 'top-table')).slice(0, expected.length)).toEqual(expected)
    const rows = await tableRows(page, 'top-table')
    for (const fn of HOSTILE_FUNCTIONS) {
      expect(rows).toContainEqual({ name: fn.name, file: `${fn.file}:${LINE}` })
    }

    const frames = await drawnFrames(page, 'flamegraph')
    for (const fn of HOSTILE_FUNCTIONS) {
      const frame = frames.find((f) => f.name === fn.name)
      expect(frame, fn.kind).toBeDefined()
      // Narrow frames have no label; a label is the name, or its beginning and an ellipsis.
      const label = frame!.label
      const cut = label.endsWith('…') && fn.name.startsWith(label.slice(0, -1))
      if (label !== '') expect(label === fn.name || cut, label).toBe(true)
    }
    // The widest hostile frame's label starts with its markup, as text.
    expect(frames.find((f) => f.name === SLOWER.name)?.label.slice(0, 10)).toBe(
      SLOWER.name.slice(0, 10),
    )

    for (const fn of HOSTILE_FUNCTIONS) await hoverFrame(page, 'flamegraph', fn)

    // The deploy of the new version, named and titled by both versions.
    const deploy = page.getByTestId(`deploy-marker-${NEW_VERSION}`)
    await expect.poll(() => deploy.count(), WAIT).toBe(1)
    expect(await deploy.textContent()).toBe(`▲ ${NEW_VERSION}`)
    expect(await deploy.getAttribute('title')).toContain(
      `Deploy of ${NEW_VERSION} (after ${OLD_VERSION})`,
    )
    expect(await page.getByTestId('version-a').inputValue()).toBe(OLD_VERSION)
    expect(await page.getByTestId('version-b').inputValue()).toBe(NEW_VERSION)

    // Every alert on the timeline, by name.
    const markers = page.getByTestId('alert-marker')
    await expect.poll(() => markers.count(), WAIT).toBe(alertNames.length)
    const markerTexts = await markers.allTextContents()
    expect(markerTexts.sort()).toEqual(alertNames.map((name) => `⚠ ${name}`).sort())

    expect(await page.getByTestId('service-select').inputValue()).toBe(HOSTILE_SERVICE)
    await expectInert(guarded)
  })

  it('sandwich: focusing a hostile function shows its callers and callees, names as text', async () => {
    const guarded = await open(EXPLORE)
    const { page } = guarded
    await waitForFlameGraph(page)
    await expect.poll(() => rowFunctions(page, 'top-table'), WAIT).toContain(SLOWER.name)
    await focusRow(page, 'top-table', SLOWER)
    const params = new URL(page.url()).searchParams
    expect(params.get('focus')).toBe(SLOWER.name)
    expect(params.get('focusFile')).toBe(SLOWER.file)

    await waitForFlameGraph(page, 'sandwich-callers')
    const sandwich = page.getByTestId('sandwich')
    expect(await sandwich.locator('h2 code').textContent()).toBe(SLOWER.name)
    // The focus names a function by name and file, without a line.
    expect(await sandwich.locator('h2 .function-file').textContent()).toBe(SLOWER.file)
    const callers = await drawnFrames(page, 'sandwich-callers')
    expect(callers.map((f) => f.name)).toEqual([SLOWER.name, 'handleRequest', 'main'])
    await sandwich.scrollIntoViewIfNeeded()
    await hoverFrame(page, 'sandwich-callers', SLOWER)
    await hoverFrame(page, 'sandwich-callees', SLOWER)

    // Each other hostile function too, in turn: the focus travels through the URL.
    for (const fn of HOSTILE_FUNCTIONS.filter((f) => f !== SLOWER)) {
      await focusRow(page, 'top-table', fn)
      await expect.poll(() => sandwich.locator('h2 code').textContent(), WAIT).toBe(fn.name)
      await waitForFlameGraph(page, 'sandwich-callers')
      expect((await drawnFrames(page, 'sandwich-callers'))[0]?.name).toBe(fn.name)
    }
    await expectInert(guarded)
  })

  it('label filter: hostile label values are suggested as values and select their series', async () => {
    const guarded = await open(EXPLORE)
    const { page } = guarded
    await waitForFlameGraph(page)
    const names = page.locator('[data-testid=label-name-select] option')
    await expect
      .poll(() => names.evaluateAll((o) => o.map((x) => x.getAttribute('value'))), WAIT)
      .toEqual(['', ...['pod', 'service_version', ...Object.keys(PROTOTYPE_LABELS)].sort()])
    const suggestions = page.locator('[data-testid=label-value-suggestions] option')
    const suggested = () =>
      suggestions.evaluateAll((o) => o.map((x) => (x as HTMLOptionElement).value).sort())

    await page.getByTestId('label-name-select').selectOption('pod')
    await expect.poll(suggested, WAIT).toEqual([...PODS].sort())
    await page.getByTestId('label-name-select').selectOption('service_version')
    await expect.poll(suggested, WAIT).toEqual([OLD_VERSION, NEW_VERSION].sort())
    await page.getByTestId('label-name-select').selectOption('constructor')
    await expect.poll(suggested, WAIT).toEqual(Object.values(PROTOTYPE_LABELS))

    // A hostile value, picked: the selector quotes it, and the server finds its series.
    await page.getByTestId('label-name-select').selectOption('pod')
    await expect.poll(suggested, WAIT).toEqual([...PODS].sort())
    const pod = PODS[0]!
    await page.getByTestId('label-value-input').fill(pod)
    await page.getByTestId('label-value-input').press('Enter')
    const query = `{pod=${JSON.stringify(pod)}}`
    await expect.poll(() => new URL(page.url()).searchParams.get('query'), WAIT).toBe(query)
    await expect
      .poll(() => page.getByTestId('profile-summary').textContent(), WAIT)
      .toContain(query)
    expect(await page.getByTestId('query-input').inputValue()).toBe(query)
    await waitForFlameGraph(page)
    await expect.poll(() => rowFunctions(page, 'top-table'), WAIT).toContain(SLOWER.name)
    await expectInert(guarded)
  })

  it('compare: the deploy of a hostile version opens a diff whose tables and tooltips show the names', async () => {
    const guarded = await open(EXPLORE)
    const { page } = guarded
    await page.getByTestId(`deploy-marker-${NEW_VERSION}`).click()
    await waitForFlameGraph(page, 'diff-flamegraph')
    const params = new URL(page.url()).searchParams
    expect(params.get('view')).toBe('diff')
    expect(params.get('baseQuery')).toBe(versionQuery(OLD_VERSION))
    expect(params.get('compQuery')).toBe(versionQuery(NEW_VERSION))
    expect(await page.getByLabel('Baseline label selector').inputValue()).toBe(
      versionQuery(OLD_VERSION),
    )
    expect(await page.getByLabel('Comparison label selector').inputValue()).toBe(
      versionQuery(NEW_VERSION),
    )

    // The slower function grew most; every other lost share to it.
    await expect.poll(() => rowFunctions(page, 'changes-grew'), WAIT).not.toEqual([])
    expect((await rowFunctions(page, 'changes-grew'))[0]).toBe(SLOWER.name)
    const changed = [
      ...(await tableRows(page, 'changes-grew')),
      ...(await tableRows(page, 'changes-shrank')),
    ]
    // The diff ranks functions by name and file: no line.
    for (const fn of HOSTILE_FUNCTIONS)
      expect(changed).toContainEqual({ name: fn.name, file: fn.file })
    const frames = await drawnFrames(page, 'diff-flamegraph')
    for (const fn of HOSTILE_FUNCTIONS) expect(frames.map((f) => f.name)).toContain(fn.name)
    for (const fn of HOSTILE_FUNCTIONS) await hoverFrame(page, 'diff-flamegraph', fn)
    expect(await page.getByTestId('flame-tooltip').textContent()).toContain('Baseline')
    await expect.poll(() => page.getByTestId(`deploy-marker-${NEW_VERSION}`).count(), WAIT).toBe(1)

    // A function of the changes table focused, then both windows side by side.
    await focusRow(page, 'changes-grew', SLOWER)
    expect(new URL(page.url()).searchParams.get('focus')).toBe(SLOWER.name)
    await page.getByTestId('layout-split').click()
    await waitForFlameGraph(page, 'baseline-flamegraph')
    await waitForFlameGraph(page, 'comparison-flamegraph')
    for (const side of ['baseline-flamegraph', 'comparison-flamegraph']) {
      const names = (await drawnFrames(page, side)).map((f) => f.name)
      expect(names).toContain(SLOWER.name)
    }
    await expectInert(guarded)
  })

  it('alerts and findings: names show as text, javascript: URLs never become links', async () => {
    const run = await fetch(`${server.url}/api/v1/findings/run`, { method: 'POST' })
    expect(run.status).toBe(200)
    const { findings } = (await run.json()) as FindingsRunResponse
    const regression = findings.find((f) => f.kind === 'cpu_regression')
    expect(regression?.version).toBe(NEW_VERSION)
    expect(regression?.functions[0]?.name).toBe(SLOWER.name)

    const guarded = await open('/?view=alerts')
    const { page } = guarded
    const rows = page.locator('[data-testid=alerts-table] tbody tr')
    await expect.poll(() => rows.count(), WAIT).toBe(alertNames.length)
    const shown = await rows.evaluateAll((trs) =>
      trs.map((tr) => ({
        attribute: tr.getAttribute('data-alert'),
        name: tr.querySelector('strong')?.textContent,
        service: tr.querySelectorAll('td')[1]?.textContent,
      })),
    )
    expect(shown.sort((a, b) => (a.name! < b.name! ? -1 : 1))).toEqual(
      alertNames
        .map((name) => ({ attribute: name, name, service: HOSTILE_SERVICE }))
        .sort((a, b) => (a.name! < b.name! ? -1 : 1)),
    )
    const finding = page.locator('[data-testid=findings-table] tr[data-finding=cpu_regression]')
    await expect.poll(() => finding.count(), WAIT).toBe(1)
    expect(await finding.locator('strong').textContent()).toBe(regression!.title)
    const text = await finding.textContent()
    expect(text).toContain(SLOWER.name)
    expect(text).toContain(NEW_VERSION)

    // The source URLs are never anchors, whatever their case or spacing.
    const hrefs = await page
      .locator('a[href]')
      .evaluateAll((links) => links.map((a) => (a as HTMLAnchorElement).protocol))
    expect(hrefs.length).toBeGreaterThan(0)
    expect(hrefs.filter((p) => p !== 'http:')).toEqual([])
    // Grafana's harmless image link is shown, its hostile links are not; its values as text.
    const grafanaRow = page.locator('[data-testid=alerts-table] tbody tr', {
      has: page.getByTestId('alert-values'),
    })
    expect(
      await grafanaRow
        .locator('a[target=_blank]')
        .evaluateAll((as) => as.map((a) => a.getAttribute('href'))),
    ).toEqual(['http://grafana.example.org/render/panel.png'])
    expect(await grafanaRow.getByTestId('alert-values').textContent()).toBe(
      `${PAYLOADS.img('grafana-value')} = 1, B = 42.5`,
    )
    await expectInert(guarded)

    // An alert's comparison opens for the hostile service.
    const first = page.locator(`[data-testid=alerts-table] tr[data-alert]`).first()
    await first.getByTestId('open-comparison').click()
    await waitForFlameGraph(page, 'diff-flamegraph')
    expect(new URL(page.url()).searchParams.get('service')).toBe(HOSTILE_SERVICE)
    await expectInert(guarded)
  })

  it('exports an SVG that parses, holds no script, runs nothing when opened, and a PNG', async () => {
    const guarded = await open(EXPLORE)
    const { page } = guarded
    await waitForFlameGraph(page)

    const [svgDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'SVG', exact: true }).click(),
    ])
    const svgPath = join(downloads, 'flamegraph.svg')
    copyFileSync((await svgDownload.path())!, svgPath)
    const svg = readFileSync(svgPath, 'utf8')
    expect(svg).toMatch(/^<svg/)
    expect(svg).not.toMatch(/<script/i)
    expect(svg).not.toMatch(/<foreignObject/i)

    /*
     * Parsed as XML in a page of its own: the Kiln page's policy would govern a DOMParser
     * document made there, and refuse the export's own `<style>` as it parsed (a report of the
     * test, not of the UI).
     */
    const viewer = await browser.newPage()
    const viewerErrors: string[] = []
    viewer.on('pageerror', (error) => viewerErrors.push(error.message))
    const parsed = await viewer.evaluate((markup) => {
      const doc = new DOMParser().parseFromString(markup, 'image/svg+xml')
      const all = Array.from(doc.querySelectorAll('*'))
      return {
        error: doc.querySelector('parsererror')?.textContent ?? null,
        root: doc.documentElement.localName,
        active: all
          .filter((el) => ['script', 'foreignObject', 'iframe'].includes(el.localName))
          .map((el) => el.localName),
        handlers: all.flatMap((el) =>
          Array.from(el.attributes)
            .filter((a) => /^on/i.test(a.localName))
            .map((a) => a.name),
        ),
        frames: Array.from(doc.querySelectorAll('g.frame')).map((g) => ({
          name: g.getAttribute('name') ?? '',
          text: g.querySelector('text')?.textContent ?? '',
        })),
      }
    }, svg)
    expect(parsed.error).toBeNull()
    expect(parsed.root).toBe('svg')
    expect(parsed.active).toEqual([])
    expect(parsed.handlers).toEqual([])
    for (const fn of HOSTILE_FUNCTIONS) {
      const name = asExported(fn.name)
      const frame = parsed.frames.find((f) => f.name === name)
      expect(frame, fn.kind).toBeDefined()
      // A label is the name, or its beginning and an ellipsis.
      const label = frame!.text
      if (label !== '') expect(label === name || name.startsWith(label.slice(0, -1))).toBe(true)
    }
    // Replaced, not dropped: the export still names the function with control characters.
    const control = HOSTILE_FUNCTIONS.find((f) => f.kind === 'control')!
    expect(asExported(control.name)).not.toBe(control.name)
    // The widest hostile frame's label starts with its markup, as text.
    const slower = parsed.frames.find((f) => f.name === SLOWER.name)!
    expect(slower.text.slice(0, 10)).toBe(SLOWER.name.slice(0, 10))

    // The file itself, opened as a document (where an SVG's scripts would run): nothing runs.
    await viewer.goto(pathToFileURL(svgPath).href)
    expect(await viewer.evaluate(() => document.documentElement.localName)).toBe('svg')
    expect(await viewer.evaluate(() => document.querySelector('parsererror') === null)).toBe(true)
    expect(await viewer.locator('g.frame').count()).toBe(parsed.frames.length)
    expect(await payloadsRun(viewer)).toEqual([])
    expect(viewerErrors).toEqual([])
    await viewer.close()

    await expectPngExport(page)
    expect(await page.locator('.export-failure').count()).toBe(0)

    const [pprofDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('export-pprof').click(),
    ])
    // The service's `:` and `/` do not reach the file name.
    expect(pprofDownload.suggestedFilename()).toMatch(/^[A-Za-z0-9._-]+\.pb\.gz$/)
    const pprof = readFileSync((await pprofDownload.path())!)
    expect([...pprof.subarray(0, 2)]).toEqual([0x1f, 0x8b])
    await expectInert(guarded)
  })
})
