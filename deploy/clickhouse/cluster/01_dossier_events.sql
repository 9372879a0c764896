-- generated from projections/clickhouse/schema.py (projections/clickhouse/cluster.py); do not edit
CREATE TABLE IF NOT EXISTS dossier_events_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (position)
COMMENT 'Every ledger event; applicant_ref pseudonymised (HMAC-SHA256); data is JSON';

CREATE TABLE IF NOT EXISTS dossier_events ON CLUSTER '{cluster}'
AS dossier_events_local
ENGINE = Distributed('{cluster}', currentDatabase(), dossier_events_local, intHash64(position));
