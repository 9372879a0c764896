-- generated from projections/clickhouse/schema.py (projections/clickhouse/cluster.py); do not edit
CREATE TABLE IF NOT EXISTS rankings_current_local ON CLUSTER '{cluster}'
(
    rulebook_id      LowCardinality(String),
    rulebook_version UInt32,
    kind             LowCardinality(String),
    peer_group       LowCardinality(String),
    period           String,
    unit             String,
    unit_name        String,
    total            Float64,
    total_display    Decimal(9, 2),
    band             LowCardinality(String),
    rank             Nullable(UInt32),
    score_json       String,
    position         UInt64,
    checkpoint       UInt64,
    as_of            DateTime64(6, 'UTC'),
    evaluated_at     DateTime64(6, 'UTC'),
    computed_at      DateTime64(6, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', position)
ORDER BY (rulebook_id, kind, period, unit)
COMMENT 'Latest score and rank of each unit per rulebook, kind and period (read with FINAL); checkpoint: the size of the signed checkpoint of the ledger covering its position (0: none)';

CREATE TABLE IF NOT EXISTS rankings_current ON CLUSTER '{cluster}'
AS rankings_current_local
ENGINE = Distributed('{cluster}', currentDatabase(), rankings_current_local, cityHash64(unit));
