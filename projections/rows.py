"""Per-dossier, per-procedure and per-petition fact rows at t (for ClickHouse and audits)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.calendar import WorkingCalendar
from projections.facts import DossierFacts, FactStore, PetitionFacts, ProcedureFacts, last_value_at
from projections.judge import judge_dossier, judge_petition, petition_displeased
from projections.periods import Instant, local_day, to_datetime
from projections.rulebook import Switches


def _time(instant: Instant | None, t: Instant) -> datetime | None:
    return None if instant is None or instant > t else to_datetime(instant)


def five_on_the_spot(f: DossierFacts, t: Instant) -> bool:
    """"5 tại chỗ": received, appraised, approved, signed and returned the same local day by
    the receiving unit (no transfer)."""
    steps = (f.received_at, f.appraised_at, f.approved_at, f.signed_at, f.returned_at)
    if any(step is None or step > t for step in steps):
        return False
    if f.transferred_at is not None and f.transferred_at <= t:
        return False
    return len({local_day(step) for step in steps if step is not None}) == 1


def dossier_row(f: DossierFacts, t: Instant, switches: Switches,
                calendar: WorkingCalendar) -> dict[str, Any]:
    """What is known of one dossier at t: timeliness (2.1), channels, data use, satisfaction."""
    received = f.received_at if f.received_at is not None and f.received_at <= t else None
    row: dict[str, Any] = {
        "dossier_id": f.id, "code": f.code, "procedure": f.procedure, "unit": f.unit,
        "channel": f.channel, "applicant_kind": f.applicant_kind,
        "submitted_at": _time(f.submitted_at, t), "received_at": _time(received, t),
        "refused": f.refused_at is not None and f.refused_at <= t,
        "due_at": to_datetime(f.due_at) if received is not None and f.due_at else None,
        "end_at": None, "adjusted_end_at": None, "status": "refused" if received is None else "",
        "on_time": None, "processing_working_days": None, "statutory_days": f.statutory_days,
        "paid_online": any(at <= t for at in f.online_payments),
        "digitized": f.digitized, "reused": f.reused,
        "personal_store": f.from_personal_store or (
            f.pushed_to_personal_store and f.resolved_at is not None and f.resolved_at <= t),
        "population_db": f.vneid_verified or f.from_population_db,
        "electronic_result": f.electronic_result and f.resolved_at is not None
        and f.resolved_at <= t,
        "synced": f.synced_at is not None and f.synced_at <= t,
        "rated_satisfied": f.satisfied if f.rated_at is not None and f.rated_at <= t else None,
        "named_by_petition": f.named_at is not None and f.named_at <= t,
        "five_on_the_spot": five_on_the_spot(f, t),
    }
    if received is None:
        if not row["refused"]:
            row["status"] = "submitted"
        return row
    verdict = judge_dossier(f, t, switches.apology_extends_due)
    on_time = verdict.on_time_at(t)
    row["on_time"] = on_time
    row["end_at"] = _time(verdict.end, t)
    adjusted = verdict.adjusted_end
    row["adjusted_end_at"] = None if adjusted is None else to_datetime(adjusted)
    if verdict.running:
        row["status"] = "open" if on_time else "open_late"
    else:
        row["status"] = ("on_time" if on_time else "late") if verdict.end is not None else (
            "waiting_supplement" if on_time else "waiting_supplement_late")
    finish = adjusted if adjusted is not None else t
    row["processing_working_days"] = calendar.working_days_between(
        local_day(received), local_day(max(finish, received)))
    return row


def procedure_row(p: ProcedureFacts, t: Instant) -> dict[str, Any]:
    return {
        "procedure_id": p.id, "code": p.code, "name": p.name, "unit": p.unit,
        "statutory_days": p.statutory_days, "fee_vnd": p.fee_vnd,
        "citizen_target": p.citizen_target, "full_online_eligible": p.full_online_eligible,
        "online_level": last_value_at(p.levels, t) or "none",
        "payment_integrated": bool(last_value_at(p.integrations, t)),
        "published": last_value_at(p.publications, t) is not None,
        "components_complete": bool(last_value_at(p.publications, t)),
        "decisions": [on.isoformat() for at, on in p.decisions if at <= t],
        "abolished": p.abolished_at is not None and p.abolished_at <= t,
    }


def petition_row(p: PetitionFacts, t: Instant, calendar: WorkingCalendar) -> dict[str, Any]:
    verdict = judge_petition(p, t, calendar)
    return {
        "petition_id": p.id, "unit": p.unit, "kind": p.kind, "dossier": p.dossier,
        "received_at": _time(p.received_at, t), "answered_at": _time(p.answered_at, t),
        "deadline": to_datetime(verdict.deadline), "on_time": verdict.on_time_at(t),
        "displeased": petition_displeased(p, t),
    }


def dossier_rows(store: FactStore, t: Instant, switches: Switches,
                 calendar: WorkingCalendar) -> list[dict[str, Any]]:
    """One row per dossier submitted by t."""
    return [dossier_row(f, t, switches, calendar) for f in store.dossiers.values()
            if f.submitted_at <= t]
