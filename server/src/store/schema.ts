import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client'

export interface SchemaOptions {
  database: string
  retentionDays: number
  /**
   * The name of a cluster in the ClickHouse servers' `remote_servers`, or a macro (`{cluster}`).
   * When set, each table is a Replicated `<name>_local` created `ON CLUSTER` with a
   * `Distributed` table `<name>` over it, so every query keeps reading `<db>.<name>`. When not,
   * plain MergeTree tables (chDB, or one ClickHouse server).
   */
  cluster?: string | undefined
  /** Days the samples of traces (`trace_samples`) are kept; default 7, at most `retentionDays`. */
  traceRetentionDays?: number | undefined
}

export interface Migration {
  version: number
  name: string
  /**
   * The statements of this migration for one store. Build tables with `createTable` and views
   * with `createView` so they follow `options.cluster`; a test checks that in cluster mode every
   * DDL statement runs `ON CLUSTER`, every table is Replicated or Distributed, and an `INSERT`
   * (a migration's record of its own state) writes through a Distributed table. A migration
   * that is interrupted runs again, so every statement must bear repeating.
   */
  statements: (o: SchemaOptions) => string[]
}

/** A MergeTree-family table; `createTable` renders it for one server or for a cluster. */
export interface TableSpec {
  name: string
  /** Column definitions, one per entry. */
  columns: string[]
  /** On a cluster, the `Replicated` variant of it. */
  engine: 'MergeTree' | 'ReplacingMergeTree' | 'SummingMergeTree' | 'AggregatingMergeTree'
  /** Engine arguments, e.g. the version column of a ReplacingMergeTree. */
  engineArgs?: string
  /** `PARTITION BY`, `ORDER BY`, `TTL`: the same on one server and on a cluster. */
  clauses: string[]
  /** The `Distributed` sharding key; `SHARDING_KEY` unless the table has no tenant/service. */
  shardingKey?: string
}

/**
 * Rows of one (tenant, service) live on one shard, in every table: a stack meets its samples
 * and a label filter's series ids meet the samples they select, so each shard answers for its
 * services alone. The price: one service cannot outgrow a shard, and the number of shards is
 * fixed for the life of a database (adding one would move services; see deploy/README.md).
 */
export const SHARDING_KEY = 'cityHash64(tenant, service)'

/** Keeper path of each replicated table, from the macros every replica defines. */
export const REPLICA_PATH = '/clickhouse/tables/{shard}/{database}/{table}'

/**
 * Settings of every query on a cluster (see `createClickHouseClient`).
 * - `distributed_product_mode: 'local'`: label filters run `series_id IN (SELECT series_id FROM
 *   <db>.series ...)` inside a query on `<db>.samples`; ClickHouse refuses such a
 *   double-distributed subquery by default. Both tables shard by `SHARDING_KEY`, so each shard
 *   answers the subquery from its own local table, and that answer is complete.
 * - `insert_distributed_sync`: an insert returns once the rows are on their shards, not when
 *   they are queued on the node that took them, so Kiln's ack still means stored.
 */
export const CLUSTER_QUERY_SETTINGS = {
  distributed_product_mode: 'local',
  insert_distributed_sync: 1,
} as const satisfies ClickHouseSettings

const onCluster = (o: SchemaOptions): string =>
  o.cluster === undefined ? '' : ` ON CLUSTER '${o.cluster}'`

/**
 * The CREATE statements of a table. One server: the table itself. A cluster: `<name>_local`
 * with the Replicated engine on every node, then `<name>` as a Distributed table over it.
 */
export function createTable(spec: TableSpec, o: SchemaOptions): string[] {
  const db = o.database
  const columns = `(\n  ${spec.columns.join(',\n  ')}\n)`
  const clauses = spec.clauses.join('\n')
  if (o.cluster === undefined) {
    const args = spec.engineArgs === undefined ? '' : `(${spec.engineArgs})`
    return [
      `CREATE TABLE IF NOT EXISTS ${db}.${spec.name} ${columns}\nENGINE = ${spec.engine}${args}\n${clauses}`,
    ]
  }
  const local = `${spec.name}_local`
  const args = [`'${REPLICA_PATH}'`, `'{replica}'`, ...(spec.engineArgs ? [spec.engineArgs] : [])]
  return [
    `CREATE TABLE IF NOT EXISTS ${db}.${local}${onCluster(o)} ${columns}\n` +
      `ENGINE = Replicated${spec.engine}(${args.join(', ')})\n${clauses}`,
    `CREATE TABLE IF NOT EXISTS ${db}.${spec.name}${onCluster(o)} AS ${db}.${local}\n` +
      `ENGINE = Distributed('${o.cluster}', '${db}', '${local}', ${spec.shardingKey ?? SHARDING_KEY})`,
  ]
}

