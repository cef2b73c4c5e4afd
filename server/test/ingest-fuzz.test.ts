import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FlamegraphResponse, ServicesResponse } from '@kiln/wire'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/resolve-config.js'
import { isNodeTimeProfile } from '../src/ingest/node-cpu.js'
import { mapSampleType } from '../src/ingest/sample-types.js'
import { pprofCommand, pprofReadAll, type PprofReading } from './helpers/go-pprof.js'
import { makeCase } from './helpers/pprof-fuzz.js'

/*
 * Seeded fuzz of `POST /ingest`, with `go tool pprof` as the reference reader. Valid profiles
 * (several sample types, inlined frames, address-only locations, string and numeric labels,
 * samples without locations or values) are mutated (`helpers/pprof-fuzz.ts`): bytes flipped,
 * cut or appended; protobuf fields swapped, duplicated, dropped, retyped or added; sample values
 * rewritten (negative, 2^53, 2^63 - 1); gzip or not, and the gzip stream itself damaged. Each
 * case is posted to a real server and read by pprof from the same bytes, and:
 * - Kiln never answers 5xx, and still answers /health at the end;
 * - what pprof refuses, Kiln refuses (4xx);
 * - what Kiln stores has the types pprof's sample types map to, each adding up to pprof's sum;
 * - what pprof reads and Kiln refuses is refused for a reason Kiln is stricter on, by design.
 *
 * KILN_FUZZ_SEED and KILN_FUZZ_CASES run another or a longer sequence; a failure names its
 * case's seed, and `KILN_FUZZ_SEED=<seed> KILN_FUZZ_CASES=1` replays that case alone.
 */

const FIRST_SEED = Number(process.env.KILN_FUZZ_SEED ?? 20_261_130)
const CASES = Number(process.env.KILN_FUZZ_CASES ?? 300)
/** `go tool pprof` processes at a time: CI machines have 2 cores. */
const PPROF_PARALLELISM = 2
/** Requests in flight at a time: chDB runs queries on libuv's worker threads. */
const SERVER_PARALLELISM = 8

const NOW = Date.now()
const FROM_S = Math.floor((NOW - 5 * 60_000) / 1000)
const UNTIL_S = FROM_S + 10

/**
 * Why Kiln may refuse a profile that pprof reads: rules Kiln holds that pprof does not. A
 * refusal of a profile pprof reads for any other reason is a finding.
 */
const STRICTER_THAN_PPROF: RegExp[] = [
  /has a negative value/, // a diff of profiles is not a profile
  /has line -\d+/,
  /time_nanos .* cannot be negative/,
  /no supported sample type/, // nothing Kiln can store
  /label name .* must match/, // label names are series keys
  /has the label .* twice/, // one value per series key
  /beyond 2\^53/, // totals are doubles
  /labels, limit|characters, limit|samples, limit/, // configured limits
  // What pprof-format, Kiln's first decoder, could not read as pprof does (`pprof-reader.ts`): tags of
  // fields above 15, fixed-width fields, varints whose 10th byte pprof truncates.
  /reads one-byte tags only/,
  /has wire type [15] \(fixed/,
  /varint beyond 64 bits/,
]

/** Kiln's totals per type that pprof's reading implies: its types mapped, values scaled. */
function expectedTotals(types: string[], totals: bigint[]): Map<string, bigint> {
  const expected = new Map<string, bigint>()
  types.forEach((name, i) => {
    const slash = name.indexOf('/')
    const mapping = mapSampleType(name.slice(0, slash), name.slice(slash + 1))
    // The first pprof type of each Kiln type counts (two measure the same quantity).
    if (!mapping || expected.has(mapping.type)) return
    expected.set(mapping.type, totals[i]! * BigInt(mapping.scale))
  })
  return expected
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>) {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: limit }, worker))
  return out
}

// --- the test --------------------------------------------------------------------------------

