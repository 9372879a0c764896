"""A synthetic, valid event file for benchmarks: departments, procedures and dossiers taken
through a full lifecycle, in time order."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

import orjson

from domain.calendar import LOCAL_TZ

STEPS = (
    ("dossier.received", {}),
    ("dossier.appraised", {"by": "staff-1"}),
    ("dossier.approved", {"by": "staff-2"}),
    ("dossier.signed", {"by": "staff-2"}),
    ("dossier.resolved", {"electronic_result": True, "pushed_to_personal_store": False}),
    ("dossier.result_returned", {"method": "counter"}),
    ("dossier.synced", {}),
)
EVENTS_PER_DOSSIER = len(STEPS) + 1


def workload(events: int, seed: int = 7, provinces: tuple[str, ...] = ("22", "01", "79")
             ) -> Iterator[dict]:
    """About ``events`` wire events (with seq), valid for an empty ledger."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 8, 0, tzinfo=LOCAL_TZ)
    for code in provinces:
        yield {"type": "unit.registered", "stream": "unit", "id": f"{code}.SXD", "seq": 1,
               "at": start.isoformat(), "data": {"name": f"Sở Xây dựng {code}",
                                                  "parent": code, "kind": "department"}}
        yield {"type": "procedure.registered", "stream": "procedure", "id": f"{code}.p1",
               "seq": 1, "at": start.isoformat(), "data": {
                   "code": "1.009972", "name": "Cấp giấy phép xây dựng", "unit": f"{code}.SXD",
                   "statutory_days": 5, "fee_vnd": 0, "requires_result_document": True,
                   "full_online_eligible": True, "citizen_target": True,
                   "legal_basis_effective_on": "2026-01-01"}}
    dossiers = max(1, (events - 2 * len(provinces)) // EVENTS_PER_DOSSIER)
    for n in range(dossiers):
        code = provinces[n % len(provinces)]
        key = f"d-{n:07d}"
        at = start + timedelta(minutes=n)
        yield {"type": "dossier.submitted", "stream": "dossier", "id": key, "seq": 1,
               "at": at.isoformat(), "data": {
                   "code": f"000.00.{code}.H40-{n:07d}", "procedure": f"{code}.p1",
                   "unit": f"{code}.SXD", "channel": rng.choice(("direct", "online")),
                   "applicant_kind": "citizen", "applicant_ref": f"ref-{n}",
                   "vneid_verified": rng.random() < 0.5, "components": [
                       {"name": "Đơn đề nghị", "digitized": True, "reused": False,
                        "from_personal_store": False, "from_population_db": False}]}}
        for seq, (kind, data) in enumerate(STEPS, start=2):
            at += timedelta(hours=rng.randint(1, 20))
            yield {"type": kind, "stream": "dossier", "id": key, "seq": seq,
                   "at": at.isoformat(), "data": dict(data)}


def workload_lines(events: int, seed: int = 7) -> list[bytes]:
    return [orjson.dumps(e) + b"\n" for e in workload(events, seed)]
