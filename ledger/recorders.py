"""The ledger's recorders: the library's, plus the log chain (:mod:`ledger.log_chain`) and the
Merkle tree over it (:mod:`ledger.merkle`) written in the same transaction as the events, under
the same write lock.

Each ``insert_chunks`` takes the write lock first, reads the log's head, stamps the events'
``recorded_at`` at commit (never before the head's, nor before the last checkpoint's time),
stores them at the positions that follow the head without a gap, writes their ``event_log``
rows and the Merkle subtrees they complete (``merkle_nodes``) — a chunk at a time, the log's
head and the tree's frontier carried from one chunk to the next, all in one transaction
(``insert_events`` is the same for one list of events). A ledger made before the log
chain or the tree gets them once, when it is opened. Signed checkpoints are kept beside them
(``checkpoints``), taken under the same write lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

from ledger.checkpoints import StoredCheckpoint, stored_checkpoint
from ledger.log_chain import LOG_TABLE, LogRow, as_row, rebuild_rows, seal
from ledger.merkle import Node, TreeView, log_leaf
from ledger.tree_tables import (
    CHECKPOINT_TABLE,
    TREE_TABLE,
    MakeCheckpoint,
    PostgresTree,
    SQLiteTree,
    TreeKeeper,
    plant,
)

CHUNK = 2000
REBUILD_PAGE = 10_000
Chunks = Iterable[Sequence[StoredEvent]]


def _now(moment: datetime | None, floor: str | None = None) -> datetime:
    now = moment if isinstance(moment, datetime) else datetime.now(UTC)
    # never before the last checkpoint: what it did not cover was recorded after it
    return max(now, datetime.fromisoformat(floor)) if floor else now


def _chunked(stored: Sequence[StoredEvent]) -> Chunks:
    return (stored[start:start + CHUNK] for start in range(0, len(stored), CHUNK))


def _sealed(chunks: Chunks, previous: LogRow | None, first: int, now: datetime
            ) -> Iterator[tuple[int, list[StoredEvent], LogRow | None, list[LogRow]]]:
    """Each chunk stamped at ``now`` and chained after the one before it (the first after
    ``previous``, at ``first``): its first position, its events as stored, the log row before
    it and its own rows."""
    position = first
    for chunk in chunks:
        if not chunk:
            continue
        states, rows = seal(previous, position, [s.state for s in chunk], now)
        yield position, _restamped(chunk, states), previous, rows
        position, previous = position + len(chunk), rows[-1]


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
    """What ``dossier verify`` and the proofs need of a recorder: the log rows in position
    order, the Merkle tree over them, the checkpoints."""

    keeps_tree = True  # off only in the benchmark's baseline

    def insert_chunks(self, chunks: Chunks, *, recorded_at: datetime | None = None) -> range:
        """Record the chunks' events in order, in one transaction under the write lock (taken
        before the first chunk is read); their positions."""
        raise NotImplementedError

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any
                      ) -> Sequence[int] | None:
        return list(self.insert_chunks(_chunked(stored_events),
                                       recorded_at=kwargs.get("recorded_at")))

    def select_log(self, start: int, limit: int) -> list[LogRow]:
        raise NotImplementedError

    def tree(self) -> Any:
        """A context giving a :class:`TreeView` of the stored tree (read only)."""
        raise NotImplementedError

    def insert_checkpoint(self, make: MakeCheckpoint) -> StoredCheckpoint:
        """Make a checkpoint under the write lock and keep it."""
        raise NotImplementedError

    def select_checkpoints(self) -> list[StoredCheckpoint]:
        """Every kept checkpoint, smallest tree first."""
        raise NotImplementedError


class SealedSQLiteApplicationRecorder(SQLiteApplicationRecorder, LogChainReader):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tree_keeper = TreeKeeper()

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(),
                f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} (position INTEGER PRIMARY KEY, "
                "recorded_at TEXT NOT NULL, event_hash TEXT NOT NULL, log_hash TEXT NOT NULL)",
                f"CREATE TABLE IF NOT EXISTS {TREE_TABLE} (level INTEGER NOT NULL, "
                "idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) "
                "WITHOUT ROWID",
                f"CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} (size INTEGER NOT NULL, "
                "key_id TEXT NOT NULL, root TEXT NOT NULL, signed_at TEXT NOT NULL, "
                "signer TEXT NOT NULL, note TEXT NOT NULL, PRIMARY KEY (size, key_id))"]

    def create_table(self) -> None:
        super().create_table()
        self._seal_unsealed()
        if self.keeps_tree:
            self._plant_tree()

    insert_events = LogChainReader.insert_events

    def insert_chunks(self, chunks: Chunks, *, recorded_at: datetime | None = None) -> range:
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")  # the write lock before the head is read
            try:
                first = (self._max_notification_id(cursor) or 0) + 1
                last = first - 1
                for start, stamped, previous, rows in _sealed(
                        chunks, self._head(cursor), first,
                        _now(recorded_at, self._checkpoint_time(cursor))):
                    got = self._insert_events(cursor, stamped)
                    _check_positions(start, got, len(stamped))
                    cursor.executemany(f"INSERT INTO {LOG_TABLE} VALUES (?,?,?,?)",
                                       [r.as_tuple() for r in rows])
                    if self.keeps_tree:
                        cursor.executemany(f"INSERT INTO {TREE_TABLE} VALUES (?,?,?)",
                                           self._tree_keeper.grow(SQLiteTree(cursor),
                                                                  previous, rows))
                    last = rows[-1].position
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
        return range(first, last + 1)

    def select_log(self, start: int, limit: int) -> list[LogRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT position, recorded_at, event_hash, log_hash FROM {LOG_TABLE} "
                      "WHERE position >= ? ORDER BY position LIMIT ?", (start, limit))
            return [as_row(tuple(row)) for row in c.fetchall()]

    @contextmanager
    def tree(self) -> Iterator[TreeView]:
        with self.datastore.transaction(commit=False) as cursor:
            yield TreeView(SQLiteTree(cursor))

    def insert_checkpoint(self, make: MakeCheckpoint) -> StoredCheckpoint:
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                latest = self._latest_checkpoint(cursor)
                checkpoint = make(TreeView(SQLiteTree(cursor)), self._head(cursor), latest)
                cursor.execute(f"INSERT OR IGNORE INTO {CHECKPOINT_TABLE} VALUES "
                               "(?,?,?,?,?,?)", checkpoint.as_tuple())
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        return checkpoint

    def select_checkpoints(self) -> list[StoredCheckpoint]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT size, key_id, root, signed_at, signer, note FROM "
                      f"{CHECKPOINT_TABLE} ORDER BY size, key_id")
            return [stored_checkpoint(tuple(row)) for row in c.fetchall()]

    def _latest_checkpoint(self, cursor: Any) -> StoredCheckpoint | None:
        cursor.execute(f"SELECT size, key_id, root, signed_at, signer, note FROM "
                       f"{CHECKPOINT_TABLE} ORDER BY size DESC, signed_at DESC LIMIT 1")
        row = cursor.fetchone()
        return None if row is None else stored_checkpoint(tuple(row))

    def _checkpoint_time(self, cursor: Any) -> str | None:
        cursor.execute(f"SELECT MAX(signed_at) FROM {CHECKPOINT_TABLE} WHERE size = "
                       f"(SELECT MAX(size) FROM {CHECKPOINT_TABLE})")  # by the index
        row = cursor.fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def _head(self, cursor: Any) -> LogRow | None:
        cursor.execute(f"SELECT position, recorded_at, event_hash, log_hash FROM {LOG_TABLE} "
                       "ORDER BY position DESC LIMIT 1")
        row = cursor.fetchone()
        return None if row is None else as_row(tuple(row))

    def _plant_tree(self) -> None:
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                source, head = SQLiteTree(cursor), self._head(cursor)

                def read_log(start: int) -> list[LogRow]:
                    cursor.execute(f"SELECT position, recorded_at, event_hash, log_hash FROM "
                                   f"{LOG_TABLE} WHERE position >= ? ORDER BY position "
                                   "LIMIT ?", (start, REBUILD_PAGE))
                    return [as_row(tuple(row)) for row in cursor.fetchall()]

                def store(nodes: list[Node]) -> None:
                    cursor.executemany(f"INSERT INTO {TREE_TABLE} VALUES (?,?,?)", nodes)

                plant(source, source.covered(), head.position if head else 0, read_log, store)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

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
        self._tree_keeper = TreeKeeper()
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements.extend([SQL(
            "CREATE TABLE IF NOT EXISTS {0}.{1} (position bigint PRIMARY KEY, "
            "recorded_at text NOT NULL, event_hash text NOT NULL, log_hash text NOT NULL)"
        ).format(schema, Identifier(LOG_TABLE)), SQL(
            "CREATE TABLE IF NOT EXISTS {0}.{1} (level smallint NOT NULL, idx bigint NOT NULL, "
            "hash bytea NOT NULL, PRIMARY KEY (level, idx))"
        ).format(schema, Identifier(TREE_TABLE)), SQL(
            "CREATE TABLE IF NOT EXISTS {0}.{1} (size bigint NOT NULL, key_id text NOT NULL, "
            "root text NOT NULL, signed_at text NOT NULL, signer text NOT NULL, "
            "note text NOT NULL, PRIMARY KEY (size, key_id))"
        ).format(schema, Identifier(CHECKPOINT_TABLE))])

    def create_table(self) -> None:
        super().create_table()
        self._seal_unsealed()
        if self.keeps_tree:
            self._plant_tree()

    insert_events = LogChainReader.insert_events

    def insert_chunks(self, chunks: Chunks, *, recorded_at: datetime | None = None) -> range:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            first = self._restart_positions(curs) + 1
            last = first - 1
            for start, stamped, previous, rows in _sealed(
                    chunks, self._head(curs), first,
                    _now(recorded_at, self._checkpoint_time(curs))):
                PostgresAggregateRecorder._insert_stored_events(self, curs, stamped)
                _check_positions(start, self._fetch_ids_after_insert_events(curs, stamped),
                                 len(stamped))
                self._insert_log(curs, rows)
                if self.keeps_tree:
                    self._insert_nodes(curs, self._tree_keeper.grow(self._source(curs),
                                                                    previous, rows))
                last = rows[-1].position
        return range(first, last + 1)

    @contextmanager
    def tree(self) -> Iterator[TreeView]:
        with self.datastore.transaction(commit=False) as curs:
            yield TreeView(self._source(curs))

    def insert_checkpoint(self, make: MakeCheckpoint) -> StoredCheckpoint:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            curs.execute(SQL("SELECT size, key_id, root, signed_at, signer, note FROM {0}.{1} "
                             "ORDER BY size DESC, signed_at DESC LIMIT 1"
                             ).format(*self._named(CHECKPOINT_TABLE)))
            row = curs.fetchone()
            latest = None if row is None else stored_checkpoint(tuple(row.values()))
            checkpoint = make(TreeView(self._source(curs)), self._head(curs), latest)
            curs.execute(SQL("INSERT INTO {0}.{1} VALUES (%s, %s, %s, %s, %s, %s) "
                             "ON CONFLICT DO NOTHING").format(*self._named(CHECKPOINT_TABLE)),
                         checkpoint.as_tuple())
        return checkpoint

    def select_checkpoints(self) -> list[StoredCheckpoint]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT size, key_id, root, signed_at, signer, note FROM {0}.{1} "
                             "ORDER BY size, key_id").format(*self._named(CHECKPOINT_TABLE)))
            return [stored_checkpoint(tuple(row.values())) for row in curs.fetchall()]

    def _named(self, table: str) -> tuple[Any, Any]:
        return Identifier(self.datastore.schema), Identifier(table)

    def _source(self, curs: Any) -> PostgresTree:
        return PostgresTree(curs, self._named(TREE_TABLE), self._log())

    def _checkpoint_time(self, curs: Any) -> str | None:
        curs.execute(SQL("SELECT MAX(signed_at) AS t FROM {0}.{1} WHERE size = "
                         "(SELECT MAX(size) FROM {0}.{1})").format(*self._named(CHECKPOINT_TABLE)))
        row = curs.fetchone()
        return None if row is None or row["t"] is None else str(row["t"])

    def _insert_nodes(self, curs: Any, nodes: list[Node]) -> None:
        if nodes:
            curs.executemany(SQL("INSERT INTO {0}.{1} VALUES (%s, %s, %s)"
                                 ).format(*self._named(TREE_TABLE)), nodes)

    def _plant_tree(self) -> None:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            source, head = self._source(curs), self._head(curs)

            def read_log(start: int) -> list[LogRow]:
                curs.execute(SQL("SELECT position, recorded_at, event_hash, log_hash FROM "
                                 "{0}.{1} WHERE position >= %s ORDER BY position LIMIT %s"
                                 ).format(*self._log()), (start, REBUILD_PAGE))
                return [as_row(tuple(row.values())) for row in curs.fetchall()]

            plant(source, source.covered(), head.position if head else 0, read_log,
                  lambda nodes: self._insert_nodes(curs, nodes))

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
    """In memory (tests): the same log rows, tree nodes and checkpoints, kept in Python."""

    def __init__(self) -> None:
        super().__init__()
        self._log: list[LogRow] = []
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._checkpoints: list[StoredCheckpoint] = []
        self._tree_keeper = TreeKeeper()

    insert_events = LogChainReader.insert_events

    def insert_chunks(self, chunks: Chunks, *, recorded_at: datetime | None = None) -> range:
        # Sealed chunk by chunk, stored at once: the library's insert is all or nothing
        # (the events are held in memory here anyway).
        with self._database_lock:
            first = len(self._stored_events) + 1
            previous = self._log[-1] if self._log else None
            floor = max((c.signed_at for c in self._checkpoints), default=None)
            stamped: list[StoredEvent] = []
            rows: list[LogRow] = []
            for _, events, _, sealed in _sealed(chunks, previous, first,
                                                _now(recorded_at, floor)):
                stamped.extend(events)
                rows.extend(sealed)
            if not stamped:
                return range(first, first)
            _check_positions(first, POPOApplicationRecorder.insert_events(self, stamped),
                             len(stamped))
            self._log.extend(rows)
            for level, index, value in self._tree_keeper.grow(self, previous, rows):
                self._nodes[(level, index)] = value
        return range(first, first + len(stamped))

    def select_log(self, start: int, limit: int) -> list[LogRow]:
        with self._database_lock:
            return self._log[max(start, 1) - 1:max(start, 1) - 1 + limit]

    def stored_nodes(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return {key: self._nodes[key] for key in keys if key in self._nodes}

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        return [log_leaf(row.log_hash) for row in self._log[start:end]]

    @contextmanager
    def tree(self) -> Iterator[TreeView]:
        with self._database_lock:
            yield TreeView(self)

    def insert_checkpoint(self, make: MakeCheckpoint) -> StoredCheckpoint:
        with self._database_lock:
            latest = max(self._checkpoints, key=lambda c: (c.size, c.signed_at), default=None)
            checkpoint = make(TreeView(self), self._log[-1] if self._log else None, latest)
            if all((c.size, c.key_id) != (checkpoint.size, checkpoint.key_id)
                   for c in self._checkpoints):
                self._checkpoints.append(checkpoint)
        return checkpoint

    def select_checkpoints(self) -> list[StoredCheckpoint]:
        with self._database_lock:
            return sorted(self._checkpoints, key=lambda c: (c.size, c.key_id))
