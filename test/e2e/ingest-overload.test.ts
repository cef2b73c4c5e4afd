import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { UPLOAD_ID_HEADER, type FlamegraphResponse, type VersionsResponse } from '@kiln/wire'
import { encodeProfile, type SyntheticProfile } from '../../server/test/helpers/pprof-builder.js'
import {
  counterTotal,
  deliver,
  percentile,
  sendersAgent,
  startServerProcess,
  type Answer,
  type ServerProcess,
} from '../fixtures/overload-senders.mjs'

/*
 * Issue 13: 1,024 concurrent senders against the real server (the CLI, in its own process, at
 * its default limits), over loopback. The server sheds the excess with 429 + Retry-After, answers
 * nothing else, keeps its resident memory under 1 GiB, and stores every acknowledged upload
 * exactly once and nothing it refused, re-sends included. Bounded in count (one upload per
 * sender, one in eight re-sent once) and in time: no attempt starts after FLOOD_SECONDS, so a
 * slow machine acknowledges fewer uploads rather than taking longer. Latency is recorded
 * (test/artifacts/ingest-overload.json), never asserted: bench/ingest/overload-bench.mjs
 * measures it and bench/README.md has the figures.
 */

const SENDERS = 1024
const SERVICES = 4
/** One in eight senders sends its upload again after its 200, with the same upload id. */
const RESEND_EVERY = 8
const FLOOD_SECONDS = 30
/** Below the agent's 30 s, so that every sender keeps trying within the flood. */
const MAX_BACKOFF_MS = 2000
const MEMORY_LIMIT_BYTES = 1024 ** 3
const TYPES = ['cpu', 'alloc_space'] as const
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url))

/**
 * A profile the size of the corpus's medium-http time profile (bench/ingest/corpus): 340 stacks
 * over 450 functions, up to ~80 frames deep, 13 KB gzipped. Each stack shares a prefix with an
 * earlier one, as a service's do.
 */
function mediumProfile(): SyntheticProfile {
  const fn = (i: number) => `fn${i % 450}@src/module-${(i % 450) % 37}.js`
  const stacks: string[][] = []
  for (let j = 0; j < 340; j++) {
    const parent = stacks[j >> 1] ?? ['main']
    const prefix = parent.slice(0, 1 + ((j * 7) % parent.length))
    stacks.push([...prefix, ...Array.from({ length: 3 + (j % 20) }, (_, d) => fn(j * 13 + d * 29))])
  }
  return {
    sampleTypes: [
      ['cpu', 'nanoseconds'],
      ['alloc_space', 'bytes'],
    ],
    samples: stacks.map((stack, j) => ({
      stack,
      values: [1_000_000 + ((j * 104_729) % 9_000_000), 1024 * (1 + (j % 64))],
    })),
  }
}