/** A materialized view: on every insert into `source`, its `select` rows go into `target`. */
export interface ViewSpec {
  name: string
  /** Tables, by their names on one server; on a cluster the view joins their `_local` tables. */
  source: string
  target: string
  /** The SELECT, with `{source}` where the source table goes (qualified by `createView`). */
  select: string
}

/**
 * The CREATE statement of a materialized view. On a cluster the view lives on every node and
 * reads the node's `<source>_local` into its `<target>_local`: inserts through a Distributed table
 * land in the `_local` table of their shard, and that is where the view sees them. The target,
 * being Replicated, carries the view's rows to the other replicas (which do not run the view on
 * the parts they fetch).
 */
export function createView(spec: ViewSpec, o: SchemaOptions): string {
  const db = o.database
  const local = o.cluster === undefined ? '' : '_local'
  return (
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${spec.name}${onCluster(o)}\n` +
    `TO ${db}.${spec.target}${local} AS\n` +
    spec.select.replaceAll('{source}', `${db}.${spec.source}${local}`)
  )
}

/**
 * Tables (see DESIGN.md):
 * - `series`: one row per label set (tenant, service, type, sorted labels) under a 64-bit id.
 * - `stacks`: one row per distinct stack per service under a 64-bit hash, frames root first.
 * - `samples`: (series id, time, stack hash, value), the bulk of the data.
 * - `profiles`: one row per ingested profile and type, for the timeline and deploy markers.
 */
function initialTables(days: number): TableSpec[] {
  return [
    {
      name: 'series',
      columns: [
        'tenant LowCardinality(String)',
        'service LowCardinality(String)',
        'type LowCardinality(String)',
        'series_id UInt64',
        'labels Map(LowCardinality(String), String)',
        "last_seen DateTime('UTC')",
      ],
      engine: 'ReplacingMergeTree',
      engineArgs: 'last_seen',
      clauses: [
        'ORDER BY (tenant, service, type, series_id)',
        `TTL last_seen + INTERVAL ${days + 1} DAY`,
      ],
    },
    {
      name: 'stacks',
      columns: [
        'tenant LowCardinality(String)',
        'service LowCardinality(String)',
        'stack_hash UInt64',
        'functions Array(String) CODEC(ZSTD(3))',
        'files Array(LowCardinality(String)) CODEC(ZSTD(3))',
        'lines Array(UInt32) CODEC(ZSTD(3))',
        "last_seen DateTime('UTC')",
      ],
      engine: 'ReplacingMergeTree',
      engineArgs: 'last_seen',
      clauses: [
        'ORDER BY (tenant, service, stack_hash)',
        `TTL last_seen + INTERVAL ${days + 1} DAY`,
      ],
    },
    {
      name: 'samples',
      columns: [
        'tenant LowCardinality(String)',
        'service LowCardinality(String)',
        'type LowCardinality(String)',
        "time DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1))",
        'series_id UInt64 CODEC(ZSTD(1))',
        'stack_hash UInt64 CODEC(ZSTD(1))',
        'value Int64 CODEC(T64, ZSTD(1))',
      ],
      engine: 'MergeTree',
      clauses: [
        'PARTITION BY toDate(time)',
        'ORDER BY (tenant, service, type, time, series_id, stack_hash)',
        `TTL toDateTime(time) + INTERVAL ${days} DAY`,
      ],
    },
    {
      name: 'profiles',
      columns: [
        'tenant LowCardinality(String)',
        'service LowCardinality(String)',
        'type LowCardinality(String)',
        'profile_id UUID',
        'series_id UInt64',
        "time_start DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1))",
        "time_end DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1))",
        'version LowCardinality(String)',
        'labels Map(LowCardinality(String), String)',
        'total Int64',
        'sample_count UInt32',
        'spy_name LowCardinality(String)',
        "received_at DateTime64(3, 'UTC')",
      ],
      engine: 'MergeTree',
      clauses: [
        'PARTITION BY toDate(time_start)',
        'ORDER BY (tenant, service, type, time_start)',
        `TTL toDateTime(time_start) + INTERVAL ${days} DAY`,
      ],
    },
  ]
}

/**
 * Tables of the alerting hooks, both ReplacingMergeTree so that a later version of a row (an
 * alert's resolution, a finding's delivery state or extended window) replaces the earlier one.
 * The replaced key is the whole ORDER BY, so every column in it is fixed for the life of an
 * alert or a finding; reads use `FINAL`.
 *
 * - `alerts`: one row per alert instance (source, fingerprint, start), newest receipt wins.
 * - `findings`: one row per finding of Kiln's detectors, newest update wins.
 *
 * Retention follows the receipt / last update, not the start: an alert firing for longer than the
 * retention must not vanish while it still fires.
 */
function alertsTables(retentionDays: number): TableSpec[] {
  const days = retentionDays
  return [
    {
      name: 'alerts',
      columns: [
        'tenant LowCardinality(String)',
        'service LowCardinality(String)',
        "starts_at DateTime64(3, 'UTC')",
        'alert_id String',
        'source LowCardinality(String)',
        'status LowCardinality(String)',
        'name String',
        'type LowCardinality(String)',
        "ends_at Nullable(DateTime64(3, 'UTC'))",
        "window_from DateTime64(3, 'UTC')",
        "window_to DateTime64(3, 'UTC')",
        'fingerprint String',
        'labels Map(LowCardinality(String), String)',
        'annotations Map(LowCardinality(String), String) CODEC(ZSTD(3))',
        'generator_url String CODEC(ZSTD(3))',
        "received_at DateTime64(3, 'UTC')",
      ],
      engine: 'ReplacingMergeTree',
      engineArgs: 'received_at',
      clauses: [
        'PARTITION BY toYYYYMM(starts_at)',
        'ORDER BY (tenant, service, starts_at, alert_id)',
        `TTL toDateTime(received_at) + INTERVAL ${days} DAY`,
      ],
    },
    {
      name: 'findings',
      columns: [
        'tenant LowCardinality(String)',
        'service LowCardinality(String)',
        "time DateTime64(3, 'UTC')",
        'finding_id String',
        'kind LowCardinality(String)',
        'type LowCardinality(String)',
        'title String',
        'version String',
        'previous_version String',
        'versions_compared Array(String)',
        "window_from DateTime64(3, 'UTC')",
        "window_to DateTime64(3, 'UTC')",
        "baseline_from DateTime64(3, 'UTC')",
        "baseline_to DateTime64(3, 'UTC')",
        'base_query String',
        'comp_query String',
        // FindingFunction[] as JSON: read whole, never filtered on.
        'functions String CODEC(ZSTD(3))',
        'stats Map(LowCardinality(String), Float64)',
        "detected_at DateTime64(3, 'UTC')",
        "updated_at DateTime64(3, 'UTC')",
        'delivery LowCardinality(String)',
        // Configured webhook URLs this finding has not reached yet.
        'pending_urls Array(String)',
        'delivery_attempts UInt16',
      ],
      engine: 'ReplacingMergeTree',
      engineArgs: 'updated_at',
      clauses: [
        'PARTITION BY toYYYYMM(time)',
        'ORDER BY (tenant, service, time, finding_id)',
        `TTL toDateTime(updated_at) + INTERVAL ${days} DAY`,
      ],
    },
  ]
}

/**
 * Migration 2: the `alerts` and `findings` tables, for any store (cluster included). Exported for
 * the test fixture that creates them on a server without the hooks and findings plugins.
 */
export function alertsStatements(o: SchemaOptions): string[] {
  return alertsTables(o.retentionDays).flatMap((table) => createTable(table, o))
}

/**
 * Migration 3's hourly rollup of `samples`, fed by a view on every insert. Migration 9 replaced it
 * by {@link ROLLUP} and dropped the view; the table is kept for servers of earlier versions, which
 * read it only from its coverage record (`rollups`), which migration 9 moves past the year 2100.
 */
export const LEGACY_ROLLUP = {
  table: 'samples_1h',
  view: 'samples_1h_mv',
  /** Records, per migration run, from when the rollup holds every sample (see `rollupTables`). */
  coverageTable: 'rollups',
} as const

/**
 * The hourly rollup of `samples` (migration 9), made on a schedule (`HourlyRollup` in
 * store/hourly-rollup.ts): one run per hour rolls the hour's samples up once, `run` naming it.
 */
export const ROLLUP = {
  table: 'samples_hourly',
  /** One row per finished run: the hour, the run, when it started. */
  runsTable: 'rollup_runs',
  /** Hours that received samples late: a run that started before `until` is out of date. */
  dirtyTable: 'rollup_dirty',
  /** Length of a bucket. */
  bucketMs: 3_600_000,
} as const

/**
 * Migration 3: `samples_1h`, the samples summed per hour, so that long windows read one row per
 * (hour, series, stack) instead of one per upload: a day of 50 instances is ~200 M sample rows
 * and ~0.6 M rollup rows. A window is read as whole hours from the rollup plus its ragged edges
 * from `samples` (`server/src/query/rollup.ts`), with the same results.
 *
 * One table fed by one materialized view, because a view costs a part write on every insert into
 * `samples`, and inserts are what bound ingest (bench/query/RESULTS.md). It holds two kinds of
 * rows per (hour, series):
 * - one per stack: `value` is the sum of its samples, `snapshots` an empty state;
 * - one with `stack_hash = 0` and `value = 0` whose `snapshots` is the set of upload times of the
 *   series in the hour (`uniqExactState(time)`). Gauges divide by the number of distinct
 *   snapshots of each series in the window, and sets of disjoint hours add up exactly.
 * A real stack whose hash is 0 shares its row with that of the snapshot set; both readings stay
 * right, as stack values are summed over every row and snapshot sets merged over every row.
 *
 * AggregatingMergeTree merges rows of a key lazily, so reads always aggregate (`sum(value)`,
 * `uniqExactMerge(snapshots)`). Retention is the same number of days as `samples`, by hour.
 *
 * The view only sees inserts made after it exists, and nothing copies older samples in (on a
 * cluster another server may insert meanwhile, and a copy could count a row twice). So the last
 * statement records in `rollups` from when the rollup is complete: from the start on a store
 * with no sample yet; else from two hours past the newest sample and the current hour, beyond the
 * time of any insert under way while the view was created (as long as KILN_MAX_FUTURE_SKEW_MS is
 * below an hour). Reads use the rollup only from there (the largest recorded time; a later record
 * only narrows it).
 */
function rollupTables(o: SchemaOptions): string[] {
  const db = o.database
  const rollup: TableSpec = {
    name: LEGACY_ROLLUP.table,
    columns: [
      'tenant LowCardinality(String)',
      'service LowCardinality(String)',
      'type LowCardinality(String)',
      "bucket DateTime('UTC') CODEC(DoubleDelta, ZSTD(1))",
      'series_id UInt64 CODEC(ZSTD(1))',
      'stack_hash UInt64 CODEC(ZSTD(1))',
      'value SimpleAggregateFunction(sum, Int64) CODEC(T64, ZSTD(1))',
      "snapshots AggregateFunction(uniqExact, DateTime64(3, 'UTC')) CODEC(ZSTD(1))",
    ],
    engine: 'AggregatingMergeTree',
    clauses: [
      'PARTITION BY toDate(bucket)',
      'ORDER BY (tenant, service, type, bucket, series_id, stack_hash)',
      `TTL bucket + INTERVAL ${o.retentionDays} DAY`,
    ],
  }
  const coverage: TableSpec = {
    name: LEGACY_ROLLUP.coverageTable,
    columns: [
      'name LowCardinality(String)',
      "complete_from DateTime('UTC')",
      "recorded_at DateTime('UTC') DEFAULT now()",
    ],
    engine: 'MergeTree',
    clauses: ['ORDER BY name'],
    shardingKey: 'cityHash64(name)',
  }
  // ARRAY JOIN doubles each sample: once for its stack's row, once for the snapshot row.
  const view: ViewSpec = {
    name: LEGACY_ROLLUP.view,
    source: 'samples',
    target: LEGACY_ROLLUP.table,
    select: `SELECT tenant, service, type, bucket, series_id, hash AS stack_hash,
  sum(v) AS value, uniqExactStateIf(time, snapshot) AS snapshots
FROM (
  SELECT tenant, service, type, toStartOfHour(time) AS bucket, series_id, time, snapshot,
    if(snapshot, 0, stack_hash) AS hash, if(snapshot, 0, value) AS v
  FROM {source} ARRAY JOIN [false, true] AS snapshot
)
GROUP BY tenant, service, type, bucket, series_id, hash`,
  }
  const sync = o.cluster === undefined ? '' : ' SETTINGS insert_distributed_sync = 1'
  return [
    ...createTable(rollup, o),
    ...createTable(coverage, o),
    createView(view, o),
    `INSERT INTO ${db}.${LEGACY_ROLLUP.coverageTable} (name, complete_from)${sync}
SELECT '${LEGACY_ROLLUP.table}', if(count() = 0, toDateTime(0, 'UTC'),
  toDateTime(toStartOfHour(greatest(max(time), now64(3, 'UTC'))), 'UTC') + INTERVAL 2 HOUR)
FROM ${db}.samples`,
  ]
}

/**
 * Migration 4: `agent_stats`, what Kiln's agent says of itself with each upload (the
 * `x-kiln-agent-stats` header): one row per upload that carried it, at the upload's `until`, under
 * the instance's `host`, `pid` and version labels. Every number is Nullable: a field an agent did
 * not send is unknown, not 0 (agents before `profilerCpuMicros` existed). Ordered by time after
 * (tenant, service) like the other tables, as reads take a window of one service; retention is that
 * of `profiles`.
 */
function agentStatsTable(days: number): TableSpec {
  return {
    name: 'agent_stats',
    columns: [
      'tenant LowCardinality(String)',
      'service LowCardinality(String)',
      "time DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1))",
      'host LowCardinality(String)',
      'pid String',
      'version LowCardinality(String)',
      'profiles_collected Nullable(UInt64) CODEC(ZSTD(1))',
      'uploads_ok Nullable(UInt64) CODEC(ZSTD(1))',
      'uploads_failed Nullable(UInt64) CODEC(ZSTD(1))',
      'uploads_retried Nullable(UInt64) CODEC(ZSTD(1))',
      'profiles_dropped Nullable(UInt64) CODEC(ZSTD(1))',
      'bytes_uploaded Nullable(UInt64) CODEC(ZSTD(1))',
      'queued_profiles Nullable(UInt64) CODEC(ZSTD(1))',
      'queued_bytes Nullable(UInt64) CODEC(ZSTD(1))',
      'collect_cpu_micros Nullable(UInt64) CODEC(ZSTD(1))',
      'profiler_cpu_micros Nullable(UInt64) CODEC(ZSTD(1))',
      'sampling_interval_micros Nullable(UInt64) CODEC(ZSTD(1))',
      'last_overhead_percent Nullable(Float64) CODEC(ZSTD(1))',
      'overhead_budget_percent Nullable(Float64) CODEC(ZSTD(1))',
      'last_error String CODEC(ZSTD(3))',
      "received_at DateTime64(3, 'UTC')",
    ],
    engine: 'MergeTree',
    clauses: [
      'PARTITION BY toDate(time)',
      'ORDER BY (tenant, service, time, host, pid)',
      `TTL toDateTime(time) + INTERVAL ${days} DAY`,
    ],
  }
}

/**
 * The statements that add `columns` to an existing table when it lacks them. On a cluster, to the
 * Replicated `<name>_local` on every node and then to the Distributed `<name>` over it.
 */
export function addColumns(table: string, columns: string[], o: SchemaOptions): string[] {
  const add = columns.map((c) => `ADD COLUMN IF NOT EXISTS ${c}`).join(', ')
  const names = o.cluster === undefined ? [table] : [`${table}_local`, table]
  return names.map((name) => `ALTER TABLE ${o.database}.${name}${onCluster(o)} ${add}`)
}

/**
 * Migration 5, two columns:
 * - `samples.upload`: the upload a sample row came from (`uploadHashOf` in stored-profiles.ts).
 *   A re-sent upload whose samples are stored but whose `profiles` rows are not (the store went
 *   away between the two inserts) is completed without storing its samples again.
 * - `series.instance_id`: the series of the upload's own labels, without the labels set per
 *   sample. Gauges (heap in use) average each instance over its snapshots, whatever labels its
 *   samples carry (window-sql.ts). 0 in rows written before this migration: the series itself.
 */
function exactlyOnceColumns(o: SchemaOptions): string[] {
  return [
    ...addColumns('samples', ['upload UInt64'], o),
    ...addColumns('series', ['instance_id UInt64'], o),
  ]
}

/**
 * Migration 6, fleet scheduling:
 * - `agent_checkins`: one row per check-in of an agent (`POST /api/v1/schedule`). The live
 *   instances of a service are those that checked in lately; every server reads them from here,
 *   so any server gives an instance the same plan. Kept a day.
 * - `agent_stats.schedule` and `agent_stats.duty_cycle`: how the agent collected (`always`,
 *   `local`, `server`) and its share of windows; empty and NULL from agents that do not say.
 */
function scheduleTables(o: SchemaOptions): string[] {
  const checkins: TableSpec = {
    name: 'agent_checkins',
    columns: [
      'tenant LowCardinality(String)',
      'service LowCardinality(String)',
      "time DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1))",
      'instance String',
    ],
    engine: 'MergeTree',
    clauses: [
      'PARTITION BY toDate(time)',
      'ORDER BY (tenant, service, time, instance)',
      'TTL toDateTime(time) + INTERVAL 1 DAY',
    ],
  }
  return [
    ...createTable(checkins, o),
    ...addColumns(
      'agent_stats',
      ['schedule LowCardinality(String)', 'duty_cycle Nullable(Float64)'],
      o,
    ),
  ]
}

/**
 * Migration 7, on `alerts`: the selector carried from the alert's labels into its links, the
 * service rule that matched (or why none did), and Grafana's extra URLs and query values.
 */
function alertMappingColumns(o: SchemaOptions): string[] {
  return addColumns(
    'alerts',
    [
      "selector String DEFAULT ''",
      "mapped_by String DEFAULT ''",
      "mapping_warning String DEFAULT ''",
      'urls Map(LowCardinality(String), String) CODEC(ZSTD(3))',
      'alert_values Map(LowCardinality(String), Float64)',
    ],
    o,
  )
}

/**
 * Migration 8, `trace_samples`: the samples that carried a trace, by trace and local root span.
 * Trace and span ids are too many for series (each would be one), so `samples` holds these
 * samples under their series without the ids (flame graphs, diffs and detectors see them as
 * ever), and this table holds them again with the ids: (trace, span, series, stack, value).
 * Sorted by trace id after the service and type, so a trace's profile reads a few granules; a
 * bloom filter finds span ids. Kept `traceRetentionDays` (7 by default), less than samples: it
 * answers "this trace was slow" questions, which are asked soon.
 */
function traceSamplesTable(o: SchemaOptions): string[] {
  const days = Math.min(o.traceRetentionDays ?? 7, o.retentionDays)
  return createTable(
    {
      name: 'trace_samples',
      columns: [
        'tenant LowCardinality(String)',
        'service LowCardinality(String)',
        'type LowCardinality(String)',
        "time DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1))",
        'trace_id String CODEC(ZSTD(1))',
        'span_id String CODEC(ZSTD(1))',
        'series_id UInt64 CODEC(ZSTD(1))',
        'stack_hash UInt64 CODEC(ZSTD(1))',
        'value Int64 CODEC(T64, ZSTD(1))',
        'upload UInt64',
        'INDEX span_ids span_id TYPE bloom_filter(0.01) GRANULARITY 1',
      ],
      engine: 'MergeTree',
      clauses: [
        'PARTITION BY toDate(time)',
        'ORDER BY (tenant, service, type, trace_id, time)',
        `TTL toDateTime(time) + INTERVAL ${days} DAY`,
      ],
    },
    o,
  )
}

/**
 * Migration 9, the hourly rollup on a schedule. Migration 3's view wrote a second part on every
 * insert into `samples` and cost a quarter to a third of ingest (bench/README.md, "Ingest
 * speed"); now each hour is rolled up once, after it ended (`HourlyRollup`):
 * - `samples_hourly`: the rows of migration 3's rollup (one per stack with the sum of its values,
 *   one per series with `stack_hash = 0` holding the set of its upload times) under the `run`
 *   that made them. Reads take only the runs that `rollup_runs` lists as current.
 * - `rollup_runs`: one row per finished run: its hour, its id, when it started reading.
 * - `rollup_dirty`: hours that received samples after they could have been rolled up; a run of
 *   such an hour that started before `until` misses some, and the hour is read raw until a later
 *   run.
 * The view of migration 3 is dropped. Its coverage record moves past 2100, so that a server of an
 * earlier version that reads it after this migration reads every window raw (slower, right).
 */
function scheduledRollupTables(o: SchemaOptions): string[] {
  const db = o.database
  const rollup: TableSpec = {
    name: ROLLUP.table,
    columns: [
      'tenant LowCardinality(String)',
      'service LowCardinality(String)',
      'type LowCardinality(String)',
      "bucket DateTime('UTC') CODEC(DoubleDelta, ZSTD(1))",
      'run UInt64',
      'series_id UInt64 CODEC(ZSTD(1))',
      'stack_hash UInt64 CODEC(ZSTD(1))',
      'value SimpleAggregateFunction(sum, Int64) CODEC(T64, ZSTD(1))',
      "snapshots AggregateFunction(uniqExact, DateTime64(3, 'UTC')) CODEC(ZSTD(1))",
    ],
    engine: 'AggregatingMergeTree',
    clauses: [
      'PARTITION BY toDate(bucket)',
      'ORDER BY (tenant, service, type, bucket, run, series_id, stack_hash)',
      `TTL bucket + INTERVAL ${o.retentionDays} DAY`,
    ],
  }
  const runs: TableSpec = {
    name: ROLLUP.runsTable,
    columns: [
      "bucket DateTime('UTC')",
      'run UInt64',
      "started DateTime64(3, 'UTC')",
      "finished DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC')",
    ],
    engine: 'MergeTree',
    clauses: ['ORDER BY (bucket, run)', `TTL bucket + INTERVAL ${o.retentionDays + 1} DAY`],
    shardingKey: 'cityHash64(bucket)',
  }
  const dirty: TableSpec = {
    name: ROLLUP.dirtyTable,
    columns: ["bucket DateTime('UTC')", "until DateTime64(3, 'UTC')"],
    engine: 'MergeTree',
    clauses: ['ORDER BY (bucket, until)', `TTL bucket + INTERVAL ${o.retentionDays + 1} DAY`],
    shardingKey: 'cityHash64(bucket)',
  }
  const sync = o.cluster === undefined ? '' : ' SETTINGS insert_distributed_sync = 1'
  return [
    `DROP VIEW IF EXISTS ${db}.${LEGACY_ROLLUP.view}${onCluster(o)}`,
    `INSERT INTO ${db}.${LEGACY_ROLLUP.coverageTable} (name, complete_from)${sync}
VALUES ('${LEGACY_ROLLUP.table}', toDateTime('2105-12-31 00:00:00', 'UTC'))`,
    ...createTable(rollup, o),
    ...createTable(runs, o),
    ...createTable(dirty, o),
  ]
}

/** Which migrations a store has, read by every Kiln server at start. */
const MIGRATIONS_TABLE: TableSpec = {
  name: 'schema_migrations',
  columns: ['version UInt32', 'name String', "applied_at DateTime('UTC') DEFAULT now()"],
  engine: 'MergeTree',
  clauses: ['ORDER BY version'],
  shardingKey: 'version',
}

/**
 * Versioned migrations, applied in order on start and recorded in `schema_migrations`. Never
 * change what a released migration creates; add the next one, and only add (a table, a column
 * with a default): during a rolling update, servers of the previous version keep running on it.
 */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    statements: (o) => initialTables(o.retentionDays).flatMap((table) => createTable(table, o)),
  },
  {
    version: 2,
    name: 'alerts and findings',
    statements: alertsStatements,
  },
  {
    version: 3,
    name: 'hourly rollup of samples',
    statements: rollupTables,
  },
  {
    version: 4,
    name: 'agent stats',
    statements: (o) => createTable(agentStatsTable(o.retentionDays), o),
  },
  {
    version: 5,
    name: 'upload of each sample, instance of each series',
    statements: exactlyOnceColumns,
  },
  {
    version: 6,
    name: 'agent check-ins and duty cycles',
    statements: scheduleTables,
  },
  {
    version: 7,
    name: 'alert mapping, selector, Grafana links and values',
    statements: alertMappingColumns,
  },
  {
    version: 8,
    name: 'samples of traces',
    statements: traceSamplesTable,
  },
  {
    version: 9,
    name: 'hourly rollup on a schedule',
    statements: scheduledRollupTables,
  },
]

/** The database and the migrations table, created before any migration runs. */
export function bootstrapStatements(o: SchemaOptions): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${o.database}${onCluster(o)}`,
    ...createTable(MIGRATIONS_TABLE, o),
  ]
}

