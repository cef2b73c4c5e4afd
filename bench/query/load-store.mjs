// Loads a synthetic fleet into Kiln's store fast: the rows ingest would write for each profile
// template (made by the server's own decode + normalize, so stack hashes, frames and series ids
// are the real ones), then every (instance, 10 s) profile of the window generated inside the
// store with INSERT ... SELECT, an hour of profiles per statement. That skips HTTP and the batch
// writer. The hourly rollup of the hours before `fleet.rollupBefore` is computed from the
// templates (how many times each template occurs per hour and series) and recorded as one run:
// what the scheduled rollup would write, for a fraction of the work of aggregating hundreds of
// millions of rows. Later hours are left to the server's own `HourlyRollup`, which the bench
// times; query-bench.mjs checks that flame graphs read through the rollup equal those read raw.
import { gunzipSync } from 'node:zlib'
import { decodePprof, normalizeProfile } from '@kiln/server/ingest'
import { encodeTemplate } from './fleet.mjs'
import { NORMALIZE_LIMITS } from '../normalize-limits.mjs'

const BENCH_DB = 'kiln_bench_fleet'
const INTERVAL_MS = 10_000
/** The run id of the loader's rollup rows. */
const LOADER_RUN = 1

/** The rows `normalizeProfile` makes of a gzipped pprof. */
async function normalize(gz, service, labels) {
  return normalizeProfile(decodePprof(gunzipSync(gz)), {
    tenant: 'default',
    service,
    labels,
    fromMs: 0,
    limits: NORMALIZE_LIMITS,
  }).batch
}

/**
 * @param client the store's @clickhouse/client
 * @param fleet {service, db, instances: [{labels, version}], kinds: [{type, sampleType,
 *   templates: {[version]: template[]}}], pool, startMs, profiles (per instance), scaleOf(i),
 *   offsetMs(i), templateOf(i, t) -> index into the version's templates, rollupBefore: Unix ms,
 *   the hours before it rolled up by the loader}
 */
