"""The whole class of hand edits: any single changed byte of any stored event, in the SQLite
file or the PostgreSQL table, is named by verify at its position — recorded_at included —
and so are deleted events, re-ordered recorded times and edited log entries."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
import pytest

from ledger.application import DossierLedger
from ledger.audit import verify
from ledger.config import StoreConfig
from ledger.transfer import import_lines
from tests.conftest import EXAMPLE_EVENTS, FrozenClock

PG_TABLE = "dossierledger_events"


def loaded(store: StoreConfig, clock: FrozenClock) -> DossierLedger:
    ledger = DossierLedger(store, clock=clock)
    lines = EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True)
    import_lines(ledger, lines[:10])
    import_lines(ledger, lines[10:])
    assert verify(ledger).ok
    return ledger


def flipped(state: bytes, offset: int, bit: int) -> bytes:
    data = bytearray(state)
    data[offset] ^= 1 << bit
    return bytes(data)


def test_every_single_byte_change_in_the_sqlite_file_is_named(tmp_path: Path,
                                                             clock: FrozenClock) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = loaded(StoreConfig("sqlite", sqlite_path=path), clock)
    with sqlite3.connect(path) as db:
        states = dict(db.execute("SELECT rowid, state FROM stored_events").fetchall())
    rng = random.Random(14)
    # three whole events byte by byte, then random bytes anywhere in any event
    cases = [(p, o, rng.randrange(8)) for p in rng.sample(sorted(states), 3)
             for o in range(len(states[p]))]
    cases += [(p, rng.randrange(len(states[p])), rng.randrange(8))
              for p in rng.choices(sorted(states), k=300)]
    missed = []
    for position, offset, bit in cases:
        with sqlite3.connect(path) as db:
            db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?",
                       (flipped(states[position], offset, bit), position))
        report = verify(ledger)
        if report.problem is None or report.problem.position != position:
            missed.append((position, offset, bit, str(report.problem)))
        with sqlite3.connect(path) as db:
            db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?",
                       (states[position], position))
    print(f"\n{len(cases) - len(missed)} of {len(cases)} single-bit changes named")
    assert missed == []
    assert verify(ledger).ok


def test_random_byte_changes_in_the_postgres_table_are_named(pg_dsn: str,
                                                            clock: FrozenClock) -> None:
    ledger = loaded(StoreConfig("postgres", pg_dsn=pg_dsn), clock)
    rng = random.Random(15)
    with psycopg.connect(pg_dsn, autocommit=True) as db:
        states = {int(r[0]): bytes(r[1]) for r in db.execute(
            f"SELECT notification_id, state FROM {PG_TABLE}").fetchall()}
        missed = []
        for position in rng.choices(sorted(states), k=120):
            offset, bit = rng.randrange(len(states[position])), rng.randrange(8)
            db.execute(f"UPDATE {PG_TABLE} SET state = %s WHERE notification_id = %s",
                       (flipped(states[position], offset, bit), position))
            report = verify(ledger)
            if report.problem is None or report.problem.position != position:
                missed.append((position, offset, bit, str(report.problem)))
            db.execute(f"UPDATE {PG_TABLE} SET state = %s WHERE notification_id = %s",
                       (states[position], position))
    ledger.close()
    assert missed == []


def sqlite_ledger(tmp_path: Path, clock: FrozenClock) -> tuple[DossierLedger, Path]:
    path = tmp_path / "ledger.sqlite"
    return loaded(StoreConfig("sqlite", sqlite_path=path), clock), path


def replace_recorded_at(state: bytes, text: str) -> bytes:
    start = state.rindex(b'"recorded_at":"') + len(b'"recorded_at":"')
    return state[:start] + text.encode() + state[state.index(b'"', start):]


def test_a_changed_recorded_time_is_named_even_when_the_log_entry_is_changed_too(
        tmp_path: Path, clock: FrozenClock) -> None:
    ledger, path = sqlite_ledger(tmp_path, clock)
    earlier = "2026-01-01T00:00:00.000000+00:00"
    with sqlite3.connect(path) as db:
        state = db.execute("SELECT state FROM stored_events WHERE rowid = 12").fetchone()[0]
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = 12",
                   (replace_recorded_at(state, earlier),))
    report = verify(ledger)
    assert report.problem is not None and report.problem.position == 12
    assert "recorded_at altered" in report.problem.what
    with sqlite3.connect(path) as db:
        db.execute("UPDATE event_log SET recorded_at = ? WHERE position = 12", (earlier,))
    report = verify(ledger)
    assert report.problem is not None and report.problem.position == 12
    assert "recorded time goes backwards" in report.problem.what


def test_a_deleted_event_in_the_middle_is_a_position_gap(tmp_path: Path,
                                                         clock: FrozenClock) -> None:
    ledger, path = sqlite_ledger(tmp_path, clock)
    with sqlite3.connect(path) as db:
        last = db.execute("SELECT max(rowid) FROM stored_events").fetchone()[0]
        # the last event of its aggregate: the aggregate's own chain cannot see it
        db.execute("DELETE FROM stored_events WHERE rowid = ?", (last - 1,))
        db.execute("DELETE FROM event_log WHERE position = ?", (last - 1,))
    report = verify(ledger)
    assert report.problem is not None and "position gap" in report.problem.what


def test_a_deleted_last_event_whose_log_entry_stays_is_named(tmp_path: Path,
                                                             clock: FrozenClock) -> None:
    ledger, path = sqlite_ledger(tmp_path, clock)
    with sqlite3.connect(path) as db:
        last = db.execute("SELECT max(rowid) FROM stored_events").fetchone()[0]
        db.execute("DELETE FROM stored_events WHERE rowid = ?", (last,))
    report = verify(ledger)
    assert report.problem is not None and report.problem.position == last
    assert "deleted from the end" in report.problem.what


def test_an_edited_log_entry_is_named(tmp_path: Path, clock: FrozenClock) -> None:
    ledger, path = sqlite_ledger(tmp_path, clock)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE event_log SET log_hash = ? WHERE position = 7", ("0" * 64,))
    report = verify(ledger)
    assert report.problem is not None and report.problem.position == 7
    assert "log chain broken" in report.problem.what


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.1])
def test_a_truncated_database_file_fails_verification_without_a_traceback(
        tmp_path: Path, clock: FrozenClock, keep: float) -> None:
    ledger, path = sqlite_ledger(tmp_path, clock)
    ledger.close()
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    try:
        reopened = DossierLedger(StoreConfig("sqlite", sqlite_path=path), clock=clock)
    except Exception as error:  # the CLI reports this as one FAILED line
        assert "malformed" in str(error) or "not a database" in str(error) \
            or "disk image" in str(error), error
        return
    report = verify(reopened)
    assert not report.ok
    assert report.summary().startswith("FAILED")


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgres"])
def test_recorded_times_follow_positions_when_a_slow_import_commits_after_a_record(
        kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """An import stamps its events when it commits, not when it starts: a record that
    committed in between keeps an earlier position and an earlier recorded time, so the
    ledger as recorded by any moment is a prefix of the log."""
    store = {"memory": lambda: StoreConfig("memory"),
             "sqlite": lambda: StoreConfig("sqlite", sqlite_path=tmp_path / "l.sqlite"),
             "postgres": lambda: StoreConfig("postgres",
                                             pg_dsn=request.getfixturevalue("pg_dsn"))}[kind]()
    t1 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    clock = FrozenClock(t1)
    ledger = DossierLedger(store, clock=clock)
    lines = EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True)
    import_lines(ledger, lines[:3])
    work = ledger.unit_of_work()  # the import begins at t1 …
    for line in lines[3:6]:
        work.apply(orjson.loads(line), require_seq=True)
    clock.now = t1 + timedelta(seconds=1)  # … a record commits at t1 + 1 s …
    recorded = ledger.record({"type": "unit.capability_set", "id": "22",
                              "at": "2026-09-01T08:00:00+07:00",
                              "data": {"capability": "x", "enabled": True}})
    clock.now = t1 + timedelta(seconds=2)  # … and the import commits at t1 + 2 s
    committed = work.commit()
    assert committed[0].position > recorded.position
    times = [e["recorded_at"] for e in ledger.read_envelopes()]
    assert times == sorted(times)
    stamped = {e["position"]: e["recorded_at"] for e in ledger.read_envelopes()}
    assert stamped[committed[0].position] == (t1 + timedelta(seconds=2)).isoformat(
        timespec="microseconds")
    assert ledger.last_position_recorded_by(t1 + timedelta(seconds=1)) == recorded.position
    assert verify(ledger).ok
    ledger.close()
