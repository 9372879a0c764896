-- generated from projections/clickhouse/schema.py (projections/clickhouse/cluster.py); do not edit
CREATE TABLE IF NOT EXISTS runner_cycles_local ON CLUSTER '{cluster}'
(
    runner         LowCardinality(String),
    started_at     DateTime64(6, 'UTC'),
    first_position UInt64,
    position       UInt64,
    ledger_head    UInt64,
    events         UInt32,
    scores         UInt32,
    rows           UInt32,
    seconds        Float64,
    refresh        Bool,
    error          String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
ORDER BY (runner, started_at)
COMMENT 'One row per runner cycle (wall-clock start): what it covered and wrote, the ledger head it saw, how long it took, the error that ended it; read by the pipeline dashboard';

CREATE TABLE IF NOT EXISTS runner_cycles ON CLUSTER '{cluster}'
AS runner_cycles_local
ENGINE = Distributed('{cluster}', currentDatabase(), runner_cycles_local, cityHash64(runner));
