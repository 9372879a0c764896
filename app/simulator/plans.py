"""Timed plans of steps: a dossier from submission to rating, a petition, a procedure's
publication. Pure: a plan depends only on its inputs and the random generator."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from app.simulator.calibration import Quality
from app.simulator.catalogue import (
    APOLOGY_REASONS,
    REFUSAL_REASONS,
    REJECTION_REASONS,
    STOP_REASONS,
    SUPPLEMENT_REASONS,
    ProcedureSpec,
)
from app.simulator.timing import OfficeHours, any_time_on, chance, second
from domain.calendar import end_of_day, local_date

REFUSED, REJECTED, STOPPED, WITHDRAWN = 0.02, 0.01, 0.01, 0.012
SECOND_SUPPLEMENT = 0.25
APOLOGY = 0.8  # late dossiers that get an apology letter before the due date
TRANSFER_INTER_AGENCY, TRANSFER_INTERNAL = 0.12, 0.05
ONLINE_METHODS = ("national_portal", "local_gateway")


@dataclass(slots=True)
class Step:
    """One event to record, at its simulated moment."""

    at: datetime
    type: str
    id: str
    data: dict[str, Any]
    province: str
    effect: Callable[[], None] | None = None  # run by the engine when the step is emitted

    def wire(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "at": self.at.isoformat(), "data": self.data}


@dataclass(frozen=True, slots=True)
class Slot:
    """A catalogue procedure at one authority unit; its versions share the base key."""

    base: str
    spec: ProcedureSpec
    unit: str
    province: str


@dataclass(slots=True)
class Offer:
    """What the engine knows of a slot's current procedure version."""

    key: str
    level: str = "none"
    integrated: bool = False
    renewing: bool = False
    version: int = 1


@dataclass
class DossierRequest:
    """Everything a dossier's plan depends on besides the random generator."""

    id: str
    code: str
    slot: Slot
    offer: Offer
    quality: Quality
    submitted_at: datetime
    channel: str
    applicant_kind: str
    transfer_targets: list[str] = field(default_factory=list)


