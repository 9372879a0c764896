"""Builders of valid envelopes for tests, benchmarks and demos (hand-written and random)."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.calendar import LOCAL_TZ

Envelope = dict[str, Any]
STREAM_OF = {"unit": "unit", "procedure": "procedure", "dossier": "dossier", "petition": "petition"}


def local(text: str | datetime) -> datetime:
    """A local (+07:00) datetime from ``2026-10-01T09:00`` (an explicit offset is kept)."""
    moment = text if isinstance(text, datetime) else datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


@dataclass
class EventBuilder:
    """Appends envelopes in ledger order, numbering ``seq`` per aggregate and ``position``."""

    events: list[Envelope] = field(default_factory=list)
    _seq: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def emit(self, type_: str, aggregate: str, at: str | datetime, **data: Any) -> Envelope:
        stream = type_.split(".", 1)[0]
        self._seq[f"{stream}/{aggregate}"] += 1
        envelope = {"type": type_, "stream": STREAM_OF[stream], "id": aggregate,
                    "seq": self._seq[f"{stream}/{aggregate}"], "at": local(at).isoformat(),
                    "data": data, "position": len(self.events) + 1}
        self.events.append(envelope)
        return envelope

    def unit(self, code: str, parent: str, at: str | datetime = "2026-01-01T08:00",
             kind: str = "department", name: str | None = None) -> Envelope:
        return self.emit("unit.registered", code, at, name=name or f"Đơn vị {code}",
                         parent=parent, kind=kind)

    def procedure(self, procedure_id: str, unit: str, at: str | datetime = "2026-01-01T08:00", *,
                  statutory_days: int = 5, fee_vnd: int = 0, requires_result_document: bool = True,
                  full_online_eligible: bool = False, citizen_target: bool = False,
                  legal_basis_effective_on: str = "2026-12-31") -> Envelope:
        return self.emit("procedure.registered", procedure_id, at, code=f"1.{procedure_id}",
                         name=f"Thủ tục {procedure_id}", unit=unit, statutory_days=statutory_days,
                         fee_vnd=fee_vnd, requires_result_document=requires_result_document,
                         full_online_eligible=full_online_eligible, citizen_target=citizen_target,
                         legal_basis_effective_on=legal_basis_effective_on)

    def submit(self, dossier_id: str, procedure: str, unit: str, at: str | datetime, *,
               channel: str = "direct", vneid_verified: bool = False,
               **flags: bool) -> Envelope:
        component = {"name": "Đơn", "digitized": False, "reused": False,
                     "from_personal_store": False, "from_population_db": False, **flags}
        return self.emit("dossier.submitted", dossier_id, at, code=f"H-{dossier_id}",
                         procedure=procedure, unit=unit, channel=channel,
                         applicant_kind="citizen", applicant_ref=f"ref-{dossier_id}",
                         vneid_verified=vneid_verified, components=[component])

    def receive(self, dossier_id: str, at: str | datetime,
                due_at: str | datetime | None = None) -> Envelope:
        data = {} if due_at is None else {"due_at": local(due_at).isoformat()}
        return self.emit("dossier.received", dossier_id, at, **data)

    def dossier(self, dossier_id: str, action: str, at: str | datetime, **data: Any) -> Envelope:
        """Any other dossier event: ``dossier(id, "resolved", at, electronic_result=True)``."""
        return self.emit(f"dossier.{action}", dossier_id, at, **data)


_STEPS = ("supplement", "supplement_open", "pay_online", "pay_cash", "sync", "apology",
          "transfer", "appraise", "resolve", "return", "withdraw", "stop", "reject", "rate")


@dataclass
class _DossierRun:
    builder: EventBuilder
    dossier_id: str
    at: datetime
    due: datetime
    supplement_open: bool = False
    ended: bool = False
    resolved: bool = False
    returned: bool = False
    rated: bool = False
    synced: bool = False

    def step(self, name: str, gap: timedelta, flag: bool) -> None:
        self.at += gap
        emit = self.builder.dossier
        d, at = self.dossier_id, self.at
        if self.supplement_open and name in ("appraise", "resolve", "supplement"):
            emit(d, "supplement_completed", at)
            self.supplement_open = False
            self.at += gap
            at = self.at
        if name in ("supplement", "supplement_open") and not self.ended:
            emit(d, "supplement_requested", at, reason="Thiếu giấy tờ")
            self.supplement_open = True
            if name == "supplement":
                self.at += gap
                emit(d, "supplement_completed", self.at)
                self.supplement_open = False
        elif name in ("pay_online", "pay_cash") and (not self.ended or self.resolved):
            method = ("national_portal" if flag else "local_gateway") if name == "pay_online" \
                else "cash"
            emit(d, "fee_paid", at, amount_vnd=50000, method=method)
        elif name == "sync" and not self.synced:
            emit(d, "synced", at)
            self.synced = True
        elif name == "apology" and not self.ended:
            self.due = max(self.due, at) + timedelta(days=3)
            emit(d, "apology_issued", at, new_due_at=self.due.isoformat(), reason="Chậm")
        elif name == "transfer" and not self.ended:
            emit(d, "transferred", at, to_unit="22", kind="inter_agency")
        elif name == "appraise" and not self.ended:
            emit(d, "appraised", at, by="staff-1")
        elif name == "resolve" and not self.ended:
            emit(d, "resolved", at, electronic_result=flag, pushed_to_personal_store=not flag)
            self.ended = self.resolved = True
        elif name == "return" and not self.returned and (self.ended or flag):
            emit(d, "result_returned", at, method="counter")
            self.returned = True
        elif name in ("withdraw", "stop", "reject") and not self.ended:
            action = {"withdraw": "withdrawn", "stop": "stopped", "reject": "rejected"}[name]
            emit(d, action, at, **({} if name == "withdraw" else {"reason": "Không đủ"}))
            self.ended = True
        elif name == "rate" and not self.rated and self.ended:
            emit(d, "rated", at, satisfied=flag)
            self.rated = True


def random_history(seed: int, dossiers: int, start: str = "2026-09-20T08:00",
                   province: str = "22", departments: int = 3, communes: int = 3,
                   procedures: int = 6, petitions: int = 0, interleave: bool = True
                   ) -> list[Envelope]:
    """A valid ledger history: units, procedures, dossiers (and petitions) with random lives.

    Dossier events are emitted aggregate by aggregate, then merged by ``at`` (so ledger order
    matches time order, like a live ledger) when ``interleave`` is true.
    """
    rng = random.Random(seed)
    b = EventBuilder()
    origin = local(start)
    units = [f"{province}.S{i}" for i in range(departments)]
    for code in units:
        b.unit(code, province, origin.isoformat())
    from domain.units import UnitKind, UnitRegistry

    registry = UnitRegistry()
    units += [u.code for u in registry.children(province) if u.kind is UnitKind.COMMUNE][:communes]
    for i in range(procedures):
        proc_at = origin + timedelta(minutes=i)
        b.procedure(f"p{i}", rng.choice([province, *units[:departments]]), proc_at.isoformat(),
                    statutory_days=rng.choice([0, 1, 3, 5, 10]),
                    fee_vnd=rng.choice([0, 50000]), full_online_eligible=rng.random() < 0.5,
                    citizen_target=rng.random() < 0.6,
                    requires_result_document=rng.random() < 0.8,
                    legal_basis_effective_on=(origin + timedelta(days=rng.randint(5, 60)))
                    .date().isoformat())
        for _ in range(rng.randint(0, 3)):
            proc_at += timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 9))
            kind = rng.choice(["decision", "publish", "level", "integrate"])
            if kind == "decision":
                b.emit("procedure.decision_issued", f"p{i}", proc_at,
                       decision_on=(proc_at.date() - timedelta(days=rng.randint(0, 3))).isoformat())
            elif kind == "publish":
                b.emit("procedure.published", f"p{i}", proc_at,
                       components_complete=rng.random() < 0.7)
            elif kind == "level":
                b.emit("procedure.online_level_set", f"p{i}", proc_at,
                       level=rng.choice(["none", "partial", "full"]))
            else:
                b.emit("procedure.payment_integrated", f"p{i}", proc_at,
                       integrated=rng.random() < 0.7)
    head = len(b.events)
    catalogue = list(range(procedures))
    for n in range(dossiers):
        d = f"d{n:05d}"
        at = origin + timedelta(days=1, hours=rng.randint(0, 24 * 60))
        proc = rng.choice(catalogue)
        b.submit(d, f"p{proc}", rng.choice(units), at.isoformat(),
                 channel=rng.choice(["direct", "online", "postal"]),
                 vneid_verified=rng.random() < 0.4, digitized=rng.random() < 0.5,
                 reused=rng.random() < 0.3, from_personal_store=rng.random() < 0.2,
                 from_population_db=rng.random() < 0.3)
        at += timedelta(minutes=rng.randint(1, 600))
        if rng.random() < 0.05:
            b.dossier(d, "refused", at.isoformat(), reason="Không thuộc thẩm quyền")
            continue
        due = at + timedelta(days=rng.randint(0, 14))
        b.receive(d, at.isoformat(), due.isoformat() if rng.random() < 0.9 else None)
        run = _DossierRun(b, d, at, due)
        for _ in range(rng.randint(0, 7)):
            run.step(rng.choice(_STEPS), timedelta(hours=rng.randint(1, 24 * 8)),
                     rng.random() < 0.6)
    for n in range(petitions):
        p = f"pk{n:04d}"
        at = origin + timedelta(days=2, hours=rng.randint(0, 24 * 60))
        named = f"d{rng.randrange(dossiers):05d}" if dossiers and rng.random() < 0.5 else None
        b.emit("petition.received", p, at, unit=rng.choice(units), kind="staff_conduct",
               **({"dossier": named} if named else {}))
        if rng.random() < 0.7:
            at += timedelta(days=rng.randint(1, 30))
            b.emit("petition.answered", p, at)
            if rng.random() < 0.6:
                at += timedelta(days=1)
                b.emit("petition.rated", p, at, likes=rng.randint(0, 5),
                       dislikes=rng.randint(0, 5))
            if rng.random() < 0.2:
                b.emit("petition.recomplained", p, at + timedelta(days=1))
    events = b.events
    if interleave:
        tail = sorted(events[head:], key=lambda e: e["at"])
        events = events[:head] + tail
    for position, event in enumerate(events, start=1):
        event["position"] = position
    return events