describe('ingest under overload (server process, 1,024 senders)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-overload-e2e-'))
  let server: ServerProcess | undefined
  afterAll(() => {
    server?.kill()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it.skipIf(process.platform !== 'linux')(
    'sheds with 429s, stays under 1 GiB and stores every acknowledged upload exactly once',
    async () => {
      const started = performance.now()
      server = await startServerProcess({ dataDir })
      const { url } = server
      // One body for every upload: each is told apart by its upload id and its labels (its own
      // series, and its own version, which /api/v1/versions counts profiles of).
      const profile = mediumProfile()
      const body = encodeProfile(profile)
      const totalOf = TYPES.map((_, t) => profile.samples.reduce((s, x) => s + x.values[t]!, 0))
      const fromS = Math.floor(Date.now() / 1000) - 300
      const uploads = Array.from({ length: SENDERS }, (_, i) => {
        const service = `overload-${i % SERVICES}`
        return {
          index: i,
          service,
          version: `u${i}`,
          path: `/ingest?name=${service}{pod=p${i},version=u${i}}&from=${fromS}&until=${fromS + 10}&format=pprof`,
          body,
          headers: { [UPLOAD_ID_HEADER]: `overload-${String(i).padStart(6, '0')}` },
        }
      })

      const answers: Answer[] = []
      const onAnswer = (answer: Answer) => answers.push(answer)
      const agent = sendersAgent()
      const floodStarted = performance.now()
      const deadline = floodStarted + FLOOD_SECONDS * 1000
      const options = { maxBackoffMs: MAX_BACKOFF_MS, deadline, onAnswer }
      const outcomes = await Promise.all(
        uploads.map(async (upload) => {
          const first = await deliver(agent, url, upload, options)
          const acked = first.answer.status === 200
          const resend =
            acked && upload.index % RESEND_EVERY === 0
              ? await deliver(agent, url, upload, options)
              : undefined
          return { upload, acked, resentAcked: resend?.answer.status === 200 }
        }),
      )
      const floodSeconds = (performance.now() - floodStarted) / 1000
      agent.destroy()

      // Only 200 and 429, and no failed connection.
      const unexpected = answers.filter((a) => a.status !== 200 && a.status !== 429)
      expect(
        unexpected.length,
        JSON.stringify(unexpected.slice(0, 5).map((a) => [a.status, a.body, a.error?.message])),
      ).toBe(0)
      const shed = answers.filter((a) => a.status === 429)
      expect(shed.length).toBeGreaterThan(0)
      expect(shed.every((a) => Number(a.retryAfter) >= 1)).toBe(true)
      const metrics = await (await fetch(`${url}/metrics`)).text()
      expect(counterTotal(metrics, 'kiln_ingest_shed_total')).toBe(shed.length)
      const resentAcked = outcomes.filter((o) => o.resentAcked).length
      expect(counterTotal(metrics, 'kiln_ingest_duplicates_total')).toBe(resentAcked)

      const acked = outcomes.filter((o) => o.acked).map((o) => o.upload)
      expect(acked.length).toBeGreaterThan(0)
      const window = `from=${(fromS - 3600) * 1000}&to=${Date.now() + 60_000}`
      for (let s = 0; s < SERVICES; s++) {
        const service = `overload-${s}`
        const ackedHere = acked.filter((u) => u.service === service)
        // Every acknowledged upload's profiles (one per type) stored once; none of the others.
        const { versions } = (await (
          await fetch(`${url}/api/v1/versions?service=${service}`)
        ).json()) as VersionsResponse
        const stored = Object.fromEntries(versions.map((v) => [v.version, v.profiles]))
        const wanted = Object.fromEntries(ackedHere.map((u) => [u.version, TYPES.length]))
        expect(stored, service).toEqual(wanted)
        // And their samples: the totals are the acknowledged uploads' values, each counted once.
        for (const [t, type] of TYPES.entries()) {
          const graph = (await (
            await fetch(
              `${url}/api/v1/flamegraph?service=${service}&type=${type}&maxNodes=2&${window}`,
            )
          ).json()) as FlamegraphResponse
          expect(graph.total, `${service} ${type}`).toBe(ackedHere.length * totalOf[t]!)
        }
      }

      const memory = server.memory()
      expect(await server.close()).toBe(0)
      server = undefined
      expect(memory.peakRssBytes).toBeLessThan(MEMORY_LIMIT_BYTES)

      const acceptedMs = answers.filter((a) => a.status === 200).map((a) => a.latencyMs)
      const report = {
        senders: SENDERS,
        floodSeconds,
        acknowledged: acked.length,
        notAcknowledgedByDeadline: SENDERS - acked.length,
        resentAcknowledged: resentAcked,
        answers: answers.length,
        shed: shed.length,
        acceptedPerSecond: acceptedMs.length / floodSeconds,
        acceptedLatencyMs: {
          p50: percentile(acceptedMs, 50),
          p99: percentile(acceptedMs, 99),
          max: percentile(acceptedMs, 100),
        },
        serverPeakRssMiB: memory.peakRssBytes / 1024 ** 2,
        testSeconds: (performance.now() - started) / 1000,
      }
      mkdirSync(ARTIFACTS, { recursive: true })
      writeFileSync(`${ARTIFACTS}ingest-overload.json`, `${JSON.stringify(report, null, 2)}\n`)
      process.stdout.write(
        `ingest overload: ${report.acknowledged}/${SENDERS} acknowledged in ${floodSeconds.toFixed(1)} s, ` +
          `${shed.length} of ${answers.length} answers 429, accepted p50 ` +
          `${report.acceptedLatencyMs.p50.toFixed(0)} ms p99 ${report.acceptedLatencyMs.p99.toFixed(0)} ms, ` +
          `server peak RSS ${report.serverPeakRssMiB.toFixed(0)} MiB\n`,
      )
    },
    150_000,
  )
})
