"""Change one byte of one stored event, in the SQLite file or the PostgreSQL table: verify
names it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from ledger.application import DossierLedger
from ledger.audit import verify
from ledger.config import StoreConfig
from ledger.transfer import import_lines
from tests.conftest import EXAMPLE_EVENTS, FrozenClock


def loaded(store: StoreConfig, clock: FrozenClock) -> DossierLedger:
    ledger = DossierLedger(store, clock=clock)
    import_lines(ledger, EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True))
    assert verify(ledger).ok
    return ledger


def flip(state: bytes, offset: int) -> bytes:
    data = bytearray(state)
    data[offset] = data[offset] ^ 0x01
    return bytes(data)


OFFSETS = [5, 40, 100, -30, -3]  # in the content, in the hash, near the end


@pytest.mark.parametrize("offset", OFFSETS)
def test_one_byte_changed_in_the_sqlite_file_is_named(tmp_path: Path, clock: FrozenClock,
                                                      offset: int) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = loaded(StoreConfig("sqlite", sqlite_path=path), clock)
    with sqlite3.connect(path) as db:
        state = db.execute("SELECT state FROM stored_events WHERE rowid = 12").fetchone()[0]
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = 12", (flip(state, offset),))
    report = verify(ledger)
    assert not report.ok
    assert report.problem is not None
    assert (report.problem.stream, report.problem.id, report.problem.seq,
            report.problem.position) == ("dossier", "d-0001", 5, 12)
    assert report.events == 11


def test_a_changed_sequence_number_breaks_the_chain(tmp_path: Path, clock: FrozenClock) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = loaded(StoreConfig("sqlite", sqlite_path=path), clock)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE stored_events SET originator_version = 99 WHERE rowid = 12")
    report = verify(ledger)
    assert report.problem is not None and report.problem.position == 12


@pytest.mark.parametrize("offset", OFFSETS)
def test_one_byte_changed_in_the_postgres_table_is_named(pg_dsn: str, clock: FrozenClock,
                                                         offset: int) -> None:
    ledger = loaded(StoreConfig("postgres", pg_dsn=pg_dsn), clock)
    with psycopg.connect(pg_dsn, autocommit=True) as db:
        row = db.execute("SELECT notification_id, state FROM dossierledger_events "
                         "ORDER BY notification_id OFFSET 11 LIMIT 1").fetchone()
        assert row is not None
        db.execute("UPDATE dossierledger_events SET state = %s WHERE notification_id = %s",
                   (flip(bytes(row[1]), offset), row[0]))
    report = verify(ledger)
    ledger.close()
    assert report.problem is not None
    assert (report.problem.id, report.problem.seq, report.problem.position) == (
        "d-0001", 5, 12)
