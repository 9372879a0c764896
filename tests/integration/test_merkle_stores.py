"""The tree the recorders keep, on every store: its roots are the roots of the log's leaves at
every size, whichever writer grew it, and a ledger whose tree is missing gets it back when
opened."""

from __future__ import annotations

import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import DossierLedger
from ledger.config import StoreConfig
from ledger.merkle import log_leaf, root_of
from tests.conftest import FrozenClock
from tests.unit.test_checkpoints_and_proofs import prove_every_event


def units(ledger: DossierLedger, first: int, count: int) -> None:
    ledger.record_many([
        {"type": "unit.registered", "id": f"22.U{n}", "at": "2026-11-01T08:00:00+07:00",
         "data": {"name": f"Đơn vị {n}", "parent": "22", "kind": "department"}}
        for n in range(first, first + count)])


def leaves(ledger: DossierLedger) -> list[bytes]:
    return [log_leaf(row.log_hash) for row in ledger.recorder.select_log(1, 10_000)]


def test_two_writers_grow_one_tree(store: StoreConfig, clock: FrozenClock) -> None:
    one = DossierLedger(store, clock=clock)
    other = one if store.kind == "memory" else DossierLedger(store, clock=clock)
    first = 0
    for n, count in enumerate([1, 2, 13, 17, 1, 40, 7, 33]):
        units(one if n % 2 else other, first, count)
        first += count
    hashed = leaves(one)
    assert len(hashed) == first
    with one.recorder.tree() as view:
        for size in range(1, first + 1):
            assert view.root(size) == root_of(hashed[:size])
    one.close()
    if other is not one:
        other.close()


def test_a_missing_tree_is_planted_when_the_ledger_is_opened(store: StoreConfig,
                                                               clock: FrozenClock) -> None:
    if store.kind == "memory":
        return  # nothing outlives a ledger in memory
    ledger = DossierLedger(store, clock=clock)
    units(ledger, 0, 100)
    ledger.close()
    if store.kind == "sqlite":
        assert store.sqlite_path is not None
        with sqlite3.connect(store.sqlite_path) as db:
            db.execute("DELETE FROM merkle_nodes")
    else:
        with psycopg.connect(str(store.pg_dsn), autocommit=True) as db:
            db.execute("DELETE FROM merkle_nodes")
    ledger = DossierLedger(store, clock=clock)
    units(ledger, 100, 5)
    hashed = leaves(ledger)
    with ledger.recorder.tree() as view:
        assert view.root(105) == root_of(hashed)
        assert view.root(64) == root_of(hashed[:64])
    ledger.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=4))
def test_random_sqlite_ledgers_prove_every_event_in_every_later_checkpoint(
        batches: list[tuple[int, bool]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = FrozenClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
        ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=Path(tmp) / "l.sqlite"),
                               clock=clock)
        prove_every_event(ledger, batches)
