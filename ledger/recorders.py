"""The ledger's recorders: the library's, plus the log chain (:mod:`ledger.log_chain`) written
in the same transaction as the events, under the same write lock.

Each ``insert_events`` takes the write lock first, reads the log's head, stamps the events'
``recorded_at`` at commit (never before the head's), stores them at the positions that follow
the head without a gap, and writes their ``event_log`` rows. A ledger made before the log
chain gets its rows once, when it is opened.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

from ledger.log_chain import LOG_TABLE, LogRow, as_row, rebuild_rows, seal

CHUNK = 2000
REBUILD_PAGE = 10_000


def _now(kwargs: dict[str, Any]) -> datetime:
    moment = kwargs.get("recorded_at")
    return moment if isinstance(moment, datetime) else datetime.now(UTC)


def _restamped(stored: Sequence[StoredEvent], states: list[bytes]) -> list[StoredEvent]:
    return [StoredEvent(s.originator_id, s.originator_version, s.topic, state)
            for s, state in zip(stored, states, strict=True)]


def _check_positions(expected: int, got: Sequence[int] | None, count: int) -> list[int]:
    positions = list(got or ())
    if positions != list(range(expected, expected + count)):
        raise IntegrityError(f"the store gave positions {positions[:3]}… where the log "
                             f"expected {expected}…{expected + count - 1}")
    return positions


class LogChainReader:
    """What ``dossier verify`` needs of a recorder: the log rows in position order."""

    def select_log(self, start: int, limit: int) -> list[LogRow]:
        raise NotImplementedError


class SealedSQLiteApplicationRecorder(SQLiteApplicationRecorder, LogChainReader):
    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(),
                f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} (position INTEGER PRIMARY KEY, "
                "recorded_at TEXT NOT NULL, event_hash TEXT NOT NULL, log_hash TEXT NOT NULL)"]

    def create_table(self) -> None:
        super().create_table()
        self._seal_unsealed()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any
                      ) -> Sequence[int] | None:
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")  # the write lock before the head is read
            try:
                previous = self._head(cursor)
                first = self._max_notification_id(cursor) or 0
                states, rows = seal(previous, first + 1, [s.state for s in stored_events],
                                    _now(kwargs))
                got = self._insert_events(cursor, _restamped(stored_events, states))
                positions = _check_positions(first + 1, got, len(stored_events))
                cursor.executemany(f"INSERT INTO {LOG_TABLE} VALUES (?,?,?,?)",
                                   [r.as_tuple() for r in rows])
            except sqlite3.IntegrityError as error:
                conn.rollback()
                raise IntegrityError(error) from error
            except sqlite3.OperationalError as error:
                conn.rollback()
                raise OperationalError(error) from error
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        return positions

    def select_log(self, start: int, limit: int) -> list[LogRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT position, recorded_at, event_hash, log_hash FROM {LOG_TABLE} "
                      "WHERE position >= ? ORDER BY position LIMIT ?", (start, limit))
            return [as_row(tuple(row)) for row in c.fetchall()]

    def _head(self, cursor: Any) -> LogRow | None:
        cursor.execute(f"SELECT position, recorded_at, event_hash, log_hash FROM {LOG_TABLE} "
                       "ORDER BY position DESC LIMIT 1")
        row = cursor.fetchone()
        return None if row is None else as_row(tuple(row))

    def _seal_unsealed(self) -> None:
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                previous = self._head(cursor)
                while True:
                    after = previous.position if previous else 0
                    cursor.execute(f"SELECT rowid, state FROM {self.events_table_name} "
                                   "WHERE rowid > ? ORDER BY rowid LIMIT ?",
                                   (after, REBUILD_PAGE))
                    rows = rebuild_rows([(r[0], r[1]) for r in cursor.fetchall()], previous)
                    if not rows:
                        break
                    cursor.executemany(f"INSERT INTO {LOG_TABLE} VALUES (?,?,?,?)",
                                       [r.as_tuple() for r in rows])
                    previous = rows[-1]
            except BaseException:
                conn.rollback()
                raise
            conn.commit()


class SealedPostgresApplicationRecorder(PostgresApplicationRecorder, LogChainReader):
    """Large appends (a whole imported file in one transaction) go in chunks: the library's
    single pipelined statement stalls with tens of thousands of events."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {0}.{1} (position bigint PRIMARY KEY, "
            "recorded_at text NOT NULL, event_hash text NOT NULL, log_hash text NOT NULL)"
        ).format(Identifier(self.datastore.schema), Identifier(LOG_TABLE)))

    def create_table(self) -> None:
        super().create_table()
        self._seal_unsealed()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any
                      ) -> Sequence[int] | None:
        positions: list[int] = []
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            previous = self._head(curs)
            first = self._restart_positions(curs)
            states, rows = seal(previous, first + 1, [s.state for s in stored_events],
                                _now(kwargs))
            stamped = _restamped(stored_events, states)
            for start in range(0, len(stamped), CHUNK):
                chunk = stamped[start:start + CHUNK]
                PostgresAggregateRecorder._insert_stored_events(self, curs, chunk)
                positions.extend(self._fetch_ids_after_insert_events(curs, chunk) or ())
            _check_positions(first + 1, positions, len(stamped))
            self._insert_log(curs, rows)
        return positions

    def select_log(self, start: int, limit: int) -> list[LogRow]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL(
                "SELECT position, recorded_at, event_hash, log_hash FROM {0}.{1} "
                "WHERE position >= %s ORDER BY position LIMIT %s"
            ).format(Identifier(self.datastore.schema), Identifier(LOG_TABLE)), (start, limit))
            return [as_row(tuple(row.values())) for row in curs.fetchall()]

    def _log(self) -> Any:
        return Identifier(self.datastore.schema), Identifier(LOG_TABLE)

    def _head(self, curs: Any) -> LogRow | None:
        curs.execute(SQL("SELECT position, recorded_at, event_hash, log_hash FROM {0}.{1} "
                         "ORDER BY position DESC LIMIT 1").format(*self._log()))
        row = curs.fetchone()
        return None if row is None else as_row(tuple(row.values()))

    def _restart_positions(self, curs: Any) -> int:
        """The last position; the next one given is the one after it, with no gap (a failed
        insert consumed sequence numbers nobody holds: under the table lock they are given
        again)."""
        table = Identifier(self.datastore.schema), Identifier(self.events_table_name)
        curs.execute(SQL("SELECT COALESCE(MAX(notification_id), 0) AS n FROM {0}.{1}"
                         ).format(*table))
        last = int(curs.fetchone()["n"])
        curs.execute(SQL("SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), "
                         "%s, %s)"), (f"{self.datastore.schema}.{self.events_table_name}",
                                      max(last, 1), last > 0))
        return last

    def _insert_log(self, curs: Any, rows: list[LogRow]) -> None:
        curs.executemany(SQL("INSERT INTO {0}.{1} VALUES (%s, %s, %s, %s)"
                             ).format(*self._log()), [r.as_tuple() for r in rows])

    def _seal_unsealed(self) -> None:
        table = Identifier(self.datastore.schema), Identifier(self.events_table_name)
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            previous = self._head(curs)
            while True:
                after = previous.position if previous else 0
                curs.execute(SQL("SELECT notification_id, state FROM {0}.{1} WHERE "
                                 "notification_id > %s ORDER BY notification_id LIMIT %s"
                                 ).format(*table), (after, REBUILD_PAGE))
                rows = rebuild_rows([(r["notification_id"], bytes(r["state"]))
                                     for r in curs.fetchall()], previous)
                if not rows:
                    break
                self._insert_log(curs, rows)
                previous = rows[-1]


class SealedPOPOApplicationRecorder(POPOApplicationRecorder, LogChainReader):
    """In memory (tests): the same log rows, kept in a list."""

    def __init__(self) -> None:
        super().__init__()
        self._log: list[LogRow] = []

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any
                      ) -> Sequence[int] | None:
        with self._database_lock:
            first = len(self._stored_events)
            previous = self._log[-1] if self._log else None
            states, rows = seal(previous, first + 1, [s.state for s in stored_events],
                                _now(kwargs))
            positions = super().insert_events(_restamped(stored_events, states))
            _check_positions(first + 1, positions, len(stored_events))
            self._log.extend(rows)
        return positions

    def select_log(self, start: int, limit: int) -> list[LogRow]:
        with self._database_lock:
            return self._log[max(start, 1) - 1:max(start, 1) - 1 + limit]
