import type { Browser, Page } from 'playwright-core'
import { expect } from 'vitest'
import { XSS_GLOBAL } from './hostile-fixtures.js'

/** Page global of the Content-Security-Policy violations the page reported. */
const VIOLATIONS_GLOBAL = '__cspViolations'

/**
 * A page that records everything a hostile string could set off: uncaught errors, refusals by
 * the Content-Security-Policy (the `securitypolicyviolation` events and the console lines
 * Chromium writes for them), and the main document's response headers.
 */
export interface GuardedPage {
  page: Page
  /** Headers of the answer to the first navigation (lower-case names). */
  headers: Record<string, string>
  errors: string[]
  /** Console messages about the Content-Security-Policy. */
  policyMessages: string[]
}

/**
 * Added before any script of each document (frames included): a violation is recorded even
 * when the page's own code never gets to run. Playwright injects it through the DevTools
 * protocol, which the page's policy does not govern.
 */
function recordViolations(name: string): void {
  const seen: string[] = []
  Object.defineProperty(window, name, { value: seen })
  document.addEventListener(
    'securitypolicyviolation',
    (event) =>
      seen.push(
        `${event.effectiveDirective} blocked ${event.blockedURI} (${event.sample}) at ${event.sourceFile}:${event.lineNumber}:${event.columnNumber}`,
      ),
    true,
  )
}

export async function openGuardedPage(browser: Browser, url: string): Promise<GuardedPage> {
  const page = await browser.newPage({
    viewport: { width: 1440, height: 1000 },
    acceptDownloads: true,
  })
  const guarded: GuardedPage = { page, headers: {}, errors: [], policyMessages: [] }
  await page.addInitScript(recordViolations, VIOLATIONS_GLOBAL)
  page.on('pageerror', (error) => guarded.errors.push(error.message))
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) guarded.policyMessages.push(message.text())
  })
  const response = await page.goto(url)
  guarded.headers = (await response?.allHeaders()) ?? {}
  return guarded
}

/** `top.__xss` of every frame of the page: the ids of the payloads that ran. */
export async function payloadsRun(page: Page): Promise<unknown[]> {
  const ran: unknown[] = []
  for (const frame of page.frames()) {
    const value = await frame.evaluate(
      (name) => Reflect.get(globalThis, name) as unknown,
      XSS_GLOBAL,
    )
    if (value !== undefined) ran.push(value)
  }
  return ran
}

/** Violations recorded by every frame of the page. */
async function violations(page: Page): Promise<string[]> {
  const all: string[] = []
  for (const frame of page.frames()) {
    const seen = await frame.evaluate(
      (name) => (Reflect.get(globalThis, name) as string[] | undefined) ?? [],
      VIOLATIONS_GLOBAL,
    )
    all.push(...seen)
  }
  return all
}

/**
 * What of the live DOM could run script or leave the page: elements no view renders (frames,
 * objects, images, inline scripts, `<base>`), event-handler attributes, and `javascript:` URLs
 * in any URL attribute (resolved, so ` JaVaScRiPt:` counts too).
 */
function activeContent(): string[] {
  const found: string[] = []
  const describe = (el: Element) => `<${el.localName}${el.id ? `#${el.id}` : ''}>`
  for (const el of Array.from(
    document.querySelectorAll('iframe, frame, object, embed, img, image, base'),
  )) {
    found.push(`element ${describe(el)}`)
  }
  for (const script of Array.from(document.querySelectorAll('script'))) {
    const src = script.getAttribute('src')
    if (src === null || new URL(src, location.href).origin !== location.origin) {
      found.push(`script ${src ?? script.textContent?.slice(0, 80)}`)
    }
  }
  for (const el of Array.from(document.querySelectorAll('*'))) {
    for (const attr of Array.from(el.attributes)) {
      if (/^on/i.test(attr.localName)) found.push(`${describe(el)} ${attr.name}`)
      if (['href', 'src', 'action', 'formaction', 'data', 'srcdoc'].includes(attr.localName)) {
        let protocol = ''
        try {
          protocol = new URL(attr.value, location.href).protocol
        } catch {
          protocol = attr.value.trim().toLowerCase().split(':')[0] + ':'
        }
        if (protocol === 'javascript:' || protocol === 'vbscript:' || attr.localName === 'srcdoc') {
          found.push(`${describe(el)} ${attr.name}=${attr.value.slice(0, 80)}`)
        }
      }
    }
  }
  return found
}

/** Everything a guarded page recorded, and what of its DOM is active, for assertions. */
export interface PageFindings {
  /** The policy's `script-src` directive, as the server sent it. */
  scriptSrc: string | undefined
  ran: unknown[]
  violations: string[]
  policyMessages: string[]
  errors: string[]
  active: string[]
}

export async function inspectPage(guarded: GuardedPage): Promise<PageFindings> {
  const { page } = guarded
  const policy = guarded.headers['content-security-policy'] ?? ''
  return {
    scriptSrc: policy
      .split(';')
      .map((d) => d.trim())
      .find((d) => d.startsWith('script-src ')),
    ran: await payloadsRun(page),
    violations: await violations(page),
    policyMessages: [...guarded.policyMessages],
    errors: [...guarded.errors],
    active: await page.evaluate(activeContent),
  }
}

/**
 * The page ran under the server's policy (scripts of its own origin only), no payload ran,
 * nothing was refused by the policy, nothing threw, and nothing in the DOM could run later.
 */
export async function expectInert(guarded: GuardedPage): Promise<void> {
  expect(await inspectPage(guarded)).toEqual({
    scriptSrc: "script-src 'self'",
    ran: [],
    violations: [],
    policyMessages: [],
    errors: [],
    active: [],
  })
}
