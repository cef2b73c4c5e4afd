import { randomUUID } from 'node:crypto'
import { diffUiLink, formatAppName } from '@kiln/wire'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeProfile } from '../../server/test/helpers/pprof-builder.js'
import { launchBrowser } from './helpers/browser.js'
import { startTestServer, type TestServer } from './helpers/kiln-server.js'
import { MS, UPLOAD_MS } from './helpers/ui-fixtures.js'
import { openPage, rowFunctions, screenshot, waitForFlameGraph } from './helpers/ui-page.js'

/*
 * A traced service (samples labelled with trace_id, span_id and endpoint, as Kiln's agent writes
 * them under OpenTelemetry): two endpoints and time outside any, CPU and wall in each sample, and
 * a checkout that also runs applyCoupons after the deploy. Every figure the test expects (shares,
 * calls, which traces ran a function, which endpoint got slower per call) is computed from these
 * samples. The server wants a read token, so every page opens through the sign-in first.
 */

const SERVICE = 'shop'
/** Uploads per window: 2 minutes of 10 s profiles. */
const UPLOADS = 12
const CHECKOUT = 'POST /checkout/:id'
const ITEMS = 'GET /items'
const STACKS: Record<string, string[]> = {
  [CHECKOUT]: ['main@app.js', 'handle@server.js', 'checkout@checkout.js', 'price@pricing.js'],
  [ITEMS]: ['main@app.js', 'handle@server.js', 'listItems@items.js'],
}
/** After the deploy, each checkout also runs this, under `checkout`. */
const COUPONS = 'applyCoupons@coupons.js'
/** Per upload, time outside any span: no trace, no endpoint. */
const IDLE = { stack: ['main@app.js', 'gc@runtime.js'], cpu: 15 * MS, wall: 40 * MS }
/** Traces per upload: three checkouts, then one listing. */
const TRACES_PER_UPLOAD = 4
const TRACING_URL = 'http://jaeger.example:16686/trace/{traceId}?start={from}'

/** Polls that wait for the server's answers: the machine may be busy with other runs. */
const ANSWER = { timeout: 15_000 }

const TOKENS = { read: `r-${randomUUID()}`, ingest: `i-${randomUUID()}` }

interface TracedSample {
  at: number
  traceId: string
  spanId: string
  endpoint: string
  stack: string[]
  cpu: number
  wall: number
}

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0')
const fn = (frame: string) => frame.split('@')[0]!

/** Upload `u`'s traced samples; trace numbers run on across both windows. */
function tracedSamples(at: number, u: number, deployed: boolean): TracedSample[] {
  const out: TracedSample[] = []
  for (let t = 0; t < TRACES_PER_UPLOAD; t++) {
    const k = u * TRACES_PER_UPLOAD + t
    const endpoint = t === TRACES_PER_UPLOAD - 1 ? ITEMS : CHECKOUT
    const ids = { at, traceId: hex(0xabc000 + k, 32), spanId: hex(0x5000 + k, 16), endpoint }
    const cpu = (endpoint === CHECKOUT ? 10 + 2 * (k % 5) : 6 + (k % 3)) * MS
    const wall = cpu * (endpoint === CHECKOUT ? 3 : 4)
    out.push({ ...ids, stack: STACKS[endpoint]!, cpu, wall })
    if (deployed && endpoint === CHECKOUT) {
      out.push({ ...ids, stack: [...STACKS[endpoint]!.slice(0, 3), COUPONS], cpu: 2 * cpu, wall })
    }
  }
  return out
}

async function ingest(serverUrl: string, at: number, traced: readonly TracedSample[]) {
  const body = encodeProfile({
    sampleTypes: [
      ['cpu', 'nanoseconds'],
      ['wall', 'nanoseconds'],
    ],
    samples: [
      { stack: IDLE.stack, values: [IDLE.cpu, IDLE.wall] },
      ...traced.map((s) => ({
        stack: s.stack,
        values: [s.cpu, s.wall],
        labels: { trace_id: s.traceId, span_id: s.spanId, endpoint: s.endpoint },
      })),
    ],
  })
  const name = encodeURIComponent(formatAppName(SERVICE, {}))
  const response = await fetch(
    `${serverUrl}/ingest?name=${name}&from=${at / 1000}&until=${(at + UPLOAD_MS) / 1000}&format=pprof`,
    {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        authorization: `Bearer ${TOKENS.ingest}`,
      },
      body: new Uint8Array(body),
    },
  )
  if (response.status !== 200)
    throw new Error(`ingest: ${response.status} ${await response.text()}`)
}

