"""One dossier's story, told on every backend: memory, SQLite and a real PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from ledger.application import DossierLedger
from ledger.audit import history, verify
from ledger.transfer import export_lines

T = "+07:00"


def act(ledger: DossierLedger, event_type: str, key: str, at: str, **data: object) -> int:
    return ledger.record({"type": event_type, "id": key, "at": at + T, "data": data}).seq


def test_a_dossier_from_submission_to_rating(ledger: DossierLedger) -> None:
    act(ledger, "unit.registered", "22.SXD", "2026-09-01T08:00:00",
        name="Sở Xây dựng tỉnh Quảng Ninh", parent="22", kind="department")
    act(ledger, "procedure.registered", "p-xd-001", "2026-09-01T09:00:00",
        code="1.009972", name="Cấp giấy phép xây dựng", unit="22.SXD", statutory_days=15,
        fee_vnd=150000, requires_result_document=True, full_online_eligible=False,
        citizen_target=True, legal_basis_effective_on="2026-10-01")

    # The citizen submits online; the one-stop counter receives it (hẹn trả computed).
    act(ledger, "dossier.submitted", "d-1", "2026-10-01T08:10:00", code="000.00.22.H40-1",
        procedure="p-xd-001", unit="22.SXD", channel="online", applicant_kind="citizen",
        applicant_ref="ref-1", vneid_verified=True, components=[
            {"name": "Đơn", "digitized": True, "reused": False, "from_personal_store": False,
             "from_population_db": True}])
    act(ledger, "dossier.received", "d-1", "2026-10-01T09:00:00")
    # 15 working days after Thu 1 Oct 2026 is Thu 22 Oct: due at its 24:00.
    assert ledger.stream_envelopes("dossier", "d-1")[-1]["data"]["due_at"] == \
        "2026-10-23T00:00:00+07:00"

    act(ledger, "dossier.supplement_requested", "d-1", "2026-10-02T10:00:00", reason="Thiếu")
    act(ledger, "dossier.supplement_completed", "d-1", "2026-10-06T14:00:00")
    act(ledger, "dossier.appraised", "d-1", "2026-10-08T09:00:00", by="staff-17")
    act(ledger, "dossier.approved", "d-1", "2026-10-09T09:00:00", by="staff-02")
    act(ledger, "dossier.signed", "d-1", "2026-10-09T10:00:00", by="staff-02")
    act(ledger, "dossier.fee_paid", "d-1", "2026-10-09T11:00:00", amount_vnd=150000,
        method="national_portal")
    act(ledger, "dossier.resolved", "d-1", "2026-10-09T15:00:00", electronic_result=True,
        pushed_to_personal_store=True)
    act(ledger, "dossier.result_returned", "d-1", "2026-10-12T08:30:00", method="online")
    assert act(ledger, "dossier.rated", "d-1", "2026-10-12T20:00:00", satisfied=True) == 11

    mid = history(ledger, "000.00.22.H40-1", datetime.fromisoformat("2026-10-05T12:00:00" + T))
    assert mid.state["status"] == "supplement_requested"
    assert mid.state["supplement_open_since"] == "2026-10-02T10:00:00+07:00"
    assert mid.state["late"] is False
    assert len(mid.events) == 3

    end = history(ledger, "d-1", datetime.fromisoformat("2026-11-01T00:00:00" + T))
    assert end.state["status"] == "returned"
    assert end.state["rated_satisfied"] is True
    assert [e["type"] for e in end.events][-1] == "dossier.rated"

    report = verify(ledger)
    assert report.ok, report.summary()
    assert report.events == 13
    exported = list(export_lines(ledger))
    assert len(exported) == 13
    assert b'"position":13' in exported[-1]


def test_a_replayed_request_returns_the_first_result(ledger: DossierLedger) -> None:
    ledger.record({"type": "unit.registered", "id": "22.SXD", "at": "2026-09-01T08:00:00+07:00",
                   "data": {"name": "Sở Xây dựng", "parent": "22", "kind": "department"}})
    action = {"type": "unit.capability_set", "id": "22.SXD", "at": "2026-09-02T08:00:00+07:00",
              "data": {"capability": "e_certified_copy", "enabled": True}}
    first = ledger.record(action, idempotency_key="k-1")
    again = ledger.record(action, idempotency_key="k-1")
    assert again == first and first.position == 2
