"""Plans for the procedure catalogue (publication decisions, portal publication, online levels)
and for petitions (phản ánh, kiến nghị). Pure, like the dossier plans."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from app.simulator.calibration import Quality
from app.simulator.plans import Offer, Slot, Step
from app.simulator.timing import OfficeHours, chance, second
from domain.calendar import local_date, start_of_day

PETITION_RATED = 0.7
PUBLISH_ON_TIME_DAYS = 5  # công khai within 5 working days of the decision (1.2)


class ProcedurePlanner:
    """Registration, decision (QĐ công bố), publication, online level and payment of one
    procedure version."""

    def __init__(self, hours: OfficeHours) -> None:
        self.hours = hours

    def initial(self, rng: random.Random, slot: Slot, offer: Offer, q: Quality,
                at: datetime) -> list[Step]:
        """A procedure already in force when the simulation starts: everything at ``at``; its
        decision was taken some working days before (late publication if more than five)."""
        on_time = chance(rng, q.publish_on_time)
        lag = rng.randint(0, PUBLISH_ON_TIME_DAYS) if on_time else rng.randint(6, 15)
        today = local_date(at)
        decision_on = self.hours.calendar.nth_working_day_before(today, lag) if lag else today
        steps = [self._registered(slot, offer.key, at, q, decision_on, rng),
                 self._step(slot, offer.key, at, "procedure.decision_issued",
                            {"decision_on": decision_on.isoformat()})]
        steps += self._publication(rng, slot, offer, q, at)
        return steps

    def renewal(self, rng: random.Random, slot: Slot, old: Offer, new: Offer, q: Quality,
                at: datetime, switch: Callable[[], None]) -> list[Step]:
        """A new version replacing ``old``: registered and decided at ``at``, published on
        time or late, and the old version abolished at the next midnight (``switch`` then
        routes new dossiers to the new version)."""
        decision_on = local_date(at)
        steps = [self._registered(slot, new.key, at, q, decision_on, rng),
                 self._step(slot, new.key, at, "procedure.decision_issued",
                            {"decision_on": decision_on.isoformat()})]
        if chance(rng, q.publish_on_time):
            lag = min(PUBLISH_ON_TIME_DAYS, 1 + int(rng.expovariate(0.8)))
            day = self.hours.nth_day_after(decision_on, lag)
        else:
            day = self.hours.nth_day_after(decision_on, rng.randint(6, 12))
        steps += self._publication(rng, slot, new, q, self.hours.moment_on(rng, day))
        midnight = start_of_day(local_date(steps[-1].at) + timedelta(days=1))
        steps.append(Step(midnight, "procedure.abolished", old.key, {}, slot.province, switch))
        return steps

    def _registered(self, slot: Slot, key: str, at: datetime, q: Quality, decision_on: date,
                    rng: random.Random) -> Step:
        if chance(rng, q.decision_on_time):  # decided ≥ 5 working days before it takes effect
            effective = self.hours.nth_day_after(decision_on, rng.randint(6, 25))
        else:
            effective = self.hours.nth_day_after(decision_on, rng.randint(0, 3))
        spec = slot.spec
        return self._step(slot, key, at, "procedure.registered", {
            "code": spec.code, "name": spec.name, "unit": slot.unit,
            "statutory_days": spec.statutory_days, "fee_vnd": spec.fee_vnd,
            "requires_result_document": spec.requires_result_document,
            "full_online_eligible": spec.full_online_eligible,
            "citizen_target": spec.citizen_target,
            "legal_basis_effective_on": effective.isoformat(),
        })

    def _publication(self, rng: random.Random, slot: Slot, offer: Offer, q: Quality,
                     at: datetime) -> list[Step]:
        spec = slot.spec
        offer.level = "none"
        if spec.max_level != "none" and chance(rng, q.offer_online):
            full = spec.max_level == "full" and chance(rng, q.full_given_offer)
            offer.level = "full" if full else "partial"
        steps = [
            self._step(slot, offer.key, at, "procedure.published",
                       {"components_complete": chance(rng, q.components_complete)}),
            self._step(slot, offer.key, second(at + timedelta(minutes=rng.uniform(0, 30))),
                       "procedure.online_level_set", {"level": offer.level}),
        ]
        if spec.fee_vnd:
            offer.integrated = chance(rng, q.payment_integrated)
            steps.append(self._step(slot, offer.key, steps[-1].at,
                                    "procedure.payment_integrated",
                                    {"integrated": offer.integrated}))
        return steps

    @staticmethod
    def _step(slot: Slot, key: str, at: datetime, kind: str, data: dict[str, Any]) -> Step:
        return Step(at, kind, key, data, slot.province)


class PetitionPlanner:
    """A petition: received, answered (within 15 working days, or late), rated, and
    sometimes complained about again (tái phản ánh)."""

    def __init__(self, hours: OfficeHours) -> None:
        self.hours = hours

    def plan(self, rng: random.Random, key: str, province: str, q: Quality, at: datetime,
             unit: str, dossier: str | None) -> list[Step]:
        kind = "staff_conduct" if chance(rng, 0.35) else "procedure_rule"
        steps = [Step(at, "petition.received", key,
                      {"unit": unit, "kind": kind, "dossier": dossier}, province)]
        if chance(rng, q.petition_on_time):  # most are answered within a few working days
            within = min(15, 1 + int(rng.expovariate(0.6)))
        else:
            within = rng.randint(16, 25)
        day = self.hours.nth_day_after(local_date(at), within)
        answered = self.hours.moment_on(rng, day, after=at)
        steps.append(Step(answered, "petition.answered", key, {}, province))
        happy = chance(rng, q.petition_happy)
        t = answered
        if chance(rng, PETITION_RATED):
            likes = rng.randint(1, 6)
            dislikes = rng.randint(0, likes - 1) if happy else likes + rng.randint(1, 4)
            t = second(t + timedelta(hours=rng.uniform(1, 72)))
            steps.append(Step(t, "petition.rated", key,
                              {"likes": likes, "dislikes": dislikes}, province))
        if chance(rng, q.recomplain * (1.0 if happy else 2.5)):
            t = self.hours.later(rng, t, 60, 2 * 1440)
            steps.append(Step(t, "petition.recomplained", key, {}, province))
        return steps