/** CPU and wall per endpoint (`''`: outside any) and the spans behind them, over `uploads`. */
function endpointTotals(samples: readonly TracedSample[], uploads: readonly number[]) {
  const out = new Map<string, { cpu: number; wall: number; spans: Set<string> }>()
  const entry = (endpoint: string) => {
    let e = out.get(endpoint)
    if (e === undefined) out.set(endpoint, (e = { cpu: 0, wall: 0, spans: new Set() }))
    return e
  }
  entry('').cpu += IDLE.cpu * uploads.length
  entry('').wall += IDLE.wall * uploads.length
  for (const s of samples) {
    const e = entry(s.endpoint)
    e.cpu += s.cpu
    e.wall += s.wall
    e.spans.add(s.spanId)
  }
  return out
}

/** Function names of the frames the flame graph drew, without its root (`total`). */
function frameNames(page: Page, testId = 'flamegraph'): Promise<string[]> {
  return page
    .locator(`[data-testid=${testId}] g.frame`)
    .evaluateAll((frames) => [...new Set(frames.slice(1).map((f) => f.getAttribute('name') ?? ''))])
}

function endpointRow(page: Page, table: string, endpoint: string) {
  return page.locator(`[data-testid=${table}] tbody tr[data-endpoint="${endpoint}"]`)
}

function tableEndpoints(page: Page, table: string): Promise<string[]> {
  return page
    .locator(`[data-testid=${table}] tbody tr[data-endpoint]`)
    .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-endpoint') ?? ''))
}

