import { Type, type Static } from '@sinclair/typebox'
import { FINDINGS_CONFIG_PROPERTIES } from '../findings/findings-config.js'

const MiB = 1024 * 1024

/**
 * Every server setting, its default and its environment variable. The README's configuration
 * table is this list; keep them together.
 */
export const ConfigSchema = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', env: 'KILN_HOST', minLength: 1 }),
    port: Type.Integer({ default: 4040, minimum: 0, maximum: 65535, env: 'KILN_PORT' }),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', env: 'KILN_LOG_LEVEL' },
    ),
    dataDir: Type.String({ default: './data', env: 'KILN_DATA_DIR', minLength: 1 }),
    clickhouseUrl: Type.Optional(Type.String({ env: 'KILN_CLICKHOUSE_URL', minLength: 1 })),
    clickhouseUser: Type.Optional(Type.String({ env: 'KILN_CLICKHOUSE_USER' })),
    clickhousePassword: Type.Optional(Type.String({ env: 'KILN_CLICKHOUSE_PASSWORD' })),
    // A ClickHouse identifier interpolated unquoted (`${db}.samples`), not a label name: no dots.
    clickhouseDatabase: Type.String({
      default: 'kiln',
      env: 'KILN_CLICKHOUSE_DATABASE',
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
    }),
    // A `remote_servers` cluster name or a macro such as `{cluster}`; interpolated into DDL.
    // ClickHouse's names, not label names (those are `@kiln/wire`'s LABEL_NAME_PATTERN).
    clickhouseCluster: Type.Optional(
      Type.String({
        env: 'KILN_CLICKHOUSE_CLUSTER',
        pattern: '^([A-Za-z0-9_][A-Za-z0-9_.-]*|\\{[A-Za-z_][A-Za-z0-9_]*\\})$',
      }),
    ),
    retentionDays: Type.Integer({ default: 30, minimum: 1, env: 'KILN_RETENTION_DAYS' }),
    // Samples of traces (trace and span ids, `trace_samples`); at most the retention. Read when
    // the store's tables are created: changing it later needs an ALTER TABLE ... MODIFY TTL.
    traceRetentionDays: Type.Integer({ default: 7, minimum: 1, env: 'KILN_TRACE_RETENTION_DAYS' }),
    // A tracing UI's trace page, for links from Kiln's traces: `{traceId}` (and `{from}`, `{to}`
    // in Unix ms) are filled in, e.g. `http://jaeger:16686/trace/{traceId}`.
    tracingUrl: Type.Optional(
      Type.String({ pattern: '^https?://', maxLength: 2048, env: 'KILN_TRACING_URL' }),
    ),
    // Rows of (trace, span, series, stack) one profile may add to `trace_samples`; the samples
    // past it are stored without their trace (flame graphs keep every sample).
    maxTraceRowsPerProfile: Type.Integer({
      default: 100_000,
      minimum: 0,
      env: 'KILN_MAX_TRACE_ROWS_PER_PROFILE',
    }),
    uiDir: Type.Optional(Type.String({ env: 'KILN_UI_DIR' })),
    maxBodyBytes: Type.Integer({ default: 16 * MiB, minimum: 1024, env: 'KILN_MAX_BODY_BYTES' }),
    maxDecompressedBytes: Type.Integer({
      default: 128 * MiB,
      minimum: 1024,
      env: 'KILN_MAX_DECOMPRESSED_BYTES',
    }),
    maxSamplesPerProfile: Type.Integer({
      default: 500_000,
      minimum: 1,
      env: 'KILN_MAX_SAMPLES_PER_PROFILE',
    }),
    maxStackDepth: Type.Integer({ default: 1024, minimum: 1, env: 'KILN_MAX_STACK_DEPTH' }),
    maxLabels: Type.Integer({ default: 64, minimum: 0, env: 'KILN_MAX_LABELS' }),
    maxLabelNameLength: Type.Integer({
      default: 128,
      minimum: 1,
      env: 'KILN_MAX_LABEL_NAME_LENGTH',
    }),
    maxLabelValueLength: Type.Integer({
      default: 1024,
      minimum: 1,
      env: 'KILN_MAX_LABEL_VALUE_LENGTH',
    }),
    tokens: Type.Optional(
      Type.String({
        env: 'KILN_TOKENS',
        description: 'scoped tokens: `scopes[@tenants]=token`, comma-separated (SECURITY.md)',
      }),
    ),
    tokensFile: Type.Optional(
      Type.String({
        env: 'KILN_TOKENS_FILE',
        minLength: 1,
        description: 'a file of scoped tokens, one `scopes[@tenants]=token` a line',
      }),
    ),
    authTokens: Type.Optional(
      Type.String({
        env: 'KILN_AUTH_TOKENS',
        description: 'comma-separated tokens with every scope (the first form of tokens)',
      }),
    ),
    authQueries: Type.Boolean({ default: false, env: 'KILN_AUTH_QUERIES' }),
    multiTenant: Type.Boolean({ default: false, env: 'KILN_MULTI_TENANT' }),
    rateLimitIngestPerMinute: Type.Integer({
      default: 15_000,
      minimum: 0,
      env: 'KILN_RATE_LIMIT_INGEST_PER_MINUTE',
    }),
    rateLimitQueryPerMinute: Type.Integer({
      default: 1200,
      minimum: 0,
      env: 'KILN_RATE_LIMIT_QUERY_PER_MINUTE',
    }),
    authFailuresPerMinute: Type.Integer({
      default: 60,
      minimum: 1,
      env: 'KILN_AUTH_FAILURES_PER_MINUTE',
    }),
    trustProxy: Type.Boolean({ default: false, env: 'KILN_TRUST_PROXY' }),
    maxFutureSkewMs: Type.Integer({ default: 600_000, minimum: 0, env: 'KILN_MAX_FUTURE_SKEW_MS' }),
    maxIngestInFlight: Type.Integer({
      // 256: the uploads in flight are what a flush can batch, and a flush costs chDB about the
      // same whatever its size: 256 senders got 442-526 medium profiles/s stored with 256
      // against 292 with 64 (bench/README.md, "Ingest speed: Native rows, bigger batches").
      // Memory stays bounded by KILN_MAX_INGEST_IN_FLIGHT_BYTES and the rows waiting for the
      // store.
      default: 256,
      minimum: 1,
      env: 'KILN_MAX_INGEST_IN_FLIGHT',
    }),
    maxIngestInFlightBytes: Type.Integer({
      default: 256 * MiB,
      minimum: 1024,
      env: 'KILN_MAX_INGEST_IN_FLIGHT_BYTES',
    }),
    insertBatchWaitMs: Type.Integer({ default: 20, minimum: 0, env: 'KILN_INSERT_BATCH_WAIT_MS' }),
    insertBatchMaxRows: Type.Integer({
      default: 200_000,
      minimum: 1,
      env: 'KILN_INSERT_BATCH_MAX_ROWS',
    }),
    ingestLog: Type.Boolean({
      // The embedded store acknowledges an upload once it is in the ingest log on disk, and
      // inserts behind the answer (bench/README.md, "Ingest speed: the ingest log"); false: the
      // answer waits for the insert. Ignored for a ClickHouse server by URL: every upload waits
      // for its insert there.
      default: true,
      env: 'KILN_INGEST_LOG',
    }),
    ingestLogFlushMs: Type.Integer({
      default: 200,
      minimum: 0,
      maximum: 60_000,
      env: 'KILN_INGEST_LOG_FLUSH_MS',
    }),
    insertConcurrency: Type.Integer({
      // 1: overlapping flushes made chDB slower in total (bench/README.md, "Ingest speed").
      default: 1,
      minimum: 1,
      maximum: 64,
      env: 'KILN_INSERT_CONCURRENCY',
    }),
    rollupIntervalMs: Type.Integer({
      // How often hours that are due are rolled up (0: never; every window is then read raw).
      default: 60_000,
      minimum: 0,
      env: 'KILN_ROLLUP_INTERVAL_MS',
    }),
    rollupLatenessMs: Type.Integer({
      // An hour is rolled up this long after it ended; samples that reach it later are marked.
      default: 20 * 60_000,
      minimum: 0,
      env: 'KILN_ROLLUP_LATENESS_MS',
    }),
    rollupMarginMs: Type.Integer({
      // The longest insert of samples plus the clock skew between Kiln servers on one store.
      default: 5 * 60_000,
      minimum: 0,
      env: 'KILN_ROLLUP_MARGIN_MS',
    }),
    scheduleWindowMs: Type.Integer({
      default: 10_000,
      minimum: 1000,
      maximum: 600_000,
      env: 'KILN_SCHEDULE_WINDOW_MS',
    }),
    scheduleConcurrent: Type.Number({
      default: 1,
      exclusiveMinimum: 0,
      maximum: 10_000,
      env: 'KILN_SCHEDULE_CONCURRENT',
    }),
    scheduleMaxShare: Type.Number({
      default: 0.125,
      exclusiveMinimum: 0,
      maximum: 1,
      env: 'KILN_SCHEDULE_MAX_SHARE',
    }),
    scheduleMinShare: Type.Number({
      default: 1 / 60,
      exclusiveMinimum: 0,
      maximum: 1,
      env: 'KILN_SCHEDULE_MIN_SHARE',
    }),
    scheduleCheckinMs: Type.Integer({
      default: 30_000,
      minimum: 1000,
      maximum: 3_600_000,
      env: 'KILN_SCHEDULE_CHECKIN_MS',
    }),
    ...FINDINGS_CONFIG_PROPERTIES,
  },
  { additionalProperties: false },
)

export type KilnConfig = Readonly<Static<typeof ConfigSchema>>
export type KilnOptions = Partial<Static<typeof ConfigSchema>>
