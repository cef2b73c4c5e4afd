import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DiffResponse, TopResponse } from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { DEFAULT_MAX_STACKS } from '../src/query/schemas.js'
import { encodeProfile } from './helpers/pprof-builder.js'

/*
 * More distinct stacks in a window than the `maxStacks` of a tree: the function tables of `/top`
 * and of the diff still count every stack, so self sums to the window's total.
 */

const STACKS = 25_600
const NOW = Date.now()
const FROM = Math.floor((NOW - 5 * 60_000) / 1000)

describe('function tables over more stacks than maxStacks', () => {
  let app: FastifyInstance
  let dataDir: string
  /** Value of stack i (main -> fn_i): i + 1, so each is distinct. */
  const value = (i: number) => i + 1
  const total = (STACKS * (STACKS + 1)) / 2

  beforeAll(async () => {
    expect(STACKS).toBeGreaterThan(DEFAULT_MAX_STACKS)
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-many-'))
    app = await buildApp(resolveConfig({ dataDir, logLevel: 'silent', insertBatchWaitMs: 1 }))
    const res = await app.inject({
      method: 'POST',
      url: `/ingest?name=wide&from=${FROM}&until=${FROM + 10}`,
      headers: { 'content-type': 'application/octet-stream' },
      payload: encodeProfile({
        sampleTypes: [['cpu', 'nanoseconds']],
        samples: Array.from({ length: STACKS }, (_, i) => ({
          stack: ['main', `fn_${i}`],
          values: [value(i)],
        })),
      }),
    })
    expect(res.statusCode, res.body).toBe(200)
  }, 120_000)
  afterAll(async () => {
    await app?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const window = `from=${FROM * 1000 - 60_000}&to=${NOW + 60_000}`

  it('/top counts every stack: exact self and total, self adding up to the total', async () => {
    const res = await app.inject({
      url: `/api/v1/top?service=wide&type=cpu&${window}&limit=100000`,
    })
    expect(res.statusCode, res.body).toBe(200)
    const top = res.json<TopResponse>()
    expect(top.total).toBe(total)
    expect(top.stacks).toBe(STACKS)
    expect(top.leftOut).toBeUndefined()
    const main = top.functions.find((f) => f.name === 'main')!
    expect(main.total).toBe(total)
    expect(top.functions.reduce((a, f) => a + f.self, 0)).toBe(total)
    // The lightest stacks, far beyond the heaviest 20,000, are there with their own values.
    for (const i of [0, 1, 2, 5000]) {
      expect(top.functions.find((f) => f.name === `fn_${i}`)?.self).toBe(value(i))
    }
  })

  it("the diff's rankings read every stack too", async () => {
    const res = await app.inject({
      url: `/api/v1/diff?service=wide&type=cpu&baseFrom=${FROM * 1000 - 3_600_000}&baseTo=${FROM * 1000 - 60_000}&compFrom=${FROM * 1000 - 60_000}&compTo=${NOW + 60_000}`,
    })
    expect(res.statusCode, res.body).toBe(200)
    const diff = res.json<DiffResponse>()
    expect(diff.changes.leftOut).toBeUndefined()
    // Everything appeared; `main` holds every stack: its value is the whole window's, not
    // the sum of the heaviest 20,000 stacks.
    const [first] = diff.changes.total.grew
    expect(first?.name).toBe('main')
    expect(first?.compTotal).toBe(total)
  })
})
