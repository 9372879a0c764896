-- generated from projections/clickhouse/schema.py (projections/clickhouse/cluster.py); do not edit
CREATE TABLE IF NOT EXISTS runner_tracking_local ON CLUSTER '{cluster}'
(
    runner     LowCardinality(String),
    position   UInt64,
    written_at DateTime64(6, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', position)
ORDER BY (runner)
COMMENT 'The last ledger position whose rows are all written; written after the data rows';

CREATE TABLE IF NOT EXISTS runner_tracking ON CLUSTER '{cluster}'
AS runner_tracking_local
ENGINE = Distributed('{cluster}', currentDatabase(), runner_tracking_local, cityHash64(runner));