class DossierPlanner:
    """Plans a dossier's whole life at submission: which path, and when each step happens."""

    def __init__(self, hours: OfficeHours) -> None:
        self.hours = hours

    def plan(self, rng: random.Random, req: DossierRequest) -> list[Step]:
        steps = [self._step(req, req.submitted_at, "dossier.submitted", self._submitted(rng, req))]
        received = self._reception_time(rng, req)
        if chance(rng, REFUSED):
            steps.append(self._step(req, received, "dossier.refused",
                                    {"reason": rng.choice(REFUSAL_REASONS)}))
            return steps
        steps.append(self._step(req, received, "dossier.received", {}))
        floating: list[Step] = []
        if chance(rng, req.quality.sync):
            synced = received + timedelta(minutes=rng.uniform(1, 90))
            floating.append(self._step(req, second(synced), "dossier.synced", {}))
        spec, q = req.slot.spec, req.quality
        on_time = chance(rng, q.on_time)
        if (spec.same_day and on_time and req.channel == "direct"
                and chance(rng, q.same_day)):
            steps += self._at_the_counter(rng, req, received)
        else:
            steps += self._processing(rng, req, received, on_time, floating)
        steps += floating
        steps.sort(key=lambda s: s.at)  # stable: the lifecycle order of equal moments stays
        return steps

    # -- the paths ------------------------------------------------------------------------

    def _at_the_counter(self, rng: random.Random, req: DossierRequest,
                        received: datetime) -> list[Step]:
        """"5 tại chỗ": appraise, approve, stamp and return at the counter within the hour."""
        t = received
        out = []
        for kind in ("dossier.appraised", "dossier.approved", "dossier.signed"):
            t = second(t + timedelta(minutes=rng.uniform(2, 12)))
            out.append(self._step(req, t, kind, {"by": _staff(rng, req)}))
        fee = req.slot.spec.fee_vnd
        if fee:
            out.append(self._step(req, t, "dossier.fee_requested", {"amount_vnd": fee}))
            t = second(t + timedelta(minutes=rng.uniform(1, 5)))
            out.append(self._step(req, t, "dossier.fee_paid",
                                  {"amount_vnd": fee, "method": self._pay_method(rng, req)}))
        t = second(t + timedelta(minutes=rng.uniform(1, 5)))
        out.append(self._step(req, t, "dossier.resolved", self._result(rng, req)))
        t = second(t + timedelta(minutes=rng.uniform(1, 10)))
        out.append(self._step(req, t, "dossier.result_returned", {"method": "counter"}))
        out += self._rating(rng, req, t, late=False)
        return out

    def _processing(self, rng: random.Random, req: DossierRequest, received: datetime,
                    on_time: bool, floating: list[Step]) -> list[Step]:
        spec = req.slot.spec
        received_day = local_date(received)
        due_day = self.hours.nth_day_after(received_day, spec.statutory_days)
        end = self._adjusted_end(rng, received, received_day, due_day, on_time)
        out: list[Step] = []
        cursor, waited = received, timedelta(0)
        ending = rng.random()
        rounds = 0
        if spec.statutory_days >= 2 and chance(rng, req.quality.supplement):
            rounds = 2 if chance(rng, SECOND_SUPPLEMENT) else 1
        abandoned = ending < STOPPED + WITHDRAWN
        if abandoned and spec.statutory_days >= 2 and chance(rng, 0.5):
            # Asked to supplement, the applicant never does: withdrawn, or the agency stops.
            asked = self.hours.between(rng, cursor, end)
            out.append(self._step(req, asked, "dossier.supplement_requested",
                                  {"reason": rng.choice(SUPPLEMENT_REASONS)}))
            gave_up = self.hours.later(rng, asked, 2 * 1440, 8 * 1440)
            if ending < STOPPED:
                out.append(self._step(req, gave_up, "dossier.stopped",
                                      {"reason": rng.choice(STOP_REASONS)}))
            else:
                out.append(self._step(req, gave_up, "dossier.withdrawn", {}))
            return out
        for _ in range(rounds):
            asked = self.hours.between(rng, cursor, cursor + (end + waited - cursor) / 2)
            done = self._supplement_done(rng, req, asked)
            out.append(self._step(req, asked, "dossier.supplement_requested",
                                  {"reason": rng.choice(SUPPLEMENT_REASONS)}))
            out.append(self._step(req, done, "dossier.supplement_completed", {}))
            waited += done - asked
            cursor = done
        finish = end + waited
        if abandoned:
            at = self.hours.between(rng, cursor, finish)
            if ending < STOPPED:
                out.append(self._step(req, at, "dossier.stopped",
                                      {"reason": rng.choice(STOP_REASONS)}))
            else:
                out.append(self._step(req, at, "dossier.withdrawn", {}))
            return out
        if ending < STOPPED + WITHDRAWN + REJECTED:
            at = self.hours.between(rng, cursor, finish)
            out.append(self._step(req, at, "dossier.appraised", {"by": _staff(rng, req)}))
            out.append(self._step(req, max(at, finish), "dossier.rejected",
                                  {"reason": rng.choice(REJECTION_REASONS)}))
            return out
        if not on_time and chance(rng, APOLOGY):
            floating += self._apology(rng, req, received, due_day, finish)
        out += self._to_resolution(rng, req, cursor, finish, late=not on_time)
        return out

    def _adjusted_end(self, rng: random.Random, received: datetime, received_day: date,
                      due_day: date, on_time: bool) -> datetime:
        """When processing ends, not counting supplement waits: before 24:00 of the due day
        when on time, one to several working days after it when late."""
        if on_time:
            span = self.hours.calendar.working_days_between(received_day, due_day)
            day = self.hours.nth_day_after(received_day, int((span + 1) * rng.random() ** 1.6))
            day = min(day, due_day)
        else:
            late_by = 1 + min(9, int(rng.expovariate(0.6)))
            day = self.hours.nth_day_after(due_day, late_by)
        earliest = received + timedelta(minutes=rng.uniform(10, 30))
        if day == received_day:
            return self.hours.moment_on(rng, day, after=earliest)
        return self.hours.moment_on(rng, day)

    def _supplement_done(self, rng: random.Random, req: DossierRequest,
                         asked: datetime) -> datetime:
        days = rng.randint(1, 6)
        day = local_date(asked) + timedelta(days=days)
        if req.channel == "online":
            return max(any_time_on(rng, day), asked + timedelta(hours=1))
        day = self.hours.nth_day_after(day - timedelta(days=1), 1)
        return self.hours.moment_on(rng, day)

    def _to_resolution(self, rng: random.Random, req: DossierRequest, start: datetime,
                       finish: datetime, late: bool) -> list[Step]:
        spec = req.slot.spec
        kinds: list[tuple[str, dict[str, Any]]] = []
        if req.transfer_targets and chance(rng, TRANSFER_INTER_AGENCY):
            kinds.append(("dossier.transferred", {"to_unit": rng.choice(req.transfer_targets),
                                                  "kind": "inter_agency"}))
        elif chance(rng, TRANSFER_INTERNAL):
            kinds.append(("dossier.transferred", {"to_unit": req.slot.unit, "kind": "internal"}))
        for kind in ("dossier.appraised", "dossier.approved", "dossier.signed"):
            kinds.append((kind, {"by": _staff(rng, req)}))
        method = self._pay_method(rng, req) if spec.fee_vnd else "cash"
        if spec.fee_vnd:
            kinds.append(("dossier.fee_requested", {"amount_vnd": spec.fee_vnd}))
            if method != "cash":
                kinds.append(("dossier.fee_paid", {"amount_vnd": spec.fee_vnd,
                                                   "method": method}))
        moments = sorted(self.hours.between(rng, start, finish) for _ in kinds)
        out = [self._step(req, at, kind, data)
               for at, (kind, data) in zip(moments, kinds, strict=True)]
        out.append(self._step(req, finish, "dossier.resolved", self._result(rng, req)))
        returned = self._return_time(rng, req, finish)
        if spec.fee_vnd and method == "cash":  # paid at the counter when collecting the result
            out.append(self._step(req, returned, "dossier.fee_paid",
                                  {"amount_vnd": spec.fee_vnd, "method": "cash"}))
        out.append(self._step(req, returned, "dossier.result_returned",
                              {"method": self._return_method(req)}))
        out += self._rating(rng, req, returned, late=late)
        return out

    def _apology(self, rng: random.Random, req: DossierRequest, received: datetime,
                 due_day: date, finish: datetime) -> list[Step]:
        """Văn bản xin lỗi, sent on the due day or the working day before, with a new date."""
        day = due_day if chance(rng, 0.6) else self.hours.calendar.previous_working_day(due_day)
        at = self.hours.moment_on(rng, max(day, local_date(received)), after=received)
        if at >= end_of_day(due_day) or at >= finish:
            return []
        new_due = end_of_day(max(local_date(finish), self.hours.nth_day_after(due_day, 1)))
        return [self._step(req, at, "dossier.apology_issued",
                           {"new_due_at": new_due.isoformat(),
                            "reason": rng.choice(APOLOGY_REASONS)})]

    # -- details --------------------------------------------------------------------------

    def _submitted(self, rng: random.Random, req: DossierRequest) -> dict[str, Any]:
        q, spec = req.quality, req.slot.spec
        digitized = chance(rng, q.digitized)
        reused = chance(rng, q.reused)
        personal = chance(rng, q.personal_store / 2)
        citizen = req.applicant_kind == "citizen"
        population = spec.citizen_target and citizen and chance(rng, q.population_db)
        components = [
            {"name": name,
             "digitized": digitized and (i == 0 or chance(rng, 0.7)),
             "reused": reused and i == len(spec.components) - 1,
             "from_personal_store": personal and i == 0,
             "from_population_db": population and i == 0}
            for i, name in enumerate(spec.components)
        ]
        vneid = citizen and chance(rng, q.population_db) and (
            req.channel == "online" or chance(rng, 0.5))
        return {"code": req.code, "procedure": req.offer.key, "unit": req.slot.unit,
                "channel": req.channel, "applicant_kind": req.applicant_kind,
                "applicant_ref": f"ref-{rng.getrandbits(48):012x}", "vneid_verified": vneid,
                "components": components}

    def _reception_time(self, rng: random.Random, req: DossierRequest) -> datetime:
        if req.channel == "direct":
            return second(req.submitted_at + timedelta(minutes=rng.uniform(2, 20)))
        return self.hours.later(rng, req.submitted_at, 10, 240)

    def _pay_method(self, rng: random.Random, req: DossierRequest) -> str:
        if req.offer.integrated and chance(rng, req.quality.pay_online):
            return rng.choice(ONLINE_METHODS)
        return "cash"

    def _result(self, rng: random.Random, req: DossierRequest) -> dict[str, Any]:
        wanted = req.quality.e_result if req.slot.spec.requires_result_document else 0.5
        electronic = chance(rng, wanted)
        pushed = electronic and chance(rng, req.quality.personal_store)
        return {"electronic_result": electronic, "pushed_to_personal_store": pushed}

    def _return_time(self, rng: random.Random, req: DossierRequest, resolved: datetime) -> datetime:
        if req.channel == "online":
            return second(resolved + timedelta(minutes=rng.uniform(1, 30)))
        return self.hours.later(rng, resolved, 20, 3 * 1440)

    def _return_method(self, req: DossierRequest) -> str:
        return {"online": "online", "postal": "postal"}.get(req.channel, "counter")

    def _rating(self, rng: random.Random, req: DossierRequest, after: datetime,
                late: bool) -> list[Step]:
        if not chance(rng, req.quality.rated):
            return []
        satisfied = chance(rng, req.quality.satisfied * (0.6 if late else 1.0))
        at = second(after + timedelta(minutes=rng.uniform(1, 3 * 1440)))
        return [self._step(req, at, "dossier.rated", {"satisfied": satisfied})]

    def _step(self, req: DossierRequest, at: datetime, kind: str,
              data: dict[str, Any]) -> Step:
        return Step(at, kind, req.id, data, req.slot.province)


def _staff(rng: random.Random, req: DossierRequest) -> str:
    return f"cb-{req.slot.unit}-{rng.randint(1, 30):02d}"
