"""An import racing other writers: checked again on the new state, never a raw conflict; and
the namespaces of idempotency keys and imports kept apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.application import DossierLedger
from ledger.config import StoreConfig
from ledger.errors import IdempotencyReserved, ImportRejected
from ledger.transfer import import_lines
from tests.conftest import EXAMPLE_EVENTS, FrozenClock

LINES = EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True)


def test_an_import_that_loses_a_race_is_checked_again_and_names_the_rule(
        tmp_path: Path, clock: FrozenClock) -> None:
    store = StoreConfig("sqlite", sqlite_path=tmp_path / "ledger.sqlite")
    ledger, other = DossierLedger(store, clock=clock), DossierLedger(store, clock=clock)
    import_lines(ledger, LINES[:3])
    rest = LINES[3:]
    raced = []

    def lines() -> Iterator[bytes]:
        for number, line in enumerate(rest):
            if number == len(rest) - 1 and not raced:
                # another process appends to an aggregate the file also appends to
                raced.append(other.record({"type": "procedure.online_level_set",
                                           "id": "p-xd-001", "at": "2026-09-20T08:00:00+07:00",
                                           "data": {"level": "full"}}))
            yield line

    before = ledger.max_position()
    with pytest.raises(ImportRejected) as caught:
        import_lines(ledger, lines)
    assert raced, "the race did not happen"
    assert caught.value.rule == "sequence"
    assert ledger.max_position() == before + 1  # the other writer's event, nothing else
    ledger.close()
    other.close()


def test_an_import_beside_a_writer_of_other_aggregates_records_both(
        tmp_path: Path, clock: FrozenClock) -> None:
    store = StoreConfig("sqlite", sqlite_path=tmp_path / "ledger.sqlite")
    ledger, other = DossierLedger(store, clock=clock), DossierLedger(store, clock=clock)
    import_lines(ledger, LINES[:3])
    attempts = []

    def lines() -> Iterator[bytes]:
        attempts.append(1)
        yield from LINES[3:-1]
        if len(attempts) == 2:  # the content pass, then the apply pass
            # another writer records an event of an aggregate the file does not touch
            other.record({"type": "unit.capability_set", "id": "22",
                          "at": "2026-09-01T08:00:00+07:00",
                          "data": {"capability": "e_certified_copy", "enabled": True}})
        yield LINES[-1]

    before = ledger.max_position()
    result = import_lines(ledger, lines)
    assert result.events == len(LINES) - 3
    assert ledger.max_position() == before + 1 + result.events + 1  # + the import's request
    ledger.close()
    other.close()


def test_client_keys_cannot_take_the_namespace_of_imports(clock: FrozenClock) -> None:
    ledger = DossierLedger(StoreConfig("memory"), clock=clock)
    with pytest.raises(IdempotencyReserved, match="reserved for imports"):
        ledger.record({"type": "unit.registered", "id": "22.X", "at": "2026-09-01T08:00:00Z",
                       "data": {"name": "X", "parent": "22", "kind": "department"}},
                      idempotency_key="import:" + "0" * 64)
    assert ledger.max_position() == 0