/**
 * Every statement that builds a fresh store, in order, as one script (what `migrate` runs on an
 * empty store). `deploy/clickhouse/schema-cluster.sql` is this for a cluster.
 */
export function schemaScript(o: SchemaOptions): string {
  const statements = [...bootstrapStatements(o), ...MIGRATIONS.flatMap((m) => m.statements(o))]
  return statements.map((s) => `${s};\n`).join('\n')
}

/**
 * Refuse a database laid out for the other mode. A single server's plain tables cannot become
 * replicated in place, and every `CREATE ... IF NOT EXISTS` would quietly keep them: switching
 * to a cluster means a new database (see deploy/README.md, "Scaling").
 */
async function checkLayout(client: ClickHouseClient, options: SchemaOptions): Promise<void> {
  const result = await client.query({
    query: `SELECT engine FROM system.tables
      WHERE database = {database:String} AND name = 'schema_migrations'`,
    query_params: { database: options.database },
    format: 'JSONEachRow',
  })
  const [table] = await result.json<{ engine: string }>()
  if (!table) return
  const clustered = table.engine === 'Distributed'
  if (clustered === (options.cluster !== undefined)) return
  throw new Error(
    clustered
      ? `database ${options.database} holds cluster tables: set KILN_CLICKHOUSE_CLUSTER to their cluster`
      : `database ${options.database} holds single-server tables, which cannot become replicated: ` +
          'point KILN_CLICKHOUSE_DATABASE at a new database for the cluster (deploy/README.md)',
  )
}

