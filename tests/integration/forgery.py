"""What an operator with write access to the database can do without breaking either chain:
rewrite the stored events, re-chain every aggregate, renumber the positions, rebuild the log
chain, drop the Merkle nodes (rebuilt when the ledger is next opened) and the ledger's own
checkpoints. Only a checkpoint kept outside the ledger sees it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ledger.chain import GENESIS, canonical_json, event_hash
from ledger.codec import REQUEST_STREAM, topic_of
from ledger.log_chain import GENESIS as LOG_GENESIS
from ledger.log_chain import log_hash


@dataclass
class Stored:
    """One stored event as the forger sees it: its envelope as stored (hash, recorded_at)."""

    topic: str
    envelope: dict[str, Any]

    @property
    def oid(self) -> str:
        return f"{self.envelope['stream']}:{self.envelope['id']}"


Change = Callable[[list[Stored]], list[Stored]]


def rechained(rows: list[Stored]) -> list[tuple[str, int, str, bytes, tuple[int, str, str, str]]]:
    """Every aggregate's seq and hashes recomputed in the new order, then the log chain."""
    heads: dict[str, tuple[int, str]] = {}
    out = []
    chain = LOG_GENESIS
    for position, row in enumerate(rows, start=1):
        envelope = dict(row.envelope)
        seq, prev = heads.get(row.oid, (0, GENESIS))
        envelope["seq"], envelope["prev_hash"] = seq + 1, prev
        envelope.pop("hash")
        envelope["hash"] = event_hash(envelope)
        heads[row.oid] = (seq + 1, envelope["hash"])
        topic = row.topic if envelope["stream"] == REQUEST_STREAM else \
            topic_of(envelope["type"], seq + 1)
        chain = log_hash(chain, position, envelope["recorded_at"], envelope["hash"])
        out.append((row.oid, seq + 1, topic, canonical_json(envelope),
                    (position, envelope["recorded_at"], envelope["hash"], chain)))
    return out


def forge_sqlite(path: Path, change: Change, drop_checkpoints: bool = True) -> None:
    with sqlite3.connect(path) as db:
        rows = [Stored(topic, orjson.loads(state)) for topic, state in db.execute(
            "SELECT topic, state FROM stored_events ORDER BY rowid")]
        new = rechained(change(rows))
        for table in ("stored_events", "event_log", "merkle_nodes",
                      *(["checkpoints"] if drop_checkpoints else [])):
            db.execute(f"DELETE FROM {table}")
        db.executemany("INSERT INTO stored_events (rowid, originator_id, originator_version, "
                       "topic, state) VALUES (?, ?, ?, ?, ?)",
                       [(r[4][0], r[0], r[1], r[2], r[3]) for r in new])
        db.executemany("INSERT INTO event_log VALUES (?, ?, ?, ?)", [r[4] for r in new])


def forge_postgres(dsn: str, change: Change, drop_checkpoints: bool = True) -> None:
    import psycopg

    with psycopg.connect(dsn) as db:
        rows = [Stored(topic, orjson.loads(bytes(state))) for topic, state in db.execute(
            "SELECT topic, state FROM dossierledger_events ORDER BY notification_id")]
        new = rechained(change(rows))
        for table in ("dossierledger_events", "event_log", "merkle_nodes",
                      *(["checkpoints"] if drop_checkpoints else [])):
            db.execute(f"DELETE FROM {table}")
        with db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO dossierledger_events (notification_id, originator_id, "
                "originator_version, topic, state) VALUES (%s, %s, %s, %s, %s)",
                [(r[4][0], r[0], r[1], r[2], r[3]) for r in new])
            cursor.executemany("INSERT INTO event_log VALUES (%s, %s, %s, %s)",
                               [r[4] for r in new])


# -- the changes -------------------------------------------------------------------------------

def without_last_event_of(oid: str) -> Change:
    def change(rows: list[Stored]) -> list[Stored]:
        last = max(i for i, r in enumerate(rows) if r.oid == oid)
        return rows[:last] + rows[last + 1:]
    return change


def without_aggregate(oid: str) -> Change:
    return lambda rows: [r for r in rows if r.oid != oid]


def without_last(count: int) -> Change:
    return lambda rows: rows[:-count]


def edited(oid: str, seq: int, **data: Any) -> Change:
    def change(rows: list[Stored]) -> list[Stored]:
        for row in rows:
            if row.oid == oid and row.envelope["seq"] == seq:
                row.envelope["data"] = row.envelope["data"] | data
        return rows
    return change


def appended(envelope: dict[str, Any], topic: str) -> Change:
    return lambda rows: [*rows, Stored(topic, envelope)]


def swapped(first: int) -> Change:
    """Positions ``first`` and ``first + 1`` exchanged (events of two aggregates)."""
    def change(rows: list[Stored]) -> list[Stored]:
        i = first - 1
        assert rows[i].oid != rows[i + 1].oid
        return [*rows[:i], rows[i + 1], rows[i], *rows[i + 2:]]
    return change
