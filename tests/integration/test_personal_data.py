"""Personal data sealed at rest per data subject, on every store: what is stored, what the
hash covers, what a reader sees, erasure, tampering, exports and a key made twice."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from ledger.application import DossierLedger
from ledger.audit import history, verify
from ledger.config import StoreConfig
from ledger.errors import IdempotencyReserved
from ledger.personal import ERASED, KeyStore, PersonalDataError, Sealer
from ledger.transfer import export_lines, import_lines
from ledger.wire import WireError
from tests.conftest import EXAMPLE_EVENTS, FrozenClock

MASTER = bytes(range(32))
REF = "ref-000.00.22.H40-261001-0001"
REASON = "Thiếu bản vẽ mặt bằng"  # d-0001's supplement request


@pytest.fixture
def sealing(store: StoreConfig, clock: FrozenClock, tmp_path: Path):  # type: ignore[no-untyped-def]
    app = DossierLedger(store, clock=clock, sealer=Sealer(MASTER, KeyStore(tmp_path / "k.db")))
    import_lines(app, EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True))
    yield app
    app.close()


def stored_bytes(ledger: DossierLedger) -> bytes:
    return b"\n".join(bytes(row.state) for row in ledger.read_stored())


def test_personal_values_are_sealed_yet_read_back_and_the_chain_verifies(
        sealing: DossierLedger) -> None:
    stored = stored_bytes(sealing)
    assert REF.encode() not in stored and REASON.encode() not in stored
    assert "Bản vẽ thiết kế".encode() not in stored  # a component's name
    assert b'"by":"' in stored  # staff references stay in clear (docs/personal-data.md)
    assert verify(sealing).ok
    shown = history(sealing, "d-0001", as_of=sealing.clock()).events
    assert shown[0]["data"]["applicant_ref"] == REF
    assert REASON in [e["data"].get("reason") for e in shown]


def test_a_later_reason_is_sealed_under_the_applicants_key_when_the_dossier_is_read_back(
        clock: FrozenClock, tmp_path: Path) -> None:
    store = StoreConfig("sqlite", sqlite_path=tmp_path / "ledger.sqlite")
    first_run = DossierLedger(store, clock=clock,
                              sealer=Sealer(MASTER, KeyStore(tmp_path / "k.db")))
    import_lines(first_run, EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True))
    first_run.record({"type": "dossier.submitted", "id": "d-0009",
                      "at": "2026-10-27T09:00:00+07:00", "data": {
                          "code": "000.00.22.H40-261027-0009", "procedure": "p-xd-001",
                          "unit": "22.SXD", "channel": "online", "applicant_kind": "citizen",
                          "applicant_ref": "ref-9", "vneid_verified": True, "components": []}})
    first_run.close()
    reopened = DossierLedger(store, clock=clock,  # its aggregates read back from the store
                             sealer=Sealer(MASTER, KeyStore(tmp_path / "k.db")))
    try:
        reopened.record({"type": "dossier.refused", "id": "d-0009",
                         "at": "2026-10-28T09:00:00+07:00",
                         "data": {"reason": "Ông Nguyễn Văn A chưa nộp bản gốc"}})
        (first, *_, last) = reopened.stream_envelopes("dossier", "d-0009")
        assert last["sealed"]["subject"] == first["sealed"]["subject"]
        assert "Nguyễn" not in orjson.dumps(last).decode()
        assert reopened.sealer is not None
        subject = first["sealed"]["subject"]
        assert reopened.sealer.forget(subject)
        assert reopened.sealer.clear(last)["data"]["reason"] == ERASED
        assert verify(reopened).ok
    finally:
        reopened.close()


def test_after_erasure_every_hash_still_verifies_and_the_values_read_as_erased(
        sealing: DossierLedger) -> None:
    sealer = sealing.sealer
    assert sealer is not None
    assert sealer.forget(sealer.subject_id(REF))
    assert not sealer.forget(sealer.subject_id(REF))
    assert verify(sealing).ok
    shown = history(sealing, "d-0001", as_of=sealing.clock()).events
    assert shown[0]["data"]["applicant_ref"] == ERASED
    kept = history(sealing, "d-0002", as_of=sealing.clock()).events
    assert kept[0]["data"]["applicant_ref"].startswith("ref-")


def test_a_tampered_box_or_a_swapped_commitment_is_refused(sealing: DossierLedger) -> None:
    sealer = sealing.sealer
    assert sealer is not None
    (submitted, *_) = sealing.stream_envelopes("dossier", "d-0001")
    (other, *_) = sealing.stream_envelopes("dossier", "d-0002")
    box = submitted["sealed"]["box"]
    forged = submitted | {"sealed": submitted["sealed"] | {
        "box": box[:20] + ("A" if box[20] != "A" else "B") + box[21:]}}
    with pytest.raises(PersonalDataError, match="does not open"):
        sealer.unseal(forged)
    swapped = submitted | {"data": submitted["data"] | {
        "applicant_ref": other["data"]["applicant_ref"]}}
    with pytest.raises(PersonalDataError, match="applicant_ref does not match"):
        sealer.unseal(swapped)


def test_a_sealed_export_imports_elsewhere_with_the_same_hashes(sealing: DossierLedger,
                                                                clock: FrozenClock) -> None:
    exported = list(export_lines(sealing))
    assert all(REF.encode() not in line for line in exported)
    elsewhere = DossierLedger(StoreConfig("memory"), clock=clock)
    try:
        import_lines(elsewhere, exported)
        again = list(export_lines(elsewhere))
        hashes = [orjson.loads(x)["hash"] for x in exported]
        assert [orjson.loads(x)["hash"] for x in again] == hashes
        assert verify(elsewhere).ok
    finally:
        elsewhere.close()


def test_a_key_another_process_made_first_makes_the_events_sealed_again(
        tmp_path: Path, clock: FrozenClock) -> None:
    keys = tmp_path / "k.db"
    first, second = Sealer(MASTER, KeyStore(keys)), Sealer(MASTER, KeyStore(keys))
    envelope = {"type": "dossier.submitted", "stream": "dossier", "id": "d-1", "seq": 1,
                "data": {"applicant_ref": "ref-x", "components": []}}
    for sealer in (first, second):
        sealer.seal(dict(envelope), sealer.subject_id("ref-x"))
    assert first.flush()
    assert not second.flush()  # its key lost: the caller must seal again
    again = dict(envelope)
    second.seal(again, second.subject_id("ref-x"))
    assert second.flush()
    unsealed = first.unseal(again)
    assert unsealed is not None and unsealed.values == {"applicant_ref": "ref-x"}


def test_erasure_keys_are_reserved(memory_ledger: DossierLedger) -> None:
    with pytest.raises(IdempotencyReserved):
        memory_ledger.record({"type": "dossier.synced", "id": "d-0001",
                              "at": "2026-10-28T09:00:00+07:00"},
                             idempotency_key="erasure:" + os.urandom(4).hex())


def test_an_event_given_sealed_must_carry_only_commitments(memory_ledger: DossierLedger) -> None:
    import_lines(memory_ledger, EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True))
    with pytest.raises(WireError, match=r"data\.applicant_ref: must be a sealed commitment"):
        memory_ledger.record({"type": "dossier.submitted", "id": "d-0009",
                              "at": "2026-10-27T09:00:00+07:00", "data": {
                                  "code": "000.00.22.H40-261027-0009", "procedure": "p-xd-001",
                                  "unit": "22.SXD", "channel": "online",
                                  "applicant_kind": "citizen", "applicant_ref": "in clear",
                                  "vneid_verified": True, "components": []},
                              "sealed": {"subject": "x", "box": "eA=="}})
    assert memory_ledger.max_position() == 31  # nothing recorded