export async function loadFleet(client, fleet, log) {
  const { service, db } = fleet
  const command = (query) => client.command({ query })
  await command(`CREATE DATABASE IF NOT EXISTS ${BENCH_DB}`)
  await command(`CREATE OR REPLACE TABLE ${BENCH_DB}.templates
    (type String, k UInt32, stack_hash UInt64, value Int64) ENGINE = Memory`)
  await command(`CREATE OR REPLACE TABLE ${BENCH_DB}.totals
    (type String, k UInt32, total Int64, n UInt32) ENGINE = Memory`)
  await command(`CREATE OR REPLACE TABLE ${BENCH_DB}.instances (i UInt32, type String,
    series_id UInt64, version String, labels Map(String, String), scale Int64, offset_ms Int64,
    base UInt32) ENGINE = Memory`)

  // Templates: their stacks, and their samples under a template number k.
  const stacks = new Map()
  const templates = []
  const totals = []
  const versions = [...new Set(fleet.instances.map((i) => i.version))]
  const perVersion = fleet.kinds[0].templates[versions[0]].length
  for (const kind of fleet.kinds) {
    for (const [v, version] of versions.entries()) {
      for (const [j, template] of kind.templates[version].entries()) {
        const gz = encodeTemplate(template, fleet.pool, { sampleType: kind.sampleType, scale: 1 })
        const batch = await normalize(gz, service, {})
        for (const row of batch.stacks) stacks.set(row.stack_hash, row)
        const k = v * perVersion + j
        for (const s of batch.samples)
          templates.push({ type: s.type, k, stack_hash: s.stack_hash, value: s.value })
        totals.push({ type: kind.type, k, total: batch.profiles[0].total, n: batch.samples.length })
      }
    }
  }
  // Series: one per instance and type, as ingest names them.
  const instances = []
  const series = []
  for (const [i, instance] of fleet.instances.entries()) {
    for (const kind of fleet.kinds) {
      const gz = encodeTemplate(kind.templates[instance.version][0].slice(0, 1), fleet.pool, {
        sampleType: kind.sampleType,
        scale: 1,
      })
      const batch = await normalize(gz, service, instance.labels)
      const row = batch.series.find((s) => s.type === kind.type)
      series.push(row)
      instances.push({
        i,
        type: kind.type,
        series_id: row.series_id,
        version: instance.version,
        labels: instance.labels,
        scale: fleet.scaleOf(i),
        offset_ms: fleet.offsetMs(i),
        base: versions.indexOf(instance.version) * perVersion,
      })
    }
  }
  const insert = (table, values) => client.insert({ table, values, format: 'JSONEachRow' })
  await insert(`${db}.stacks`, [...stacks.values()])
  await insert(`${db}.series`, series)
  await insert(`${BENCH_DB}.templates`, templates)
  await insert(`${BENCH_DB}.totals`, totals)
  await insert(`${BENCH_DB}.instances`, instances)

  // Every profile of every instance: template (base + templateOf), values times the scale.
  const profilesOf = (t0, t1) => `SELECT i, type, series_id, version, labels, scale,
      ${fleet.startMs} + t * ${INTERVAL_MS} + offset_ms AS ms,
      base + (i * 7 + t * 13) % ${perVersion} AS k
    FROM ${BENCH_DB}.instances ARRAY JOIN range(${t0}, ${t1}) AS t`
  const perHour = 3_600_000 / INTERVAL_MS
  let rows = 0
  const started = performance.now()
  for (let t0 = 0; t0 < fleet.profiles; t0 += perHour) {
    const t1 = Math.min(fleet.profiles, t0 + perHour)
    await command(`INSERT INTO ${db}.samples
        (tenant, service, type, time, series_id, stack_hash, value)
      SELECT 'default', '${service}', p.type, fromUnixTimestamp64Milli(p.ms), p.series_id,
        tpl.stack_hash, tpl.value * p.scale
      FROM (${profilesOf(t0, t1)}) AS p
      INNER JOIN ${BENCH_DB}.templates AS tpl ON tpl.type = p.type AND tpl.k = p.k`)
    await command(`INSERT INTO ${db}.profiles (tenant, service, type, profile_id, series_id,
        time_start, time_end, version, labels, total, sample_count, spy_name, received_at)
      SELECT 'default', '${service}', p.type, generateUUIDv4(), p.series_id,
        fromUnixTimestamp64Milli(p.ms), fromUnixTimestamp64Milli(p.ms + ${INTERVAL_MS}),
        p.version, p.labels, tot.total * p.scale, tot.n, 'nodespy',
        fromUnixTimestamp64Milli(p.ms + ${INTERVAL_MS})
      FROM (${profilesOf(t0, t1)}) AS p
      INNER JOIN ${BENCH_DB}.totals AS tot ON tot.type = p.type AND tot.k = p.k`)
    // The rollup of the same profiles, as a run of the scheduled rollup makes it (HourlyRollup in
    // server/src/store/hourly-rollup.ts), computed from the templates: per hour, series and stack
    // the sum of its values; per hour and series a row with stack 0 and the set of its snapshot
    // times. Rows of one key from two statements are merged by the table, as in one run.
    const bucket = `toStartOfHour(fromUnixTimestamp64Milli(ms, 'UTC'))`
    const before = `${bucket} < fromUnixTimestamp64Milli(toInt64(${fleet.rollupBefore}), 'UTC')`
    await command(`INSERT INTO ${db}.samples_hourly
        (tenant, service, type, bucket, run, series_id, stack_hash, value)
      SELECT 'default', '${service}', c.type, c.bucket, ${LOADER_RUN}, c.series_id, tpl.stack_hash,
        sum(tpl.value * c.scale * c.n)
      FROM (
        SELECT type, series_id, scale, k, ${bucket} AS bucket, count() AS n
        FROM (${profilesOf(t0, t1)}) WHERE ${before} GROUP BY type, series_id, scale, k, bucket
      ) AS c
      INNER JOIN ${BENCH_DB}.templates AS tpl ON tpl.type = c.type AND tpl.k = c.k
      GROUP BY c.type, c.bucket, c.series_id, tpl.stack_hash`)
    await command(`INSERT INTO ${db}.samples_hourly
        (tenant, service, type, bucket, run, series_id, stack_hash, value, snapshots)
      SELECT 'default', '${service}', type, ${bucket} AS bucket, ${LOADER_RUN}, series_id, 0, 0,
        uniqExactState(fromUnixTimestamp64Milli(ms, 'UTC'))
      FROM (${profilesOf(t0, t1)}) WHERE ${before} GROUP BY type, bucket, series_id`)
    rows = await count(client, `${db}.samples`)
    log?.(
      `  loaded hour ${t0 / perHour + 1}/${Math.ceil(fleet.profiles / perHour)}: ${rows} sample rows, ${((performance.now() - started) / 1000).toFixed(0)} s`,
    )
  }
  // The loader's run of each hour it rolled up, as HourlyRollup records its own.
  await command(`INSERT INTO ${db}.rollup_runs (bucket, run, started)
    SELECT DISTINCT bucket, ${LOADER_RUN}, now64(3, 'UTC') FROM ${db}.samples_hourly
    WHERE run = ${LOADER_RUN}`)
  await command(`DROP DATABASE ${BENCH_DB}`)
  return {
    sampleRows: rows,
    seconds: (performance.now() - started) / 1000,
    stacks: stacks.size,
  }
}

async function select(client, query) {
  return (await client.query({ query, format: 'JSONEachRow' })).json()
}

/** The rows of `table` (or of `table WHERE ...`). */
export async function count(client, table) {
  const [row] = await select(client, `SELECT count() AS n FROM ${table}`)
  return Number(row.n)
}
