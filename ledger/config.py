"""Where the ledger's events are stored: in memory, a SQLite file, or PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

StoreKind = Literal["memory", "sqlite", "postgres"]


@dataclass(frozen=True)
class StoreConfig:
    kind: StoreKind = "sqlite"
    sqlite_path: Path | None = None
    pg_dsn: str | None = None
    pg_schema: str | None = None

    def environment(self) -> dict[str, str]:
        """The eventsourcing persistence settings for this store."""
        env = {"ORIGINATOR_ID_TYPE": "text", "AGGREGATE_CACHE_MAXSIZE": "0"}
        if self.kind == "memory":
            env["PERSISTENCE_MODULE"] = "eventsourcing.popo"
        elif self.kind == "sqlite":
            if self.sqlite_path is None:
                raise ValueError("a SQLite ledger needs a file path")
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            env |= {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.sqlite_path),
                "SQLITE_LOCK_TIMEOUT": "30",
                "APPLICATION_RECORDER_TOPIC":
                    "ledger.recorders:SealedSQLiteApplicationRecorder",
            }
        elif self.kind == "postgres":
            env |= postgres_environment(self.pg_dsn or "")
            if self.pg_schema:
                env["POSTGRES_SCHEMA"] = self.pg_schema
        else:
            raise ValueError(f"unknown store kind {self.kind!r}")
        return env

    def scratch_directory(self) -> Path | None:
        """Where an import's staged events wait for its commit: beside the SQLite file (its
        filesystem has room for the ledger), else the system's temporary directory."""
        return self.sqlite_path.parent if self.kind == "sqlite" and self.sqlite_path else None

    def describe(self) -> str:
        if self.kind == "sqlite":
            return f"SQLite file {self.sqlite_path}"
        if self.kind == "postgres":
            return f"PostgreSQL {redact(self.pg_dsn or '')}"
        return "memory"


def postgres_environment(dsn: str) -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    if not dsn:
        raise ValueError("a PostgreSQL ledger needs a DSN (DOSSIER_PG_DSN)")
    parts = conninfo_to_dict(dsn)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(parts.get("dbname", "postgres")),
        "POSTGRES_HOST": str(parts.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(parts.get("port", "5432")),
        "POSTGRES_USER": str(parts.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(parts.get("password", "")),
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_LOCK_TIMEOUT": "10",
        # A whole file is imported in one transaction, its chunks read back from disk and
        # sealed between statements: the library's 5 s would end a large import on a busy
        # machine.
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "120",
        "APPLICATION_RECORDER_TOPIC": "ledger.recorders:SealedPostgresApplicationRecorder",
    }
    return env


def redact(dsn: str) -> str:
    import re

    return re.sub(r"(password=|:)[^@\s]+@", r"\1***@", dsn)
