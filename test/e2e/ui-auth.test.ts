import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { SESSION_PATH, TENANT_HEADER } from '@kiln/wire'
import type { Browser, Page, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser } from './helpers/browser.js'
import { startTestServer, type TestServer } from './helpers/kiln-server.js'
import { ingestAll, type SyntheticUpload } from './helpers/synthetic-ingest.js'
import {
  CPU_SERVICE,
  NEW_VERSION,
  SLOWER_FUNCTION,
  UPLOAD_MS,
  cpuUploads,
} from './helpers/ui-fixtures.js'
import { openPage, screenshot, waitForFlameGraph } from './helpers/ui-page.js'

const MINUTE = 60_000

/** Each tenant's own service, and a leaf function only its profiles have. */
const TENANTS = {
  acme: { service: `acme-${CPU_SERVICE}`, leaf: SLOWER_FUNCTION },
  globex: { service: 'globex-billing', leaf: 'chargeInvoices' },
} as const
type Tenant = keyof typeof TENANTS

/** Distinct random tokens, so a token found in a URL or a log can only have come from here. */
const token = (name: string) => `${name}-${randomUUID()}`
const TOKENS = {
  readAcme: token('r-acme'),
  ingestAcme: token('i-acme'),
  ingestGlobex: token('i-globex'),
  readBoth: token('r-both'),
  admin: token('adm'),
}
const TOKEN_SETTING = [
  `read@acme=${TOKENS.readAcme}`,
  `ingest@acme=${TOKENS.ingestAcme}`,
  `ingest@globex=${TOKENS.ingestGlobex}`,
  `read@acme|globex=${TOKENS.readBoth}`,
  `admin=${TOKENS.admin}`,
].join(',')

/** The CPU fixture as `tenant`'s service, its slower leaf renamed to the tenant's own. */
function tenantUploads(tenant: Tenant, deployAt: number): SyntheticUpload[] {
  const { service, leaf } = TENANTS[tenant]
  return cpuUploads(deployAt).map((upload) => ({
    ...upload,
    service,
    samples: upload.samples.map((s) => ({
      ...s,
      stack: s.stack.map((frame) => frame.replace(`${SLOWER_FUNCTION}@`, `${leaf}@`)),
    })),
  }))
}

/** Names of the frames the flame graph drew. */
function frameNames(page: Page, testId = 'flamegraph'): Promise<string[]> {
  return page
    .locator(`[data-testid=${testId}] g.frame`)
    .evaluateAll((frames) => frames.map((f) => f.getAttribute('name') ?? ''))
}

function serviceOptions(page: Page): Promise<string[]> {
  return page
    .locator('[data-testid=service-select] option')
    .evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value))
}

async function signIn(page: Page, value: string): Promise<void> {
  await page.getByTestId('sign-in-token').fill(value)
  await page.getByTestId('sign-in-submit').click()
}

async function pickTenant(page: Page, tenant: Tenant): Promise<void> {
  await page.getByTestId('tenant-select').selectOption(tenant)
  await page.getByTestId('tenant-submit').click()
}

