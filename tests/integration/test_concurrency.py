"""Concurrent writers to one dossier never lose an update."""

from __future__ import annotations

import threading

import pytest

from ledger.application import DossierLedger
from ledger.audit import verify
from ledger.config import StoreConfig
from tests.conftest import FrozenClock
from tests.unit.helpers import catalogue, step, submitted

WRITERS = 3
EACH = 15


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_writers_to_one_dossier_lose_nothing(
    backend: str, request: pytest.FixtureRequest, tmp_path, clock: FrozenClock
) -> None:
    if backend == "sqlite":
        store = StoreConfig("sqlite", sqlite_path=tmp_path / "ledger.sqlite")
    else:
        store = StoreConfig("postgres", pg_dsn=request.getfixturevalue("pg_dsn"))
    setup = DossierLedger(store, clock=clock)
    catalogue(setup)
    setup.record(submitted())
    setup.record(step("received"))
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        ledger = DossierLedger(store, clock=clock)  # its own connections, like another process
        try:
            for i in range(EACH):
                ledger.record(step("synced", day=3, hour=9),
                              idempotency_key=f"writer-{number}-{i}")
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            ledger.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    events = setup.stream_envelopes("dossier", "d1")
    assert [e["seq"] for e in events] == list(range(1, 3 + WRITERS * EACH))
    report = verify(setup)
    assert report.ok, report.summary()
    setup.close()


def test_a_stale_cached_aggregate_is_never_trusted(tmp_path, clock: FrozenClock) -> None:
    store = StoreConfig("sqlite", sqlite_path=tmp_path / "ledger.sqlite")
    mine, theirs = DossierLedger(store, clock=clock), DossierLedger(store, clock=clock)
    catalogue(mine)
    mine.record(submitted())
    mine.record(step("received"))  # now cached in `mine`, as received
    theirs.record(step("supplement_requested", day=3))
    # Judged on the cached state the request would pass; the store says one is open.
    with pytest.raises(Exception, match="already open"):
        mine.record(step("supplement_requested", day=4))
    theirs.record(step("supplement_completed", day=5))
    mine.record(step("appraised", day=6))  # cached: still open? no — re-read, allowed
    theirs.record(step("approved", day=7))
    mine.record(step("signed", day=8))  # its cached version is behind: re-run on fresh state
    assert [e["type"].split(".")[1] for e in mine.stream_envelopes("dossier", "d1")] == [
        "submitted", "received", "supplement_requested", "supplement_completed", "appraised",
        "approved", "signed"]
    assert verify(mine).ok
