"""The dossiers a runner took out of memory, on disk: a keyed store beside its snapshots.

A runner holds in memory the dossiers still open and those that ended recently; before each
snapshot it takes the others out (``ScoringEngine.take``: their facts, their entries in each
rulebook's counters, the position of their latest event) and stages their records here. The
snapshot's writer commits the staged records in one transaction, versioned by the snapshot's
position, before it writes the snapshot itself, so that the snapshot at position P and the
records of versions ≤ P are together the state folded up to P. A runner resuming from the
snapshot at P first deletes the records of versions after P (written for a snapshot that was
not finished, or not usable); a reader (``dossier score`` from a snapshot) reads only
versions ≤ P. An event of a dossier taken out brings it back into memory
(``ScoringEngine.recall``): its record stays, and the next time it is taken out a newer
version is written.

SQLite in WAL mode (one writer, readers alongside: the runner reads while a snapshot's child
process writes), one table keyed by (dossier id, version), indexed by unit for the scans of a
unit's dossiers that explanations and past moments need.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from projections.engine import record_facts

COLD = "cold-dossiers.sqlite"
"""The store's file name, in the runner's state directory."""
LATEST = (1 << 63) - 1

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS dossiers (id TEXT NOT NULL, version INTEGER NOT NULL, "
    "unit TEXT NOT NULL, record BLOB NOT NULL, PRIMARY KEY (id, version)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS dossiers_by_unit ON dossiers (unit, id, version)",
)

Staged = dict[str, tuple[str, bytes]]
"""dossier id -> (unit, record)."""


class ColdStore:
    """The dossiers taken out of one runner's memory (see the module's docstring).

    ``bound``: read only the records of versions ≤ bound (a reader of the snapshot at that
    position); None: every record (the runner, after :meth:`truncate_after`)."""

    def __init__(self, path: Path, *, bound: int | None = None) -> None:
        self.path = path
        self.bound = LATEST if bound is None else bound
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = _connect(path)
        self.staged: Staged = {}  # taken out since the last snapshot began
        self.flushing: Staged = {}  # being committed by the snapshot being written
        self.recalls = 0

    def close(self) -> None:
        self._db.close()

    # -- the runner --------------------------------------------------------------------------
    def stage(self, records: Iterable[tuple[str, str, bytes]]) -> int:
        """Hold records (dossier id, unit, record) until the next snapshot commits them."""
        staged = self.staged
        n = 0
        for dossier_id, unit, record in records:
            staged[dossier_id] = (unit, record)
            n += 1
        return n

    def begin_flush(self) -> Staged:
        """The records staged so far, now being committed (a snapshot is starting)."""
        if self.flushing:  # an earlier flush that did not end: commit it again
            self.flushing.update(self.staged)
        else:
            self.flushing = self.staged
        self.staged = {}
        return self.flushing

    def end_flush(self, committed: bool) -> None:
        """After the snapshot: its records are on disk (``committed``), or staged again."""
        if not committed:
            self.flushing.update(self.staged)
            self.staged = self.flushing
        self.flushing = {}

    def commit(self, version: int, records: Staged) -> None:
        """Write ``records`` as of ``version`` in one transaction (a snapshot's writer: in its
        own process it opens its own connection)."""
        if not records:
            return
        db = _connect(self.path)
        try:
            with db:
                db.executemany(
                    "INSERT OR REPLACE INTO dossiers (id, version, unit, record) "
                    "VALUES (?, ?, ?, ?)",
                    ((dossier_id, version, unit, record)
                     for dossier_id, (unit, record) in records.items()))
        finally:
            db.close()

    def truncate_after(self, position: int) -> int:
        """Delete the records of versions after ``position`` (the runner resumes from the
        snapshot there); returns how many."""
        with self._db:
            deleted = self._db.execute("DELETE FROM dossiers WHERE version > ?",
                                       (position,)).rowcount
        self.staged, self.flushing = {}, {}
        self.bound = LATEST
        return deleted

    # -- reading (ColdDossiers) --------------------------------------------------------------
    def recall(self, dossier_id: str) -> bytes | None:
        """The latest record of a dossier, which comes back into memory."""
        for held in (self.staged, self.flushing):
            found = held.pop(dossier_id, None)
            if found is not None:
                self.recalls += 1
                return found[1]
        record = self._read(dossier_id)
        if record is not None:
            self.recalls += 1
        return record

    def facts(self, dossier_id: str) -> Any | None:
        for held in (self.staged, self.flushing):
            found = held.get(dossier_id)
            if found is not None:
                return record_facts(found[1])
        record = self._read(dossier_id)
        return None if record is None else record_facts(record)

    def facts_of_unit(self, unit: str) -> Iterator[tuple[str, Any]]:
        seen: set[str] = set()
        for held in (self.staged, self.flushing):
            for dossier_id, (of, record) in list(held.items()):
                if of == unit and dossier_id not in seen:
                    seen.add(dossier_id)
                    yield dossier_id, record_facts(record)
        rows = self._db.execute(
            "SELECT id, record FROM dossiers WHERE unit = ? AND version <= ? "
            "ORDER BY id, version DESC", (unit, self.bound))
        for dossier_id, record in rows:
            if dossier_id not in seen:
                seen.add(dossier_id)
                yield dossier_id, record_facts(record)

    def units(self) -> Iterable[str]:
        found = {unit for held in (self.staged, self.flushing) for unit, _ in held.values()}
        found.update(unit for (unit,) in self._db.execute(
            "SELECT DISTINCT unit FROM dossiers WHERE version <= ?", (self.bound,)))
        return sorted(found)

    def _read(self, dossier_id: str) -> bytes | None:
        row = self._db.execute(
            "SELECT record FROM dossiers WHERE id = ? AND version <= ? "
            "ORDER BY version DESC LIMIT 1", (dossier_id, self.bound)).fetchone()
        return None if row is None else bytes(row[0])


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
    db.isolation_level = "DEFERRED"  # `with db:` transactions
    with contextlib.suppress(sqlite3.OperationalError):
        db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")  # a snapshot relies on its records being there
    for statement in _SCHEMA:
        db.execute(statement)
    return db
