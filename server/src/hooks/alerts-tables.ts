import type { TableSpec } from '../store/schema.js'

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
export function alertsTables(retentionDays: number): TableSpec[] {
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
