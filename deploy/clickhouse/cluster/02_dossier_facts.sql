-- generated from projections/clickhouse/schema.py (projections/clickhouse/cluster.py); do not edit
CREATE TABLE IF NOT EXISTS dossier_facts_local ON CLUSTER '{cluster}'
(
    dossier_id              String,
    code                    String,
    procedure               String,
    unit                    LowCardinality(String),
    province                LowCardinality(String),
    channel                 LowCardinality(String),
    applicant_kind          LowCardinality(String),
    submitted_at            Nullable(DateTime64(6, 'UTC')),
    received_at             Nullable(DateTime64(6, 'UTC')),
    refused                 Bool,
    due_at                  Nullable(DateTime64(6, 'UTC')),
    end_at                  Nullable(DateTime64(6, 'UTC')),
    adjusted_end_at         Nullable(DateTime64(6, 'UTC')),
    status                  LowCardinality(String),
    on_time                 Nullable(Bool),
    processing_working_days Nullable(Int32),
    statutory_days          Nullable(Int32),
    paid_online             Bool,
    digitized               Bool,
    reused                  Bool,
    personal_store          Bool,
    population_db           Bool,
    electronic_result       Bool,
    synced                  Bool,
    rated_satisfied         Nullable(Bool),
    named_by_petition       Bool,
    five_on_the_spot        Bool,
    evaluated_at            DateTime64(6, 'UTC'),
    position                UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', position)
ORDER BY (dossier_id)
COMMENT 'Current facts of each dossier at evaluated_at; latest ledger position wins';

CREATE TABLE IF NOT EXISTS dossier_facts ON CLUSTER '{cluster}'
AS dossier_facts_local
ENGINE = Distributed('{cluster}', currentDatabase(), dossier_facts_local, cityHash64(dossier_id));