describe('UI: sign-in and tenants against a server with read tokens and tenants', () => {
  let server: TestServer
  let browser: Browser
  const end = Math.floor(Date.now() / UPLOAD_MS) * UPLOAD_MS - UPLOAD_MS
  const deployAt = end - 10 * MINUTE
  const errors: string[] = []
  /** Console complaints of the Content-Security-Policy (refused scripts, styles, frames). */
  const policyViolations: string[] = []
  /** Every URL the pages asked for, and every API request. */
  const urls: string[] = []
  const apiRequests: Request[] = []

  async function open(path = '/'): Promise<Page> {
    const opened = await openPage(browser, `${server.url}${path}`)
    const { page } = opened
    errors.push(...opened.errors)
    page.on('pageerror', (error) => errors.push(error.message))
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) policyViolations.push(message.text())
    })
    page.on('request', (request) => {
      urls.push(request.url())
      if (new URL(request.url()).pathname.startsWith('/api/')) apiRequests.push(request)
    })
    return page
  }

  beforeAll(async () => {
    server = await startTestServer({ tokens: TOKEN_SETTING, authQueries: true, multiTenant: true })
    await ingestAll(server.url, tenantUploads('acme', deployAt), {
      credential: { token: TOKENS.ingestAcme, tenant: 'acme' },
    })
    await ingestAll(server.url, tenantUploads('globex', deployAt), {
      credential: { token: TOKENS.ingestGlobex, tenant: 'globex' },
    })
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await server?.dispose()
    expect(errors).toEqual([])
    expect(policyViolations).toEqual([])
    // No token ever travels in a URL: not the page's, not a request's.
    for (const url of urls) {
      for (const value of Object.values(TOKENS)) expect(url).not.toContain(value)
    }
  })

  it('asks for a token, says what is wrong with bad ones, and shows only the tenant of a bound one', async () => {
    const page = await open()
    await page.getByTestId('sign-in').waitFor()
    expect(await page.getByTestId('sign-in-token').getAttribute('type')).toBe('password')
    expect(await page.getByTestId('service-select').count()).toBe(0)

    await signIn(page, 'not-a-token')
    await expect
      .poll(() => page.getByTestId('sign-in-error').textContent())
      .toContain('This token is not valid')

    await signIn(page, TOKENS.ingestAcme)
    await expect
      .poll(() => page.getByTestId('sign-in-error').textContent())
      .toContain('This token cannot read profiles: it has scopes ingest')
    await screenshot(page, 'sign-in')

    await signIn(page, TOKENS.readAcme)
    await waitForFlameGraph(page)
    expect(await page.getByTestId('session-tenant').textContent()).toBe('acme')
    // Bound to one tenant: nothing to switch to.
    expect(await page.getByTestId('switch-tenant').count()).toBe(0)
    expect(await serviceOptions(page)).toEqual([TENANTS.acme.service])
    const names = await frameNames(page)
    expect(names).toContain(TENANTS.acme.leaf)
    expect(names).not.toContain(TENANTS.globex.leaf)
    expect(page.url()).not.toContain(TOKENS.readAcme)

    // The token is kept for this tab only, and every API call but the session probe carries it.
    const storage = await page.evaluate(() => ({
      session: Object.values({ ...sessionStorage }),
      local: Object.values({ ...localStorage }),
    }))
    expect(storage.session).toContain(TOKENS.readAcme)
    expect(storage.local).not.toContain(TOKENS.readAcme)
    const reads = apiRequests.filter((r) => new URL(r.url()).pathname !== SESSION_PATH)
    expect(reads.length).toBeGreaterThan(0)
    for (const read of reads) {
      // allHeaders(): headers() leaves out security-related ones.
      const headers = await read.allHeaders()
      expect(headers.authorization).toBe(`Bearer ${TOKENS.readAcme}`)
      expect(headers[TENANT_HEADER]).toBe('acme')
    }

    // The pprof export is fetched with the headers a plain link could not send.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('export-pprof').click(),
    ])
    expect(download.suggestedFilename()).toMatch(/\.pb\.gz$/)
    const pprof = readFileSync((await download.path())!)
    expect([...pprof.subarray(0, 2)]).toEqual([0x1f, 0x8b])

    await page.getByTestId('nav-diff').click()
    await waitForFlameGraph(page, 'diff-flamegraph')
    expect(new URL(page.url()).searchParams.get('view')).toBe('diff')
    expect(await page.getByTestId('error-state').count()).toBe(0)
    expect(page.url()).not.toContain(TOKENS.readAcme)

    await page.getByTestId('sign-out').click()
    await page.getByTestId('sign-in').waitFor()
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0)
  })

  it("opens an alert's link once signed in: the server leaves it to the UI without a token", async () => {
    const { service } = TENANTS.acme
    const start = new Date(deployAt + 2 * MINUTE).toISOString()
    const page = await open(`/open?label.service=${service}&tenant=acme&start=${start}`)
    expect(new URL(page.url()).searchParams.get('view')).toBe('open')
    await signIn(page, TOKENS.readAcme)
    await waitForFlameGraph(page, 'diff-flamegraph')
    const p = new URL(page.url()).searchParams
    expect(p.get('view')).toBe('diff')
    expect(p.get('service')).toBe(service)
    expect(p.get('compQuery')).toContain(NEW_VERSION)
  })

  it('offers the tenants of a token bound to several, and switching shows the other one', async () => {
    const page = await open()
    await signIn(page, TOKENS.readBoth)
    await page.getByTestId('tenant-picker').waitFor()
    const choices = await page
      .locator('[data-testid=tenant-select] option')
      .evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value))
    expect(choices.sort()).toEqual(Object.keys(TENANTS).sort())

    await pickTenant(page, 'acme')
    await waitForFlameGraph(page)
    expect(await serviceOptions(page)).toEqual([TENANTS.acme.service])
    expect(await frameNames(page)).toContain(TENANTS.acme.leaf)

    await page.getByTestId('switch-tenant').click()
    await pickTenant(page, 'globex')
    await expect.poll(() => page.getByTestId('session-tenant').textContent()).toBe('globex')
    await expect.poll(() => serviceOptions(page)).toEqual([TENANTS.globex.service])
    await waitForFlameGraph(page)
    const names = await frameNames(page)
    expect(names).toContain(TENANTS.globex.leaf)
    expect(names).not.toContain(TENANTS.acme.leaf)
    await screenshot(page, 'tenant-switch')
  })

  it('says a refused token is refused and offers to sign in again', async () => {
    const page = await open()
    await signIn(page, TOKENS.readAcme)
    await waitForFlameGraph(page)
    // The token is revoked while the page is open: the server now answers 401.
    await page.route('**/api/v1/services', (route) =>
      route.fulfill({
        status: 401,
        contentType: 'application/json',
        body: JSON.stringify({
          statusCode: 401,
          code: 'KILN_ERR_UNAUTHORIZED',
          error: 'Unauthorized',
          message: 'unknown token',
        }),
      }),
    )
    await page.getByRole('button', { name: 'Refresh', exact: true }).click()
    const error = page.getByTestId('error-state')
    await expect.poll(() => error.getAttribute('data-code')).toBe('KILN_ERR_UNAUTHORIZED')
    expect(await error.textContent()).toMatch(/Sign in again/)
    await page.getByTestId('error-sign-in').click()
    await page.getByTestId('sign-in').waitFor()
  })

  it('says when the server limits the rate, and how long to wait', async () => {
    const page = await open()
    await signIn(page, TOKENS.readAcme)
    await waitForFlameGraph(page)
    const waitSeconds = 30
    await page.route('**/api/v1/services', (route) =>
      route.fulfill({
        status: 429,
        contentType: 'application/json',
        headers: { 'retry-after': String(waitSeconds) },
        body: JSON.stringify({
          statusCode: 429,
          code: 'KILN_ERR_RATE_LIMITED',
          error: 'Too Many Requests',
          message: 'rate limit exceeded',
        }),
      }),
    )
    await page.getByRole('button', { name: 'Refresh', exact: true }).click()
    // The last answer stays on screen, under a notice that says how long to wait.
    const notice = page.getByTestId('stale-notice')
    await expect.poll(() => notice.getAttribute('data-code')).toBe('KILN_ERR_RATE_LIMITED')
    expect(await notice.textContent()).toContain(`wait ${waitSeconds} s`)
    expect(await page.locator('[data-testid=flamegraph] g.frame').count()).toBeGreaterThan(0)
    expect(await page.getByTestId('error-sign-in').count()).toBe(0)
  })
})
