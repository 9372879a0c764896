-- generated from projections/clickhouse/schema.py; do not edit
CREATE TABLE IF NOT EXISTS dossier_events
(
    position    UInt64,
    stream      LowCardinality(String),
    id          String,
    seq         UInt32,
    type        LowCardinality(String),
    at          DateTime64(6, 'UTC'),
    recorded_at DateTime64(6, 'UTC'),
    prev_hash   String,
    hash        String,
    data        String
)
ENGINE = ReplacingMergeTree
ORDER BY (position)
COMMENT 'Every ledger event; applicant_ref pseudonymised (HMAC-SHA256); data is JSON';
