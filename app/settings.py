"""Settings from the environment (prefix ``DOSSIER_``), read once by the composition root."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Store(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"
    MEMORY = "memory"


class Settings(BaseSettings):
    """Where the ledger and the analytics live, and how they behave."""

    model_config = SettingsConfigDict(env_prefix="DOSSIER_", extra="ignore")

    data_dir: Path = Field(Path("./data"), description="directory of the embedded stores")
    store: Store | None = Field(
        None, description="ledger store; default: postgres when pg_dsn is set, else sqlite"
    )
    pg_dsn: str | None = Field(None, description="PostgreSQL DSN of the production ledger")
    clickhouse_url: str | None = Field(
        None, description="ClickHouse server URL; default: chDB under <data_dir>/olap"
    )
    pseudonym_key: str = Field(
        "change-me", description="key of the keyed hash that pseudonymises applicant references"
    )
    weekend_workdays: bool = Field(
        False, description="count make-up Saturdays (ngày làm bù) as working days"
    )
    signing_key_file: Path | None = Field(
        None, description="the checkpoint signing key; default: <data_dir>/signing.key"
    )
    personal_data_key_file: Path | None = Field(
        None, description="the key that seals personal data at rest (docs/personal-data.md); "
        "unset: personal data is stored in clear"
    )
    personal_keys_file: Path | None = Field(
        None, description="the data subjects' keys; default: <data_dir>/personal-keys.sqlite"
    )
    kafka_url: str | None = Field(
        None, description="Kafka bootstrap servers of `dossier stream`, e.g. 127.0.0.1:9092"
    )
    kafka_topic: str = Field("dossier-events", description="the topic the relay publishes to")
    kafka_partitions: int = Field(
        4, ge=1, description="partitions of the topic when the relay creates it"
    )
    kafka_group: str = Field(
        "dossier-workers", description="the consumer group of `dossier stream worker`"
    )
    worker_state_dir: Path | None = Field(
        None, description="the workers' RocksDB state; default: <data_dir>/worker-state"
    )

    @property
    def ledger_store(self) -> Store:
        if self.store is not None:
            return self.store
        return Store.POSTGRES if self.pg_dsn else Store.SQLITE

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "ledger.sqlite"

    @property
    def olap_path(self) -> Path:
        return self.data_dir / "olap"

    @property
    def worker_state_path(self) -> Path:
        return self.worker_state_dir or self.data_dir / "worker-state"

    @property
    def signing_key_path(self) -> Path:
        return self.signing_key_file or self.data_dir / "signing.key"

    @property
    def personal_keys_path(self) -> Path:
        return self.personal_keys_file or self.data_dir / "personal-keys.sqlite"
