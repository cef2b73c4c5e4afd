// Query benchmark: flame graph and diff latency over a synthetic fleet in the embedded store, for
// 15 min, 1 h and 24 h windows, against merging the same window's raw pprof files with
// `go tool pprof -proto` and with pprof-format in Node; the hourly rollup against reading raw
// samples; and what the scheduled rollup costs per hour of the fleet. Every figure comes from this
// run.
//   node bench/query/query-bench.mjs [--quick] [--instances 50] [--hours 24] [--stacks 500]
//     [--runs 9] [--keep]
// Needs `pnpm --filter @kiln/server build` first, and Go (`go tool pprof`) on the PATH.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { URLSearchParams } from 'node:url'
import { parseArgs } from 'node:util'
import { startServer } from '@kiln/server'
import { encodeTemplate, profileTemplates, stackPool } from './fleet.mjs'
import { count, loadFleet } from './load-store.mjs'
import { mergeInNode, mergeWithGo } from './merge-pprof.mjs'
// Not part of the server's public surface: the query functions themselves, to time them with
// and without the rollup on the same store (as deploy/clickhouse/generate-schema.mjs does).
const { queryFlamegraph } = await import('../../server/dist/query/flamegraph.js')
const { queryStacks } = await import('../../server/dist/query/stack-query.js')

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    instances: { type: 'string' },
    hours: { type: 'string' },
    stacks: { type: 'string' },
    runs: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
})
const QUICK = args.quick
const INSTANCES = Number(args.instances ?? (QUICK ? 10 : 50))
const HOURS = Number(args.hours ?? 24)
const STACKS = Number(args.stacks ?? 500)
const HEAP_STACKS = Math.round(STACKS / 4)
const RUNS = Number(args.runs ?? (QUICK ? 5 : 9))
const SERVICE = 'checkout'
const MIN = 60_000
const HOUR = 60 * MIN
const INTERVAL_MS = 10_000
const TEMPLATES_PER_VERSION = 24
const VERSIONS = ['1.4.1', '1.4.2']

const log = (line = '') => console.log(line)
const ms = (x) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(x < 10 ? 1 : 0)} ms`)
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]
  return { median: at(0.5), p90: at(0.9), runs: s.length }
}

// ---- The fleet: half the instances on each version; 1.4.2 has a hot new path (the regression).
log(`# Kiln query benchmark${QUICK ? ' (--quick)' : ''}`)
log(
  `fleet: ${INSTANCES} instances x ${HOURS} h of 10 s profiles, ${STACKS} stacks per CPU profile, ` +
    `${HEAP_STACKS} per heap snapshot; ${RUNS} timed runs per query`,
)
const pool = stackPool(6000)
const cpuTemplates = {}
const heapTemplates = {}
for (const [v, version] of VERSIONS.entries()) {
  const hot = v === 1 ? [11, 12] : []
  cpuTemplates[version] = profileTemplates({
    pool,
    count: TEMPLATES_PER_VERSION,
    stacksPerProfile: STACKS,
    unitValue: 10_000_000,
    seed: 100 + v,
    hot,
  })
  heapTemplates[version] = profileTemplates({
    pool,
    count: TEMPLATES_PER_VERSION,
    stacksPerProfile: HEAP_STACKS,
    unitValue: 4096,
    seed: 200 + v,
  })
}
// Profiles end a minute ago, not on an hour: windows "the last N" have ragged edges, as in the UI.
// At least 21 minutes into an hour, so that the last whole hour is due for the scheduled rollup
// (20 minutes after it ended, by default).
let endMs = Math.floor(Date.now() / INTERVAL_MS) * INTERVAL_MS - MIN
if (endMs % HOUR < 21 * MIN) endMs -= 25 * MIN
const startMs = endMs - HOURS * HOUR
/** The last whole hour of the window: rolled up by the server in this run (timed), the rest by the loader. */
const lastWholeHour = Math.floor(endMs / HOUR) * HOUR - HOUR
const fleet = {
  service: SERVICE,
  db: 'kiln',
  pool,
  startMs,
  profiles: (HOURS * HOUR) / INTERVAL_MS,
  instances: Array.from({ length: INSTANCES }, (_, i) => {
    const version = VERSIONS[i < INSTANCES / 2 ? 0 : 1]
    const instance = `${SERVICE}-${String(i).padStart(3, '0')}`
    return { version, labels: { instance, region: i % 3 ? 'eu' : 'us', service_version: version } }
  }),
  kinds: [
    { type: 'cpu', sampleType: ['cpu', 'nanoseconds'], templates: cpuTemplates },
    { type: 'heap_inuse_space', sampleType: ['inuse_space', 'bytes'], templates: heapTemplates },
  ],
  scaleOf: (i) => 1 + (i % 4),
  offsetMs: (i) => (i * 197) % INTERVAL_MS,
  rollupBefore: lastWholeHour,
}
/** The CPU profile instance `i` uploads at slot `t`: its template and time, as load-store.mjs. */
const profileAt = (i, t) => ({
  k: (i * 7 + t * 13) % TEMPLATES_PER_VERSION,
  timeMs: startMs + t * INTERVAL_MS + fleet.offsetMs(i),
})

