"""Builders of wire events for tests."""

from __future__ import annotations

from typing import Any

from ledger.application import DossierLedger

TZ = "+07:00"
DATA: dict[str, dict[str, Any]] = {
    "dossier.received": {},
    "dossier.refused": {"reason": "Không thuộc thẩm quyền"},
    "dossier.supplement_requested": {"reason": "Thiếu giấy tờ"},
    "dossier.supplement_completed": {},
    "dossier.transferred": {"to_unit": "22.STNMT", "kind": "inter_agency"},
    "dossier.appraised": {"by": "staff-1"},
    "dossier.approved": {"by": "staff-2"},
    "dossier.signed": {"by": "staff-2"},
    "dossier.fee_requested": {"amount_vnd": 50000},
    "dossier.fee_paid": {"amount_vnd": 50000, "method": "cash"},
    "dossier.resolved": {"electronic_result": True, "pushed_to_personal_store": False},
    "dossier.result_returned": {"method": "counter"},
    "dossier.apology_issued": {"new_due_at": "2026-12-31T17:00:00+07:00", "reason": "Chậm"},
    "dossier.rejected": {"reason": "Không đủ điều kiện"},
    "dossier.stopped": {"reason": "Dừng"},
    "dossier.withdrawn": {},
    "dossier.synced": {},
    "dossier.rated": {"satisfied": True},
}


def catalogue(ledger: DossierLedger) -> None:
    """Two departments of Quảng Ninh and a 5-day procedure."""
    ledger.record_many([
        {"type": "unit.registered", "id": "22.SXD", "at": "2026-09-01T08:00:00" + TZ,
         "data": {"name": "Sở Xây dựng", "parent": "22", "kind": "department"}},
        {"type": "unit.registered", "id": "22.STNMT", "at": "2026-09-01T08:00:00" + TZ,
         "data": {"name": "Sở Tài nguyên và Môi trường", "parent": "22", "kind": "department"}},
        {"type": "procedure.registered", "id": "p1", "at": "2026-09-01T09:00:00" + TZ,
         "data": procedure_data()},
    ])


def procedure_data(unit: str = "22.SXD", days: int = 5) -> dict[str, Any]:
    return {"code": "1.000001", "name": "Thủ tục thử", "unit": unit, "statutory_days": days,
            "fee_vnd": 50000, "requires_result_document": True, "full_online_eligible": True,
            "citizen_target": True, "legal_basis_effective_on": "2026-10-01"}


def submitted(key: str = "d1", unit: str = "22.SXD", procedure: str = "p1",
              at: str = "2026-10-01T08:00:00") -> dict[str, Any]:
    return {"type": "dossier.submitted", "id": key, "at": at + TZ, "data": {
        "code": f"CODE-{key}", "procedure": procedure, "unit": unit, "channel": "online",
        "applicant_kind": "citizen", "applicant_ref": f"ref-{key}", "vneid_verified": False,
        "components": [{"name": "Đơn", "digitized": True, "reused": False,
                        "from_personal_store": False, "from_population_db": False}]}}


def step(kind: str, key: str = "d1", day: int = 2, hour: int = 9, **data: Any) -> dict[str, Any]:
    return {"type": f"dossier.{kind}", "id": key, "at": f"2026-10-{day:02d}T{hour:02d}:00:00{TZ}",
            "data": data or dict(DATA[f"dossier.{kind}"])}


def dossier_through(ledger: DossierLedger, *kinds: str, key: str = "d1") -> None:
    """Submit a dossier and take it through ``kinds``, one hour apart from 2 Oct 08:00."""
    ledger.record(submitted(key))
    for hour, kind in enumerate(kinds, start=8):
        ledger.record(step(kind, key, day=2 + hour // 24, hour=hour % 24))
