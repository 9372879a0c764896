-- generated from projections/clickhouse/schema.py; do not edit
CREATE TABLE IF NOT EXISTS score_history
(
    rulebook_id      LowCardinality(String),
    rulebook_version UInt32,
    unit             String,
    kind             LowCardinality(String),
    period           String,
    total            Float64,
    band             LowCardinality(String),
    rank             Nullable(UInt32),
    group_codes      Array(LowCardinality(String)),
    group_points     Array(Float64),
    indicators       Array(LowCardinality(String)),
    indicator_groups Array(LowCardinality(String)),
    applicable       Array(Bool),
    numerators       Array(Nullable(Int64)),
    denominators     Array(Nullable(Int64)),
    ratios           Array(Nullable(Float64)),
    points           Array(Nullable(Float64)),
    max_points       Array(Float64),
    position         UInt64,
    as_of            DateTime64(6, 'UTC'),
    evaluated_at     DateTime64(6, 'UTC'),
    computed_at      DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
ORDER BY (rulebook_id, unit, period, position, as_of)
COMMENT 'One row per unit score written when the score itself changed (not its rank alone: rankings_current holds the current rank; this row the rank when the score changed), its indicators in parallel arrays; a re-run at the same position and as_of replaces, never duplicates';