const benchStarted = performance.now()
const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-query-'))
// One client asking as fast as it can: the per-client query limit would measure itself.
const server = await startServer({
  port: 0,
  dataDir: join(dir, 'data'),
  logLevel: 'warn',
  rateLimitQueryPerMinute: 0,
  // The bench runs the rollup itself, once the fleet is loaded, to time it.
  rollupIntervalMs: 0,
})
const { client, database: db } = server.app.store
try {
  // ---- Load.
  log('\n## Load (INSERT ... SELECT in the store from normalized profile templates)')
  const load = await loadFleet(client, fleet, QUICK ? undefined : log)
  log(
    `${load.sampleRows.toLocaleString('en')} sample rows (${load.stacks} distinct stacks) in ${load.seconds.toFixed(0)} s`,
  )

  // ---- The scheduled rollup: the server's own HourlyRollup rolls up the last whole hour.
  const { rollup } = server.app.store
  const hourRows = await count(
    client,
    `${db}.samples WHERE time >= fromUnixTimestamp64Milli(${lastWholeHour})
      AND time < fromUnixTimestamp64Milli(${lastWholeHour + HOUR})`,
  )
  const runStarted = performance.now()
  const rolledUp = await rollup.run()
  const runMs = performance.now() - runStarted
  const rolledHours = await rollup.rolledHours()
  if (rolledUp !== 1 || !rolledHours.has(lastWholeHour))
    throw new Error(`the scheduled rollup rolled up ${rolledUp} hours, not the last whole hour`)
  log('\n## Scheduled rollup (HourlyRollup.run, the last whole hour of the fleet)')
  log(
    `${hourRows.toLocaleString('en')} sample rows (${INSTANCES} instances x 360 profiles x 2 types) ` +
      `rolled up in ${ms(runMs)}: ${((runMs / HOUR) * 100).toFixed(2)}% of one core for that hour`,
  )

  await settle(client, db)
  const storage = await tableSizes(client, db)
  for (const t of ['samples', 'samples_hourly', 'profiles'])
    log(
      `${t.padEnd(11)} ${String(storage[t]?.rows ?? 0).padStart(12)} rows ${((storage[t]?.bytes ?? 0) / 1e6).toFixed(1).padStart(8)} MB`,
    )
  log(
    `rollup: ${(storage.samples.rows / storage.samples_hourly.rows).toFixed(0)}x fewer rows than samples, ` +
      `+${((storage.samples_hourly.bytes / storage.samples.bytes) * 100).toFixed(1)}% storage`,
  )

  // ---- Query latency over HTTP (in-process server, loopback).
  const windows = [
    ['15 min', endMs - 15 * MIN, endMs],
    ['1 h', endMs - HOUR, endMs],
    ['1 h, whole hour', Math.floor(endMs / HOUR) * HOUR - HOUR, Math.floor(endMs / HOUR) * HOUR],
    [`${HOURS} h`, endMs - HOURS * HOUR, endMs],
  ]
  const timeGet = async (path, params) => {
    const url = `${server.url}/api/v1/${path}?${new URLSearchParams(params)}`
    const run = async () => {
      const started = performance.now()
      const res = await fetch(url)
      const body = await res.json()
      if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`)
      return { elapsed: performance.now() - started, body }
    }
    // The first run is not timed: it fills the server's frame cache (see below).
    const { body, elapsed: first } = await run()
    const times = []
    for (let r = 0; r < RUNS; r++) times.push((await run()).elapsed)
    return { ...stats(times), first, body }
  }
  log('\n## Latency over HTTP (GET /api/v1/..., end to end, ms)')
  log(
    '| window | flame graph cpu median / p90 | diff 1.4.1 vs 1.4.2 median / p90 | flame graph heap (gauge) median / p90 |',
  )
  log('|---|---|---|---|')
  const latency = {}
  for (const [name, from, to] of windows) {
    const common = { service: SERVICE, from, to }
    const flame = await timeGet('flamegraph', { ...common, type: 'cpu' })
    const diff = await timeGet('diff', {
      service: SERVICE,
      type: 'cpu',
      baseFrom: from,
      baseTo: to,
      compFrom: from,
      compTo: to,
      baseQuery: '{service_version="1.4.1"}',
      compQuery: '{service_version="1.4.2"}',
    })
    const heap = await timeGet('flamegraph', { ...common, type: 'heap_inuse_space' })
    latency[name] = { flame, diff, heap, from, to }
    log(
      `| ${name} | ${ms(flame.median)} / ${ms(flame.p90)} | ${ms(diff.median)} / ${ms(diff.p90)} | ${ms(heap.median)} / ${ms(heap.p90)} |`,
    )
  }
  log(
    `(first query after start, frame cache cold: ${ms(latency['15 min'].flame.first)}; each ` +
      `window's first run is left out of its figures)`,
  )
  const grew = latency['1 h'].diff.body.changes.self.grew[0]
  log(
    `(the diff ranks first: ${grew?.name}, +${((grew?.selfShare ?? 0) * 100).toFixed(1)} points of CPU)`,
  )

  // ---- The rollup against raw samples, same function and store, called in-process.
  log(`\n## ${HOURS} h flame graph: hourly rollup vs raw samples (queryFlamegraph in-process, ms)`)
  const baselineRuns = 2
  const rollupRows = []
  for (const type of ['cpu', 'heap_inuse_space']) {
    const window = {
      tenant: 'default',
      service: SERVICE,
      type,
      from: endMs - HOURS * HOUR,
      to: endMs,
      selector: [],
      maxStacks: 20_000,
      maxNodes: 8_192,
    }
    const time = async (rolled) => {
      const times = []
      for (let r = 0; r < baselineRuns + 1; r++) {
        const started = performance.now()
        await queryFlamegraph(client, db, { ...window, rolledHours: rolled })
        if (r > 0) times.push(performance.now() - started)
      }
      return stats(times)
    }
    const rolled = await time(rolledHours)
    const raw = await time(undefined)
    // Stack by stack (gauge values are averages: equal up to rounding in the last bits, which
    // may also swap two near-equal siblings in the tree, hence stacks rather than trees).
    const stackValues = async (rolled) => {
      const set = await queryStacks(client, db, [{ ...window, rolledHours: rolled }], 1e6)
      const key = (st) => st.functions.map((f, i) => `${f}@${st.files[i]}:${st.lines[i]}`).join(';')
      return {
        total: set.totals[0],
        stacks: new Map(set.stacks.map((st) => [key(st), st.values[0]])),
      }
    }
    const close = (a, b) => Math.abs(a - b) <= Math.abs(b) * 1e-9
    const [viaRollup, viaRaw] = [await stackValues(rolledHours), await stackValues(undefined)]
    const differs = [...viaRaw.stacks].find(([k, v]) => !close(viaRollup.stacks.get(k) ?? NaN, v))
    if (
      differs ||
      !close(viaRollup.total, viaRaw.total) ||
      viaRollup.stacks.size !== viaRaw.stacks.size
    ) {
      throw new Error(
        `${type}: read through the rollup, total ${viaRollup.total} (raw ${viaRaw.total}), ` +
          `${viaRollup.stacks.size} stacks (raw ${viaRaw.stacks.size})` +
          (differs
            ? `, ${differs[0]}: ${viaRollup.stacks.get(differs[0])} (raw ${differs[1]})`
            : ''),
      )
    }
    rollupRows.push({ type, rolled, raw })
    log(
      `${type.padEnd(17)} raw ${ms(raw.median)}  rollup ${ms(rolled.median)}  => ` +
        `${(raw.median / rolled.median).toFixed(1)}x faster, the same value for every stack`,
    )
  }

  // ---- The server's frame cache: the same query with it cold (a client object it has not seen:
  // a proxy of the same client) and warm, alternately.
  log('\n## Frame cache: 1 h flame graph (cpu) in-process, cold vs warm cache, ms')
  {
    const window = {
      tenant: 'default',
      service: SERVICE,
      type: 'cpu',
      from: endMs - HOUR,
      to: endMs,
      selector: [],
      maxStacks: 20_000,
      maxNodes: 8_192,
    }
    const times = { cold: [], warm: [] }
    for (let r = 0; r < RUNS; r++) {
      for (const [name, target] of [
        ['cold', new Proxy(client, {})],
        ['warm', client],
      ]) {
        const started = performance.now()
        await queryFlamegraph(target, db, window)
        times[name].push(performance.now() - started)
      }
    }
    const [cold, warm] = [stats(times.cold), stats(times.warm)]
    log(
      `cold ${ms(cold.median)} (p90 ${ms(cold.p90)})  warm ${ms(warm.median)} (p90 ${ms(warm.p90)})` +
        `  => the frames of ${latency['1 h'].flame.body.stacks} stacks cost ${ms(cold.median - warm.median)} a query uncached`,
    )
  }

  // ---- Baselines: merge the window's raw pprof files.
  log('\n## Merging the raw pprof files of the window (cpu), ms')
  const filesDir = join(dir, 'pprof')
  mkdirSync(filesDir)
  const encoded = new Map()
  const filesOf = (from, to) => {
    const paths = []
    for (let i = 0; i < INSTANCES; i++) {
      for (let t = Math.max(0, Math.floor((from - startMs) / INTERVAL_MS) - 1); ; t++) {
        const { k, timeMs } = profileAt(i, t)
        if (timeMs >= to || t >= fleet.profiles) break
        if (timeMs < from) continue
        const path = join(filesDir, `${i}-${t}.pb.gz`)
        const { version } = fleet.instances[i]
        // Files of one template and scale hold the same bytes: encode each once.
        const key = `${version}:${k}:${fleet.scaleOf(i)}`
        let bytes = encoded.get(key)
        if (!bytes) {
          bytes = encodeTemplate(cpuTemplates[version][k], pool, {
            sampleType: ['cpu', 'nanoseconds'],
            scale: fleet.scaleOf(i),
            durationNanos: 10_000_000_000n,
          })
          encoded.set(key, bytes)
        }
        writeFileSync(path, bytes)
        paths.push(path)
      }
    }
    return paths
  }
  // Merges of a big fleet's hour take minutes: time those once.
  const mergeRuns = (files) => (files > 2000 ? 1 : 2)
  const merges = {}
  log(
    '| window | files | go tool pprof -proto | pprof-format in Node | flame graph (median) | vs go | vs Node |',
  )
  log('|---|---|---|---|---|---|---|')
  for (const name of ['15 min', '1 h']) {
    const { from, to, flame } = latency[name]
    const paths = filesOf(from, to)
    const node = []
    const go = []
    let merged
    for (let r = 0; r < mergeRuns(paths.length); r++) {
      let started = performance.now()
      merged = await mergeInNode(paths)
      node.push(performance.now() - started)
      started = performance.now()
      go.push(await mergeWithGo(paths))
    }
    if (merged.total !== flame.body.total)
      throw new Error(
        `${name}: merged files total ${merged.total} != flame graph ${flame.body.total}`,
      )
    merges[name] = { files: paths.length, go: stats(go), node: stats(node) }
    log(
      `| ${name} | ${paths.length} | ${ms(merges[name].go.median)} | ${ms(merges[name].node.median)} | ` +
        `${ms(flame.median)} | ${(merges[name].go.median / flame.median).toFixed(0)}x | ` +
        `${(merges[name].node.median / flame.median).toFixed(0)}x |`,
    )
    rmSync(filesDir, { recursive: true, force: true })
    mkdirSync(filesDir)
  }
  // A day is 24 x the files of an hour: merging scales with them (both merges are linear).
  const day = latency[`${HOURS} h`]
  const perHour = merges['1 h']
  log(
    `| ${HOURS} h (extrapolated: ${HOURS} x 1 h) | ${perHour.files * HOURS} | ~${ms(perHour.go.median * HOURS)} | ` +
      `~${ms(perHour.node.median * HOURS)} | ${ms(day.flame.median)} | ~${((perHour.go.median * HOURS) / day.flame.median).toFixed(0)}x | ` +
      `~${((perHour.node.median * HOURS) / day.flame.median).toFixed(0)}x |`,
  )
  log('(every merge holds the same total as the flame graph of its window: checked)')

  // ---- Acceptance.
  const hour = latency['1 h'].flame.median
  const vsGo = merges['1 h'].go.median / hour
  const vsNode = merges['1 h'].node.median / hour
  log('\n## Acceptance: 1 h flame graph over the fleet')
  log(
    `median ${ms(hour)} (< 500 ms: ${hour < 500 ? 'yes' : 'NO'}); ${vsGo.toFixed(0)}x faster than go tool pprof, ` +
      `${vsNode.toFixed(0)}x faster than pprof-format (>= 20x: ${Math.min(vsGo, vsNode) >= 20 ? 'yes' : 'NO'})`,
  )

  log(`\n(benchmark ran ${((performance.now() - benchStarted) / 60_000).toFixed(1)} min)`)
} finally {
  await server.close()
  if (!args.keep) rmSync(dir, { recursive: true, force: true })
  else log(`\nkept ${dir}`)
}

/** Wait for background merges to finish (a store that has been running), then merge the rollup. */
async function settle(client, db) {
  const started = performance.now()
  await client.command({ query: `OPTIMIZE TABLE ${db}.samples_hourly FINAL` })
  while (performance.now() - started < 180_000) {
    const result = await client.query({
      query: `SELECT count() AS n FROM system.merges WHERE database = '${db}'`,
      format: 'JSONEachRow',
    })
    const [row] = await result.json()
    if (Number(row.n) === 0) break
    await new Promise((r) => setTimeout(r, 1000))
  }
}

async function tableSizes(client, db) {
  const result = await client.query({
    query: `SELECT table, sum(rows) AS rows, sum(data_compressed_bytes) AS bytes FROM system.parts
      WHERE database = '${db}' AND active GROUP BY table`,
    format: 'JSONEachRow',
  })
  const rows = await result.json()
  return Object.fromEntries(
    rows.map((r) => [r.table, { rows: Number(r.rows), bytes: Number(r.bytes) }]),
  )
}
