"""What the Kafka relay's broker acknowledged, kept in the ledger's own database (SQLite or
PostgreSQL; in memory for tests): one ``relay_tracking`` row per topic."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.application import DossierLedger

TABLE = "relay_tracking"
COLUMNS = ("topic", "position", "end_offsets", "broker", "recorded_at")


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """Every event up to ``position`` was acknowledged by the broker (acks=all) on ``topic``;
    ``end_offsets`` are the topic's partitions' end offsets read right after that batch."""

    topic: str
    position: int = 0
    end_offsets: dict[int, int] = field(default_factory=dict)
    broker: str = ""
    recorded_at: str = ""

    def row(self) -> tuple[str, int, str, str, str]:
        offsets = {str(p): o for p, o in sorted(self.end_offsets.items())}
        return (self.topic, self.position, orjson.dumps(offsets).decode(), self.broker,
                self.recorded_at)


def _from_row(row: tuple[Any, ...]) -> Acknowledged:
    topic, position, offsets, broker, recorded_at = row
    return Acknowledged(str(topic), int(position),
                        {int(p): int(o) for p, o in orjson.loads(offsets).items()},
                        str(broker), str(recorded_at))


def now_text() -> str:
    return datetime.now(UTC).isoformat()


class RelayTracking:
    """The acknowledged position of each topic; :meth:`save` is one transaction."""

    def ensure(self) -> None:
        """Create the table when missing (called once when the relay starts)."""
        raise NotImplementedError

    def load(self, topic: str) -> Acknowledged:
        """The last acknowledged batch on ``topic`` (position 0: nothing yet)."""
        raise NotImplementedError

    def save(self, acknowledged: Acknowledged) -> None:
        """Replace the topic's row, in one transaction."""
        raise NotImplementedError


class SQLiteRelayTracking(RelayTracking):
    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self.datastore = recorder.datastore

    def ensure(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (topic TEXT PRIMARY KEY, "
                           "position INTEGER NOT NULL, end_offsets TEXT NOT NULL, "
                           "broker TEXT NOT NULL, recorded_at TEXT NOT NULL)")

    def load(self, topic: str) -> Acknowledged:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE topic = ?",
                           (topic,))
            row = cursor.fetchone()
        return Acknowledged(topic) if row is None else _from_row(tuple(row))

    def save(self, acknowledged: Acknowledged) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES (?,?,?,?,?) "
                           "ON CONFLICT (topic) DO UPDATE SET position = excluded.position, "
                           "end_offsets = excluded.end_offsets, broker = excluded.broker, "
                           "recorded_at = excluded.recorded_at", acknowledged.row())


class PostgresRelayTracking(RelayTracking):
    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        from psycopg.sql import Identifier

        self.datastore = recorder.datastore
        self.named = Identifier(recorder.datastore.schema), Identifier(TABLE)

    def ensure(self) -> None:
        from psycopg.sql import SQL

        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(SQL("CREATE TABLE IF NOT EXISTS {0}.{1} (topic text PRIMARY KEY, "
                               "position bigint NOT NULL, end_offsets text NOT NULL, "
                               "broker text NOT NULL, recorded_at text NOT NULL)"
                               ).format(*self.named))

    def load(self, topic: str) -> Acknowledged:
        from psycopg.sql import SQL

        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(SQL(f"SELECT {', '.join(COLUMNS)} FROM {{0}}.{{1}} "
                               "WHERE topic = %s").format(*self.named), (topic,))
            row = cursor.fetchone()
        return Acknowledged(topic) if row is None else _from_row(tuple(row.values()))

    def save(self, acknowledged: Acknowledged) -> None:
        from psycopg.sql import SQL

        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(SQL(f"INSERT INTO {{0}}.{{1}} ({', '.join(COLUMNS)}) VALUES "
                               "(%s, %s, %s, %s, %s) ON CONFLICT (topic) DO UPDATE SET "
                               "position = excluded.position, end_offsets = "
                               "excluded.end_offsets, broker = excluded.broker, "
                               "recorded_at = excluded.recorded_at").format(*self.named),
                           acknowledged.row())


class MemoryRelayTracking(RelayTracking):
    """Beside an in-memory ledger (tests): gone with the process, as the ledger is."""

    def __init__(self) -> None:
        self._rows: dict[str, Acknowledged] = {}
        self._lock = threading.Lock()

    def ensure(self) -> None:
        pass

    def load(self, topic: str) -> Acknowledged:
        with self._lock:
            return self._rows.get(topic, Acknowledged(topic))

    def save(self, acknowledged: Acknowledged) -> None:
        with self._lock:
            self._rows[acknowledged.topic] = acknowledged


def tracking_for(ledger: DossierLedger) -> RelayTracking:
    """The tracking table in the database that holds ``ledger``."""
    recorder = ledger.recorder
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLiteRelayTracking(recorder)
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresRelayTracking(recorder)
    if isinstance(recorder, POPOApplicationRecorder):
        return MemoryRelayTracking()
    raise TypeError(f"no relay tracking for a {type(recorder).__name__}")
