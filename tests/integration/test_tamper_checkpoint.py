"""What the chains cannot see, caught against a checkpoint kept outside the ledger: each
forgery below leaves both chains intact (plain verify passes), and verify against the
checkpoint names what happened. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from ledger.application import DossierLedger
from ledger.audit import Anchor, VerifyReport, verify
from ledger.checkpoints import new_signing_key
from ledger.config import StoreConfig
from ledger.proofcheck import parse_verifier_key, verify_note
from ledger.proofs import ProofRefused, take_checkpoint
from ledger.transfer import import_lines
from tests.conftest import EXAMPLE_EVENTS, FrozenClock
from tests.integration import forgery

KEY = new_signing_key("so-cai.example/quang-ninh")
Forge = Callable[..., None]


class Ledger:
    """A ledger of the example events, checkpointed an hour after they were recorded; the
    checkpoint's note is kept here, outside the ledger."""

    def __init__(self, store: StoreConfig, forge: Forge, clock: FrozenClock) -> None:
        self.store, self._forge, self.clock = store, forge, clock
        ledger = DossierLedger(store, clock=clock)
        import_lines(ledger, EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True))
        clock.now += timedelta(hours=1)
        self.note = take_checkpoint(ledger, KEY)[0].note
        ledger.close()

    def forge(self, change: forgery.Change, drop_checkpoints: bool = True) -> None:
        self._forge(change, drop_checkpoints)

    def record_units(self, count: int) -> None:
        with self.open() as ledger:
            ledger.record_many([
                {"type": "unit.registered", "id": f"22.U{n}", "at": "2026-11-01T08:00:00+07:00",
                 "data": {"name": f"Đơn vị {n}", "parent": "22", "kind": "department"}}
                for n in range(count)])

    def open(self) -> _Open:
        return _Open(DossierLedger(self.store, clock=self.clock))

    def verify(self, outside: bool = True) -> VerifyReport:
        body = verify_note(self.note, parse_verifier_key(KEY.verifier_key()))
        anchors = [Anchor(body.size, body.root, body.time, "the outside checkpoint")]
        with self.open() as ledger:
            return verify(ledger, anchors=anchors if outside else None)


class _Open:
    def __init__(self, ledger: DossierLedger) -> None:
        self.ledger = ledger

    def __enter__(self) -> DossierLedger:
        return self.ledger

    def __exit__(self, *_: object) -> None:
        self.ledger.close()


@pytest.fixture(params=["sqlite", "postgres"])
def checkpointed(request: pytest.FixtureRequest, tmp_path: Path,
                 clock: FrozenClock) -> Iterator[Ledger]:
    if request.param == "sqlite":
        path = tmp_path / "ledger.sqlite"
        yield Ledger(StoreConfig("sqlite", sqlite_path=path), lambda change, drop:
                     forgery.forge_sqlite(path, change, drop), clock)
    else:
        dsn = request.getfixturevalue("pg_dsn")
        yield Ledger(StoreConfig("postgres", pg_dsn=dsn), lambda change, drop:
                     forgery.forge_postgres(dsn, change, drop), clock)


def caught(ledger: Ledger, reason: str) -> str:
    """The forgery passes the chains, and is caught against the checkpoint for ``reason``."""
    plain = ledger.verify(outside=False)
    assert plain.ok, plain.summary()
    report = ledger.verify()
    assert not report.ok
    assert reason in report.summary(), report.summary()
    return report.summary()


def test_an_untouched_ledger_matches_its_checkpoint(checkpointed: Ledger) -> None:
    checkpointed.record_units(3)
    report = checkpointed.verify()
    assert report.ok, report.summary()
    assert "Merkle root matches at 31 (the outside checkpoint)" in report.summary()


def test_the_last_event_of_an_aggregate_deleted(checkpointed: Ledger) -> None:
    checkpointed.forge(forgery.without_last_event_of("dossier:d-0001"))
    caught(checkpointed, "covers 31 events: 1 deleted since")


def test_the_last_event_of_an_aggregate_deleted_then_more_recorded(
        checkpointed: Ledger) -> None:
    checkpointed.forge(forgery.without_last_event_of("dossier:d-0001"))
    checkpointed.record_units(2)
    caught(checkpointed, "first 31 events do not give the Merkle root of the outside "
                         "checkpoint")


def test_a_whole_aggregate_deleted(checkpointed: Ledger) -> None:
    checkpointed.forge(forgery.without_aggregate("dossier:d-0002"))
    checkpointed.record_units(3)
    caught(checkpointed, "do not give the Merkle root")


def test_the_last_events_of_the_log_deleted(checkpointed: Ledger) -> None:
    checkpointed.forge(forgery.without_last(3))
    caught(checkpointed, "the log ends at position 28, but the outside checkpoint")


def test_an_event_appended_by_hand_with_a_correctly_computed_hash(
        checkpointed: Ledger) -> None:
    with checkpointed.open() as ledger:
        last = next(ledger.read_envelopes(27, 27))  # d-0003's last event
        stamped = ledger.recorder.select_log(31, 1)[0].recorded_at
    envelope = {"type": "dossier.synced", "stream": "dossier", "id": "d-0003",
                "seq": 0, "at": last["at"], "data": {}, "prev_hash": "", "hash": "",
                "recorded_at": stamped}  # as if recorded with the import
    checkpointed.forge(forgery.appended(envelope, "domain.dossier:Dossier.Synced"))
    caught(checkpointed, "before the outside checkpoint")


def test_an_aggregate_edited_and_rehashed(checkpointed: Ledger) -> None:
    checkpointed.forge(forgery.edited("dossier:d-0003", 3, kind="internal"))
    caught(checkpointed, "do not give the Merkle root")


def test_two_events_reordered(checkpointed: Ledger) -> None:
    checkpointed.forge(forgery.swapped(20))
    caught(checkpointed, "removed, inserted, reordered or altered")


def test_a_forgery_that_leaves_the_ledgers_own_checkpoints_is_seen_by_them(
        checkpointed: Ledger) -> None:
    checkpointed.forge(forgery.edited("dossier:d-0003", 3, kind="internal"),
                       drop_checkpoints=False)
    report = checkpointed.verify(outside=False)
    assert "root of the ledger's checkpoint of 31 events" in report.summary()
    checkpointed.record_units(1)
    with checkpointed.open() as ledger, pytest.raises(ProofRefused,
                                                      match="no longer give the root"):
        take_checkpoint(ledger, KEY)
