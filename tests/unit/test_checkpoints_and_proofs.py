"""Signed checkpoints and proofs on a ledger in memory: every event proves its inclusion in
every later checkpoint, any two checkpoints are consistent, and what is forged is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import DossierLedger
from ledger.checkpoints import SigningKey, new_signing_key, parse_signing_key
from ledger.config import StoreConfig
from ledger.proofcheck import (
    ProofError,
    check_consistency,
    check_file,
    check_inclusion,
    parse_verifier_key,
    verify_note,
)
from ledger.proofs import (
    ProofRefused,
    consistency_proof,
    find_checkpoint,
    find_position,
    inclusion_proof,
    take_checkpoint,
)
from tests.conftest import FrozenClock

KEY = new_signing_key("so-cai.example/quang-ninh")
VERIFIER = parse_verifier_key(KEY.verifier_key())


def units(ledger: DossierLedger, first: int, count: int, keyed: bool = False) -> None:
    """``count`` departments registered, one event each; ``keyed`` adds an idempotency
    record (a position of its own)."""
    events = [{"type": "unit.registered", "id": f"22.U{n}", "at": "2026-11-01T08:00:00+07:00",
               "data": {"name": f"Đơn vị {n}", "parent": "22", "kind": "department"}}
              for n in range(first, first + count)]
    ledger.record_many(events, idempotency_key=f"batch-{first}" if keyed else None)


def fresh(clock: FrozenClock) -> DossierLedger:
    return DossierLedger(StoreConfig("memory"), clock=clock)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=5))
def test_every_event_proves_inclusion_in_every_later_checkpoint(
        batches: list[tuple[int, bool]]) -> None:
    from datetime import UTC, datetime

    ledger = fresh(FrozenClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC)))
    prove_every_event(ledger, batches)


def prove_every_event(ledger: DossierLedger, batches: list[tuple[int, bool]]) -> None:
    """Record the batches, a checkpoint after each; every event proves its inclusion in every
    later checkpoint, and every checkpoint extends every earlier one."""
    kept = []
    first = 0
    for count, keyed in batches:
        units(ledger, first, count, keyed)
        first += count
        kept.append(take_checkpoint(ledger, KEY)[0])
    for checkpoint in kept:
        for position in range(1, checkpoint.size + 1):
            check_inclusion(inclusion_proof(ledger, position, checkpoint), VERIFIER)
    for i, old in enumerate(kept):
        for new in kept[i:]:
            check_consistency(consistency_proof(ledger, old, new), VERIFIER)
    ledger.close()


@pytest.fixture
def proved(memory_ledger: DossierLedger) -> DossierLedger:
    units(memory_ledger, 0, 20, keyed=True)
    take_checkpoint(memory_ledger, KEY)
    return memory_ledger


def test_a_checkpoint_is_a_signed_note_of_size_and_root(proved: DossierLedger) -> None:
    checkpoint = find_checkpoint(proved, None)
    lines = checkpoint.note.split("\n")
    assert lines[0] == KEY.name and lines[1] == "21"  # 20 units and the request record
    assert lines[3] == "time 2026-11-20T12:00:00.000000+00:00" and lines[4] == ""
    assert lines[5].startswith(f"— {KEY.name} ")
    body = verify_note(checkpoint.note, VERIFIER)
    assert (body.size, body.root.hex()) == (21, checkpoint.root)
    assert check_file(checkpoint.note, VERIFIER).startswith("checkpoint of")


def test_nothing_new_to_sign_gives_the_latest_checkpoint_again(proved: DossierLedger) -> None:
    again, created = take_checkpoint(proved, KEY)
    assert not created and again == find_checkpoint(proved, None)


def test_a_signing_key_reads_back_as_written() -> None:
    again = parse_signing_key(KEY.private_text())
    assert again.verifier_key() == KEY.verifier_key()
    assert VERIFIER.name == KEY.name and VERIFIER.key_id == KEY.key_id


def test_events_are_found_by_position_hash_or_stream_id_seq(proved: DossierLedger) -> None:
    proof = inclusion_proof(proved, 5, find_checkpoint(proved, None))
    assert find_position(proved, proof["event_hash"]) == 5
    assert find_position(proved, "unit:22.U4:1") == 5
    with pytest.raises(ProofRefused, match="no event at position 99"):
        find_position(proved, "99")


def test_an_event_recorded_after_the_checkpoint_needs_a_new_one(proved: DossierLedger) -> None:
    units(proved, 100, 1)
    with pytest.raises(ProofRefused, match="after the checkpoint of 21 events"):
        inclusion_proof(proved, 22, find_checkpoint(proved, None))


def forged(proof: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return json.loads(json.dumps(proof)) | changes


def test_a_proof_for_another_event_is_refused(proved: DossierLedger) -> None:
    checkpoint = find_checkpoint(proved, None)
    proof, other = (inclusion_proof(proved, p, checkpoint) for p in (5, 6))
    with pytest.raises(ProofError, match="content does not give"):
        check_inclusion(forged(proof, event=other["event"]), VERIFIER)
    swapped = forged(other, path=proof["path"])
    with pytest.raises(ProofError, match="does not lead to the checkpoint's root"):
        check_inclusion(swapped, VERIFIER)
    moved = forged(proof, position=6)
    with pytest.raises(ProofError, match="log hash does not follow"):
        check_inclusion(moved, VERIFIER)


def test_a_checkpoint_with_a_bad_signature_is_refused(proved: DossierLedger) -> None:
    note = find_checkpoint(proved, None).note
    with pytest.raises(ProofError, match="bad signature"):
        verify_note(note.replace("\n21\n", "\n20\n", 1), VERIFIER)
    other = parse_verifier_key(new_signing_key(KEY.name).verifier_key())
    with pytest.raises(ProofError, match="no signature by the key"):
        verify_note(note, other)
    proof = inclusion_proof(proved, 3, find_checkpoint(proved, None))
    impostor: SigningKey = new_signing_key(KEY.name)
    resigned = impostor.sign(note.split("\n\n")[0] + "\n")
    with pytest.raises(ProofError, match="no signature by the key"):
        check_inclusion(forged(proof, checkpoint=resigned), VERIFIER)


def test_a_checkpoint_that_does_not_extend_an_earlier_one_is_refused(
        proved: DossierLedger, clock: FrozenClock) -> None:
    old = find_checkpoint(proved, None)
    elsewhere = fresh(clock)  # another history, signed with the same key
    units(elsewhere, 50, 30)
    new, _ = take_checkpoint(elsewhere, KEY)
    proof = consistency_proof(elsewhere, old, new)
    with pytest.raises(ProofError, match="not an extension of the old one"):
        check_consistency(proof, VERIFIER)
    with pytest.raises(ProofError, match="larger than the new one"):
        check_consistency({"kind": "consistency", "old": new.note, "new": old.note,
                           "path": []}, VERIFIER)
    elsewhere.close()