/**
 * The embedded store's merge policy for the tables every upload writes. Under steady ingest of
 * small parts (one per flush), ClickHouse's default merge selector (`merge_selector_base` 5)
 * rewrote each sample row 7 to 10 times in background merges, a third of the server's CPU at
 * full load; base 10 rewrites it 3 to 4 times, for about twice the parts per partition
 * (bench/README.md, "Ingest speed": merges). Set on every start, an ALTER of settings only; a
 * ClickHouse server by URL keeps its operator's policy.
 */
export const EMBEDDED_MERGE_SETTINGS = { merge_selector_base: 10 } as const
export const EMBEDDED_MERGE_TABLES = ['samples', 'profiles', 'trace_samples'] as const

export async function tuneEmbeddedMerges(
  client: ClickHouseClient,
  database: string,
): Promise<void> {
  const settings = Object.entries(EMBEDDED_MERGE_SETTINGS)
    .map(([name, value]) => `${name} = ${value}`)
    .join(', ')
  for (const table of EMBEDDED_MERGE_TABLES) {
    await client.command({ query: `ALTER TABLE ${database}.${table} MODIFY SETTING ${settings}` })
  }
}

/** Create the database and apply every migration not yet recorded. Returns the versions applied. */
export async function migrate(client: ClickHouseClient, options: SchemaOptions): Promise<number[]> {
  const db = options.database
  await checkLayout(client, options)
  for (const statement of bootstrapStatements(options)) await client.command({ query: statement })
  const result = await client.query({
    query: `SELECT version FROM ${db}.schema_migrations`,
    format: 'JSONEachRow',
  })
  const done = new Set((await result.json<{ version: number }>()).map((r) => Number(r.version)))
  const applied: number[] = []
  for (const migration of MIGRATIONS) {
    if (done.has(migration.version)) continue
    for (const statement of migration.statements(options)) {
      await client.command({ query: statement })
    }
    await client.insert({
      table: `${db}.schema_migrations`,
      values: [{ version: migration.version, name: migration.name }],
      format: 'JSONEachRow',
      // The record must be on its shard before the next server's start reads it.
      ...(options.cluster === undefined
        ? {}
        : { clickhouse_settings: { insert_distributed_sync: 1 } }),
    })
    applied.push(migration.version)
  }
  return applied
}
