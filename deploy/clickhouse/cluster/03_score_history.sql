-- generated from projections/clickhouse/schema.py (projections/clickhouse/cluster.py); do not edit
CREATE TABLE IF NOT EXISTS score_history_local ON CLUSTER '{cluster}'
(
    rulebook_id      LowCardinality(String),
    rulebook_version UInt32,
    unit             String,
    kind             LowCardinality(String),
    period           String,
    group_code       LowCardinality(String),
    indicator        LowCardinality(String),
    applicable       Bool,
    numerator        Nullable(Int64),
    denominator      Nullable(Int64),
    ratio            Nullable(Float64),
    points           Nullable(Float64),
    max_points       Float64,
    group_points     Float64,
    total            Float64,
    band             LowCardinality(String),
    rank             Nullable(UInt32),
    position         UInt64,
    as_of            DateTime64(6, 'UTC'),
    evaluated_at     DateTime64(6, 'UTC'),
    computed_at      DateTime64(6, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', computed_at)
ORDER BY (rulebook_id, unit, period, position, as_of, indicator)
COMMENT 'One row per indicator per score recomputation; a re-run at the same position and as_of replaces, never duplicates';

CREATE TABLE IF NOT EXISTS score_history ON CLUSTER '{cluster}'
AS score_history_local
ENGINE = Distributed('{cluster}', currentDatabase(), score_history_local, cityHash64(unit));
