"""Idempotency keys and the hash chain."""

from __future__ import annotations

import hashlib
import json

import pytest

from ledger.application import DossierLedger
from ledger.audit import verify
from ledger.chain import GENESIS
from ledger.errors import IdempotencyConflict
from tests.unit.helpers import catalogue, step, submitted


@pytest.fixture
def ledger(memory_ledger: DossierLedger) -> DossierLedger:
    catalogue(memory_ledger)
    memory_ledger.record(submitted())
    return memory_ledger


def test_same_key_same_command_records_once(ledger: DossierLedger) -> None:
    first = ledger.record(step("received"), idempotency_key="counter-7/123")
    head = ledger.max_position()
    again = ledger.record(step("received"), idempotency_key="counter-7/123")
    assert ledger.max_position() == head
    assert again == first


def test_same_key_other_command_is_an_error(ledger: DossierLedger) -> None:
    ledger.record(step("received"), idempotency_key="k")
    head = ledger.max_position()
    with pytest.raises(IdempotencyConflict, match="'k'"):
        ledger.record(step("refused"), idempotency_key="k")
    assert ledger.max_position() == head


def test_without_a_key_a_repeat_is_judged_by_the_rules(ledger: DossierLedger) -> None:
    ledger.record(step("received"))
    with pytest.raises(Exception, match="only allowed when the dossier is submitted"):
        ledger.record(step("received"))


def test_each_hash_covers_the_canonical_envelope_and_the_previous_hash(
    ledger: DossierLedger,
) -> None:
    ledger.record(step("received"))
    first, second = ledger.stream_envelopes("dossier", "d1")
    assert first["prev_hash"] == GENESIS
    assert second["prev_hash"] == first["hash"]
    for envelope in (first, second):
        hashed = {k: v for k, v in envelope.items() if k not in ("hash", "recorded_at")}
        text = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(text.encode()).hexdigest() == envelope["hash"]


def test_records_of_requests_are_chained_and_verified(ledger: DossierLedger) -> None:
    ledger.record(step("received"), idempotency_key="k")
    report = verify(ledger)
    assert report.ok and report.events == ledger.max_position()