describe('ingest fuzz against go tool pprof', () => {
  const cases = Array.from({ length: CASES }, (_, i) => ({
    ...makeCase(FIRST_SEED + i),
    service: `fuzz-${FIRST_SEED + i}`,
  }))
  let app: FastifyInstance
  let dir: string
  let readings: Promise<PprofReading[]>

  beforeAll(async () => {
    const pprof = pprofCommand()
    dir = mkdtempSync(join(tmpdir(), 'kiln-fuzz-'))
    const files = cases.map((c) => join(dir, `${c.seed}.pb`))
    cases.forEach((c, i) => writeFileSync(files[i]!, c.body))
    // pprof reads while the server works; started before the server, whose store makes this
    // process large to fork.
    readings = pprofReadAll(pprof, files, PPROF_PARALLELISM)
    readings.catch(() => {}) // awaited in the test
    app = await buildApp(
      resolveConfig({
        dataDir: join(dir, 'data'),
        logLevel: 'silent',
        insertBatchWaitMs: 10,
        rateLimitIngestPerMinute: 0,
      }),
    )
  })
  afterAll(async () => {
    await app?.close()
    await readings?.catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })

  const getJson = async <T>(url: string): Promise<T> => {
    const res = await app.inject({ url })
    expect(res.statusCode, `${url}: ${res.body}`).toBe(200)
    return res.json<T>()
  }

  it(
    `answers ${CASES} mutated profiles as pprof reads them`,
    async () => {
      // A few uploads at a time, as clients send them: the store's batches take several.
      const answers = await mapLimit(cases, SERVER_PARALLELISM, async (c) => {
        const res = await app.inject({
          method: 'POST',
          url: `/ingest?name=${c.service}&from=${FROM_S}&until=${UNTIL_S}`,
          headers: { 'content-type': 'application/octet-stream' },
          payload: c.body,
        })
        return { status: res.statusCode, body: res.body }
      })
      // What Kiln stored: each service's types, each type's flame graph total.
      const { services } = await getJson<ServicesResponse>('/api/v1/services')
      const typesOf = new Map(services.map((s) => [s.name, s.types]))
      const window = `from=${FROM_S * 1000 - 60_000}&to=${NOW + 60_000}`
      const stored = await mapLimit(cases, SERVER_PARALLELISM, async (c) => {
        const totals = new Map<string, number>()
        for (const type of typesOf.get(c.service) ?? []) {
          const graph = await getJson<FlamegraphResponse>(
            `/api/v1/flamegraph?service=${c.service}&type=${type}&${window}`,
          )
          totals.set(type, graph.total)
        }
        return totals
      })

      const findings: string[] = []
      const tally = { accepted: 0, refusedByBoth: 0, stricter: 0, totalsUnread: 0 }
      ;(await readings).forEach((reading, i) => {
        const c = cases[i]!
        const kiln = answers[i]!
        const finding = (what: string) =>
          findings.push(
            `seed ${c.seed} [${c.steps.join('; ')}]: ${what}\n  kiln ${kiln.status} ${kiln.body.slice(0, 300)}\n  body ${c.body.toString('base64')}`,
          )
        if (kiln.status >= 500) return finding('5xx')
        if (!reading.ok) {
          if (kiln.status < 400) finding(`Kiln stored what pprof refuses (${reading.error})`)
          else tally.refusedByBoth++
          return
        }
        if (kiln.status >= 400) {
          const message = (JSON.parse(kiln.body) as { message?: string }).message ?? ''
          if (!STRICTER_THAN_PPROF.some((re) => re.test(message))) {
            finding('Kiln refused what pprof reads')
          } else if (
            /no supported sample type/.test(message) &&
            reading.types &&
            expectedTotals(reading.types, reading.totals).size > 0
          ) {
            finding(`Kiln found no supported sample type; pprof reads ${reading.types}`)
          } else tally.stricter++
          return
        }
        tally.accepted++
        if (!reading.types) return void tally.totalsUnread++
        const expected = expectedTotals(reading.types, reading.totals)
        const totals = stored[i]!
        if ([...totals.keys()].sort().join() !== [...expected.keys()].sort().join()) {
          finding(`types: Kiln ${[...totals.keys()]}, pprof's mapped ${[...expected.keys()]}`)
        }
        // Kiln's CPU of a Node time profile is an estimate, not the sum (`node-cpu.ts`).
        if (isNodeTimeProfile(reading.types)) expected.delete('cpu')
        for (const [type, total] of expected) {
          if (BigInt(totals.get(type) ?? 0) !== total) {
            finding(`${type} total: Kiln ${totals.get(type)}, pprof ${total}`)
          }
        }
      })

      const health = await app.inject({ url: '/health' })
      expect(health.statusCode, health.body).toBe(200)
      expect(health.json()).toMatchObject({ status: 'ok' })
      expect(findings.length, findings.join('\n')).toBe(0)
      if (CASES >= 100) {
        // The cases reach each outcome: a sequence that stopped doing so would test nothing.
        expect(tally.accepted, JSON.stringify(tally)).toBeGreaterThan(CASES / 10)
        expect(tally.refusedByBoth, JSON.stringify(tally)).toBeGreaterThan(CASES / 10)
      }
    },
    Math.max(120_000, CASES * 300),
  )
})
