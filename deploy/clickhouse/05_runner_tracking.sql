-- generated from projections/clickhouse/schema.py; do not edit
CREATE TABLE IF NOT EXISTS runner_tracking
(
    runner     LowCardinality(String),
    position   UInt64,
    written_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(position)
ORDER BY (runner)
COMMENT 'The last ledger position whose rows are all written; written after the data rows';
