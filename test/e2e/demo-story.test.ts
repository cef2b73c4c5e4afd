import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  diffUiLink,
  type DiffResponse,
  type FindingsResponse,
  type VersionsResponse,
} from '@kiln/wire'
import { DEMO_STORY } from '../fixtures/demo-http-routes.mjs'
import { launchBrowser } from './helpers/browser.js'
import { getJson } from './helpers/kiln-server.js'
import { openPage, rowFunctions, screenshot, waitForFlameGraph } from './helpers/ui-page.js'

/*
 * The story `pnpm start` tells, with short intervals: the demo fleet runs 1.0.0, 1.1.0 is
 * deployed (renderInvoice twice the work, a leak at cacheInvoicePdf), and Kiln shows the deploy
 * marker, the before/after comparison naming the slowed function first, the heap comparison
 * naming the leaking site first, and both findings. The README's screenshots are taken here.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const START = join(ROOT, 'bench/demo/start.mjs')
const SERVICE = 'demo'
const DEPLOY_AFTER_MS = 20_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until<T>(what: string, timeoutMs: number, get: () => Promise<T | undefined>) {
  const deadline = Date.now() + timeoutMs
  let last: T | undefined
  while (Date.now() < deadline) {
    last = await get()
    if (last !== undefined) return last
    await sleep(1000)
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s`)
}

describe("the demo's story: a deploy that slows a function and leaks", () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-story-'))
  let demo: ChildProcess
  let url: string
  let out = ''
  let browser: Browser
  let versions: VersionsResponse['versions']
  const errors: string[] = []

  const api = <T>(path: string) => getJson<T>(`${url}/api/v1/${path}`)
  const open = async (link: string): Promise<Page> => {
    const opened = await openPage(browser, link)
    opened.page.on('pageerror', (error) => errors.push(error.message))
    errors.push(...opened.errors)
    return opened.page
  }
  /** Each version's own samples, over the time it ran. */
  const byVersion = (type: string) => {
    const [before, after] = [DEMO_STORY.before, DEMO_STORY.after].map((v) =>
      versions.find((x) => x.version === v)!,
    )
    return {
      service: SERVICE,
      type,
      baseFrom: before!.firstSeen,
      baseTo: before!.lastSeen + 1,
      compFrom: after!.firstSeen,
      compTo: after!.lastSeen + 1,
      baseQuery: `{service_version="${DEMO_STORY.before}"}`,
      compQuery: `{service_version="${DEMO_STORY.after}"}`,
    }
  }

  beforeAll(async () => {
    demo = spawn(process.execPath, [START], {
      cwd: ROOT,
      env: {
        ...process.env,
        KILN_PORT: '0',
        KILN_DATA_DIR: dataDir,
        KILN_LOG_LEVEL: 'warn',
        DEMO_DEPLOY_AFTER_MS: String(DEPLOY_AFTER_MS),
        // Short intervals: every instance collects all the time and uploads every 2 s, the
        // detectors run every 5 s, judge a version once it has run 30 s and heap growth over a minute (the least allowed), the leak is fast.
        KILN_SCHEDULE: 'always',
        KILN_UPLOAD_INTERVAL_MS: '2000',
        KILN_OVERHEAD_BUDGET_PERCENT: '100',
        KILN_HEAP_SAMPLING_INTERVAL_BYTES: '32768',
        KILN_DETECTOR_INTERVAL_MS: '5000',
        KILN_REGRESSION_SETTLE_MS: '30000',
        KILN_HEAP_GROWTH_WINDOW_MS: '60000',
        DEMO_LEAK_KB_PER_INVOICE: '128',
        // One request at a time with a pause: the fleet leaves room for the server, the detectors
        // and the browser on a 2-core machine.
        DEMO_CONCURRENCY: '1',
        DEMO_PAUSE_MS: '30',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    url = await new Promise<string>((resolve, reject) => {
      const read = (chunk: Buffer) => {
        out += chunk.toString()
        const found = /open (http:\/\/localhost:\d+)/.exec(out)?.[1]
        if (found) resolve(found)
      }
      demo.stdout!.on('data', read)
      demo.stderr!.on('data', read)
      demo.once('exit', (code) => reject(new Error(`the demo exited (${code}): ${out}`)))
    })
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    if (demo?.exitCode === null && demo.signalCode === null) {
      demo.kill('SIGKILL')
      await new Promise((resolve) => demo.once('exit', resolve))
    }
    rmSync(dataDir, { recursive: true, force: true })
    expect(errors).toEqual([])
  })

  it('deploys the new version: its marker appears on the timeline', async () => {
    versions = await until('1.1.0 profiles', DEPLOY_AFTER_MS + 60_000, async () => {
      const { versions } = await api<VersionsResponse>(`versions?service=${SERVICE}`)
      return versions.some((v) => v.version === DEMO_STORY.after) ? versions : undefined
    })
    expect(versions.map((v) => v.version)).toEqual([DEMO_STORY.before, DEMO_STORY.after])
    expect(out).toContain(`Deploying ${SERVICE} ${DEMO_STORY.after}`)
  })

  it('stores both findings: the slowed function and the leak', async () => {
    // The heap finding is extended while the growth goes on, with the sites growing fastest over
    // its latest window: right after the rollout the new processes' own warm-up (modules, JIT,
    // HTTP internals) grows beside the leak, which then outgrows it.
    const findings = await until('both findings, the leak named', 150_000, async () => {
      const { findings } = await api<FindingsResponse>(`findings?service=${SERVICE}&from=now-1h`)
      const cpu = findings.find((f) => f.kind === 'cpu_regression')
      const heap = findings.find((f) => f.kind === 'heap_growth')
      const named = heap?.functions.some((f) => f.name === DEMO_STORY.leakSite)
      return cpu && heap && named ? { cpu, heap } : undefined
    })
    expect(findings.cpu.version).toBe(DEMO_STORY.after)
    expect(findings.cpu.functions[0]!.name).toBe(DEMO_STORY.slowed)
    expect(findings.heap.functions.map((f) => f.name)).toContain(DEMO_STORY.leakSite)
    // The versions ran on: the comparisons below read their whole time so far.
    versions = (await api<VersionsResponse>(`versions?service=${SERVICE}`)).versions
  }, 180_000)

  it('compares before and after: the slowed function first, then the leaking site', async () => {
    const cpu = await getJson<DiffResponse>(
      `${url}/api/v1/diff?${new URLSearchParams(Object.entries(byVersion('cpu')).map(([k, v]) => [k, String(v)]))}`,
    )
    expect(cpu.changes.self.grew[0]!.name).toBe(DEMO_STORY.slowed)
    const heap = await getJson<DiffResponse>(
      `${url}/api/v1/diff?${new URLSearchParams(Object.entries(byVersion('heap_inuse_space')).map(([k, v]) => [k, String(v)]))}`,
    )
    expect(heap.changes.self.grew[0]!.name).toBe(DEMO_STORY.leakSite)
  })

  it("shows the story in the UI, and takes the README's screenshots", async () => {
    const explore = await open(`${url}/?service=${SERVICE}&type=cpu&range=15m`)
    await waitForFlameGraph(explore)
    await expect
      .poll(() => explore.getByTestId(`deploy-marker-${DEMO_STORY.after}`).count())
      .toBe(1)
    await screenshot(explore, 'explore', { docs: true })

    // The deploy marker opens before/after of the two versions.
    await explore.getByTestId(`deploy-marker-${DEMO_STORY.after}`).click()
    await waitForFlameGraph(explore, 'diff-flamegraph')
    expect(new URL(explore.url()).searchParams.get('compQuery')).toBe(
      `{service_version="${DEMO_STORY.after}"}`,
    )
    await expect.poll(() => rowFunctions(explore, 'changes-grew')).not.toEqual([])
    expect((await rowFunctions(explore, 'changes-grew'))[0]).toBe(DEMO_STORY.slowed)
    await screenshot(explore, 'compare', { docs: true })

    const heap = await open(diffUiLink(url, byVersion('heap_inuse_space')))
    await waitForFlameGraph(heap, 'diff-flamegraph')
    await expect.poll(() => rowFunctions(heap, 'changes-grew')).not.toEqual([])
    expect((await rowFunctions(heap, 'changes-grew'))[0]).toBe(DEMO_STORY.leakSite)
    await screenshot(heap, 'heap', { docs: true })

    const alerts = await open(`${url}/?view=alerts`)
    const rows = alerts.locator('[data-testid=findings-table] tr[data-finding]')
    // The page loads alerts and findings while the fleet, the server and its detectors share
    // two cores: longer than the poll's default 5 s at times (a fresh-clone run missed it).
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(2)
    await screenshot(alerts, 'findings', { docs: true })
  })

  it('stops cleanly on Ctrl-C', async () => {
    const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve))
    demo.kill('SIGINT')
    expect(await exited).toBe(0)
  })
})