describe('UI: endpoints and traces against a real server', () => {
  let server: TestServer
  let browser: Browser
  const end = Math.floor(Date.now() / UPLOAD_MS) * UPLOAD_MS - UPLOAD_MS
  const compFrom = end - UPLOADS * UPLOAD_MS
  const baseFrom = compFrom - UPLOADS * UPLOAD_MS
  const baseAt = Array.from({ length: UPLOADS }, (_, i) => baseFrom + i * UPLOAD_MS)
  const compAt = Array.from({ length: UPLOADS }, (_, i) => compFrom + i * UPLOAD_MS)
  const BASE = baseAt.flatMap((at, u) => tracedSamples(at, u, false))
  const COMP = compAt.flatMap((at, u) => tracedSamples(at, UPLOADS + u, true))
  const errors: string[] = []

  /** A page at `path`, through the sign-in: the link must still lead where it pointed. */
  async function open(path: string): Promise<Page> {
    const opened = await openPage(browser, `${server.url}${path}`)
    const { page } = opened
    errors.push(...opened.errors)
    page.on('pageerror', (error) => errors.push(error.message))
    await page.getByTestId('sign-in-token').fill(TOKENS.read)
    await page.getByTestId('sign-in-submit').click()
    return page
  }

  beforeAll(async () => {
    server = await startTestServer({
      tokens: `read=${TOKENS.read},ingest=${TOKENS.ingest}`,
      authQueries: true,
      tracingUrl: TRACING_URL,
    })
    for (const [i, at] of baseAt.entries()) {
      await ingest(
        server.url,
        at,
        BASE.filter((s) => s.at === at),
      )
      await ingest(
        server.url,
        compAt[i]!,
        COMP.filter((s) => s.at === compAt[i]),
      )
    }
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await server?.dispose()
    expect(errors).toEqual([])
  })

  it("lists each endpoint's share of the window, and filters the view by one", async () => {
    const page = await open(`/?service=${SERVICE}&type=cpu&from=${baseFrom}&to=${compFrom}`)
    await waitForFlameGraph(page)
    const totals = endpointTotals(BASE, baseAt)
    const cpuTotal = [...totals.values()].reduce((sum, e) => sum + e.cpu, 0)
    const wallTotal = [...totals.values()].reduce((sum, e) => sum + e.wall, 0)
    const byCpu = [...totals].sort((a, b) => b[1].cpu - a[1].cpu).map(([endpoint]) => endpoint)
    await expect.poll(() => tableEndpoints(page, 'endpoints-table'), ANSWER).toEqual(byCpu)
    for (const [endpoint, e] of totals) {
      const cells = endpointRow(page, 'endpoints-table', endpoint).locator('td')
      expect(Number(await cells.nth(1).getAttribute('data-share'))).toBeCloseTo(e.cpu / cpuTotal, 9)
      expect(Number(await cells.nth(2).getAttribute('data-share'))).toBeCloseTo(
        e.wall / wallTotal,
        9,
      )
      const calls = e.spans.size
      expect(await cells.nth(3).innerText()).toBe(calls > 0 ? String(calls) : '—')
      const perCall = await cells.nth(4).getAttribute('data-per-call')
      if (calls > 0) expect(Number(perCall)).toBeCloseTo(e.cpu / calls, 6)
      else expect(perCall).toBeNull()
    }
    await page.getByTestId('endpoints-table').scrollIntoViewIfNeeded()
    await screenshot(page, 'endpoints')

    const everyFrame = await frameNames(page)
    for (const frame of [...STACKS[ITEMS]!, ...IDLE.stack]) expect(everyFrame).toContain(fn(frame))

    // Checkout only: the URL's filter, the graph and the top table lose the other frames.
    await endpointRow(page, 'endpoints-table', CHECKOUT).locator('button').click()
    await expect
      .poll(() => new URL(page.url()).searchParams.get('query'), ANSWER)
      .toBe(`{endpoint=${JSON.stringify(CHECKOUT)}}`)
    const checkoutFrames = STACKS[CHECKOUT]!.map(fn).sort()
    await expect.poll(async () => (await frameNames(page)).sort(), ANSWER).toEqual(checkoutFrames)
    await expect
      .poll(async () => (await rowFunctions(page, 'top-table')).sort(), ANSWER)
      .toEqual(checkoutFrames)
    // Every endpoint is still listed, the chosen one pressed; again: the filter is gone.
    expect(await tableEndpoints(page, 'endpoints-table')).toEqual(byCpu)
    const button = endpointRow(page, 'endpoints-table', CHECKOUT).locator('button')
    expect(await button.getAttribute('aria-pressed')).toBe('true')
    await button.click()
    await expect.poll(() => new URL(page.url()).searchParams.get('query'), ANSWER).toBeNull()
    await expect.poll(async () => (await frameNames(page)).length, ANSWER).toBe(everyFrame.length)
  })

  it("opens a trace's own profile from a tracing UI's link, after the sign-in", async () => {
    const trace = COMP.find((s) => s.endpoint === CHECKOUT)!
    const own = COMP.filter((s) => s.traceId === trace.traceId)
    const ownFunctions = [...new Set(own.flatMap((s) => s.stack.map(fn)))].sort()
    expect(ownFunctions).toContain(fn(COUPONS))
    const link =
      `/?view=trace&service=${SERVICE}&type=cpu&traceId=${trace.traceId.toUpperCase()}` +
      `&from=${trace.at}&to=${trace.at + 1}`
    const page = await open(link)
    await waitForFlameGraph(page)
    expect(new URL(page.url()).searchParams.get('view')).toBe('trace')
    await expect.poll(async () => (await frameNames(page)).sort(), ANSWER).toEqual(ownFunctions)
    for (const frame of [...STACKS[ITEMS]!, ...IDLE.stack].map(fn)) {
      if (!ownFunctions.includes(frame)) expect(await frameNames(page)).not.toContain(frame)
    }
    await expect
      .poll(async () => (await rowFunctions(page, 'top-table')).sort(), ANSWER)
      .toEqual(ownFunctions)
    // Which trace, its endpoint, and the way back to the tracing UI.
    expect(await page.getByTestId('trace-id').innerText()).toBe(trace.traceId)
    await expect
      .poll(() => page.getByTestId('trace-endpoint').innerText(), ANSWER)
      .toContain(CHECKOUT)
    const tracing = await page.getByTestId('tracing-link').getAttribute('href')
    expect(tracing).toContain(`/trace/${trace.traceId}?start=`)
    await screenshot(page, 'trace')
  })

  it('says when a link names no window, and when a trace has no samples', async () => {
    const trace = BASE.find((s) => s.endpoint === ITEMS)!
    const page = await open(`/?view=trace&service=${SERVICE}&type=cpu&traceId=${trace.traceId}`)
    await waitForFlameGraph(page)
    await page.getByTestId('trace-default-window').waitFor()
    expect((await frameNames(page)).sort()).toEqual(STACKS[ITEMS]!.map(fn).sort())
    // The trace's summary is looked up by its id: its endpoint is known in the default window too.
    await expect.poll(() => page.getByTestId('trace-endpoint').innerText(), ANSWER).toContain(ITEMS)

    const none = await open(`/?view=trace&service=${SERVICE}&type=cpu&traceId=${'f'.repeat(32)}`)
    await expect
      .poll(() => none.getByTestId('trace-empty').innerText(), ANSWER)
      .toContain('KILN_TRACE_RETENTION_DAYS')
  })

  it('lists the traces that ran a focused function, each opening its profile', async () => {
    const [name, file] = COUPONS.split('@') as [string, string]
    const page = await open(
      `/?service=${SERVICE}&type=cpu&from=${compFrom}&to=${end}` +
        `&focus=${name}&focusFile=${encodeURIComponent(file)}`,
    )
    await waitForFlameGraph(page)
    // The traces whose samples ran it, by the value of those samples, heaviest first (then id).
    const value = new Map<string, number>()
    for (const s of COMP) {
      if (s.stack.includes(COUPONS)) value.set(s.traceId, (value.get(s.traceId) ?? 0) + s.cpu)
    }
    const expected = [...value]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 10)
      .map(([id]) => id)
    const listed = () =>
      page
        .locator('[data-testid=function-traces] li[data-trace-id]')
        .evaluateAll((items) => items.map((li) => li.getAttribute('data-trace-id') ?? ''))
    await expect.poll(listed, ANSWER).toEqual(expected)
    await page.getByTestId('function-traces').scrollIntoViewIfNeeded()
    await screenshot(page, 'function-traces')

    await page.getByTestId('trace-link').first().click()
    await expect
      .poll(() => new URL(page.url()).searchParams.get('traceId'), ANSWER)
      .toBe(expected[0])
    expect(new URL(page.url()).searchParams.get('view')).toBe('trace')
    await waitForFlameGraph(page)
    expect(await page.getByTestId('trace-id').innerText()).toBe(expected[0])
  })

  it('ranks the endpoint that got slower per call first in a comparison, and narrows to it', async () => {
    const link = diffUiLink(server.url, {
      service: SERVICE,
      type: 'cpu',
      baseFrom,
      baseTo: compFrom,
      compFrom,
      compTo: end,
    })
    const page = await open(link.slice(server.url.length))
    await waitForFlameGraph(page, 'diff-flamegraph')
    const before = endpointTotals(BASE, baseAt)
    const after = endpointTotals(COMP, compAt)
    const change = new Map(
      [CHECKOUT, ITEMS].map((endpoint) => {
        const b = before.get(endpoint)!
        const a = after.get(endpoint)!
        return [endpoint, a.cpu / a.spans.size / (b.cpu / b.spans.size) - 1] as const
      }),
    )
    const byChange = [...change].sort((a, b) => b[1] - a[1]).map(([endpoint]) => endpoint)
    expect(byChange[0]).toBe(CHECKOUT)
    await expect.poll(() => tableEndpoints(page, 'endpoints-diff-table'), ANSWER).toEqual(byChange)
    for (const [endpoint, expected] of change) {
      const cell = endpointRow(page, 'endpoints-diff-table', endpoint).locator('td').nth(2)
      expect(Number(await cell.getAttribute('data-per-call-change'))).toBeCloseTo(expected, 9)
    }
    const slower = endpointRow(page, 'endpoints-diff-table', CHECKOUT)
    expect(await slower.getAttribute('data-change')).toBe('grew')
    expect(await slower.locator('td').nth(4).getAttribute('data-function')).toBe(fn(COUPONS))
    await page.getByTestId('endpoints-diff-table').scrollIntoViewIfNeeded()
    await screenshot(page, 'endpoints-compare')

    await slower.locator('button').click()
    const filter = `{endpoint=${JSON.stringify(CHECKOUT)}}`
    await expect.poll(() => new URL(page.url()).searchParams.get('baseQuery'), ANSWER).toBe(filter)
    expect(new URL(page.url()).searchParams.get('compQuery')).toBe(filter)
    // Both windows of the diff lose the other endpoint's frames; the table still lists both.
    const checkoutFrames = [...STACKS[CHECKOUT]!, COUPONS].map(fn).sort()
    await expect
      .poll(async () => (await frameNames(page, 'diff-flamegraph')).sort(), ANSWER)
      .toEqual(checkoutFrames)
    await expect.poll(() => tableEndpoints(page, 'endpoints-diff-table'), ANSWER).toEqual(byChange)
    expect(await slower.locator('button').getAttribute('aria-pressed')).toBe('true')
  })
})
