"""The workload generator: a seeded, pure stream of steps in simulated-time order for the
34 provinces (no ledger, no clock, no global state)."""

from __future__ import annotations

import heapq
import random
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from app.simulator.calibration import (
    DEFAULT_SCALE,
    POPULATION_THOUSANDS,
    ProvinceProfile,
    Quality,
    draw_profiles,
)
from app.simulator.catalogue import CATALOGUE, COMMUNE, DEPARTMENTS
from app.simulator.plans import DossierPlanner, DossierRequest, Offer, Slot, Step
from app.simulator.procedures import PetitionPlanner, ProcedurePlanner
from app.simulator.timing import OfficeHours, any_time_on, chance, poisson, second
from domain.calendar import (
    DEFAULT_CALENDAR,
    LOCAL_TZ,
    WorkingCalendar,
    local_date,
    start_of_day,
)
from domain.units import UnitKind, builtin_units

RENEWAL_RATE = 0.3  # new procedure versions a province publishes a simulated day
WORKING_DAY_FACTOR, DAY_OFF_FACTOR = 1.3, 0.25  # demand on working days and days off
POSTAL = 0.05
BUSINESS_AMONG_CITIZEN_PROCEDURES = 0.1
NAMED_DOSSIER = 0.5  # petitions that name a dossier
_TICK, _STEP = 1, 0  # at equal moments, steps (such as an abolition) go before the day's tick

STATUS_OF = {
    "dossier.submitted": "submitted", "dossier.received": "in_process",
    "dossier.refused": "refused", "dossier.supplement_requested": "supplement_requested",
    "dossier.supplement_completed": "in_process", "dossier.resolved": "resolved",
    "dossier.result_returned": "returned", "dossier.rejected": "rejected",
    "dossier.stopped": "stopped", "dossier.withdrawn": "withdrawn",
}


@dataclass(frozen=True)
class Estate:
    """The units and procedure slots a seed simulates."""

    provinces: list[str]
    departments: dict[str, list[str]]  # province -> department codes ("22.SXD")
    communes: dict[str, list[str]]  # province -> the communes that file dossiers
    all_communes: dict[str, list[str]]  # province -> every commune (for capabilities)
    slots: list[Slot]


def build_estate(seed: int, provinces: list[str] | None = None) -> Estate:
    """Departments, a few communes per province (official codes) and their procedure slots."""
    codes = sorted(provinces or POPULATION_THOUSANDS)
    units = builtin_units()
    all_communes: dict[str, list[str]] = {code: [] for code in codes}
    for builtin in units.values():
        if builtin.kind is UnitKind.COMMUNE and builtin.parent in all_communes:
            all_communes[builtin.parent].append(builtin.code)
    departments: dict[str, list[str]] = {}
    communes: dict[str, list[str]] = {}
    slots: list[Slot] = []
    for code in codes:
        rng = random.Random(f"{seed}:communes:{code}")
        count = max(3, min(8, round(POPULATION_THOUSANDS[code] / 600)))
        communes[code] = sorted(rng.sample(sorted(all_communes[code]), count))
        departments[code] = [f"{code}.{abbr}" for abbr in DEPARTMENTS]
        for spec in CATALOGUE:
            if spec.authority == COMMUNE:
                slots += [Slot(f"{c}.{spec.slug}", spec, c, code) for c in communes[code]]
            else:
                unit = f"{code}.{spec.authority}"
                slots.append(Slot(f"{unit}.{spec.slug}", spec, unit, code))
    return Estate(codes, departments, communes, all_communes, slots)


@dataclass
class Existing:
    """What an earlier run left in the ledger, so that this run continues it."""

    units: set[str] = field(default_factory=set)  # registered units already there
    offers: dict[str, Offer] = field(default_factory=dict)  # slot base -> current version
    profiled: set[str] = field(default_factory=set)  # communes whose capability was set


@dataclass
class EngineStats:
    """Counts of what the engine has emitted so far."""

    events: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    events_by_province: Counter[str] = field(default_factory=Counter)
    dossiers_by_province: Counter[str] = field(default_factory=Counter)
    status: dict[str, str] = field(default_factory=dict)

    def count(self, step: Step) -> None:
        self.events += 1
        self.by_type[step.type] += 1
        self.events_by_province[step.province] += 1
        if step.type == "dossier.submitted":
            self.dossiers_by_province[step.province] += 1
        status = STATUS_OF.get(step.type)
        if status is not None:
            self.status[step.id] = status

    @property
    def dossiers(self) -> int:
        return sum(self.dossiers_by_province.values())

    def statuses(self) -> Counter[str]:
        return Counter(self.status.values())


@dataclass(order=True)
class _Entry:
    at: datetime
    priority: int
    order: int
    plan: list[Step] = field(compare=False)
    index: int = field(compare=False, default=0)


class WorkloadEngine:
    """Generates the simulated workload from ``start`` to ``end`` in time order.

    Everything follows from ``seed``: the provinces' quality and its daily drift, arrivals,
    each dossier's path. ``marker`` goes into ids so that runs never collide; ``existing``
    says what earlier runs registered (their units and procedure versions are reused).
    """

    def __init__(self, *, seed: int, start: datetime, end: datetime,
                 scale: float = DEFAULT_SCALE, provinces: list[str] | None = None,
                 marker: str = "0", existing: Existing | None = None,
                 calendar: WorkingCalendar = DEFAULT_CALENDAR) -> None:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        self.seed, self.scale = seed, scale
        # local time, whole seconds: wire moments carry no fractions
        self.start = second(start.astimezone(LOCAL_TZ))
        self.end = second(end.astimezone(LOCAL_TZ))
        self.marker = marker
        self.estate = build_estate(seed, provinces)
        self.existing = existing or Existing()
        self.hours = OfficeHours(calendar)
        self.rng = random.Random(f"{seed}:workload:{marker}")
        self.profiles: dict[str, ProvinceProfile] = draw_profiles(
            random.Random(f"{seed}:profiles"), self.estate.provinces)
        self.quality: dict[str, Quality] = {c: p.params() for c, p in self.profiles.items()}
        self.stats = EngineStats()
        self._dossiers = DossierPlanner(self.hours)
        self._procedures = ProcedurePlanner(self.hours)
        self._petitions = PetitionPlanner(self.hours)
        self._offers: dict[str, Offer] = {}
        self._slots_of: dict[str, list[Slot]] = {c: [] for c in self.estate.provinces}
        for slot in self.estate.slots:
            self._slots_of[slot.province].append(slot)
        self._heap: list[_Entry] = []
        self._weight_cache: dict[str, list[float]] = {}
        self._order = 0
        self._counters: Counter[Any] = Counter()
        self._recent: dict[str, deque[tuple[str, str]]] = {
            c: deque(maxlen=200) for c in self.estate.provinces}

    # -- output ---------------------------------------------------------------------------

    def steps(self) -> Iterator[Step]:
        """Every step, in simulated-time order, from the setup at ``start`` to ``end``."""
        for step in self._setup():
            self.stats.count(step)
            yield step
        self._push(self.start, _TICK, [])
        while self._heap and self._heap[0].at <= self.end:
            entry = heapq.heappop(self._heap)
            if entry.priority == _TICK:
                self._tick(entry.at)
                continue
            step = entry.plan[entry.index]
            if step.effect is not None:
                step.effect()
            self.stats.count(step)
            yield step
            following = entry.index + 1
            if following < len(entry.plan):
                self._push(entry.plan[following].at, _STEP, entry.plan, following)

    def batches(self, max_events: int = 200,
                max_span: timedelta | None = None) -> Iterator[list[Step]]:
        """Steps grouped in order: at most ``max_events`` each, spanning at most ``max_span``
        of simulated time (for pacing)."""
        batch: list[Step] = []
        for step in self.steps():
            if batch and (len(batch) >= max_events
                          or (max_span is not None and step.at - batch[0].at > max_span)):
                yield batch
                batch = []
            batch.append(step)
        if batch:
            yield batch

    # -- setup ----------------------------------------------------------------------------

    def _setup(self) -> list[Step]:
        """Departments, e-certified-copy capabilities and procedures that earlier runs did
        not leave, all at ``start``; the day's quality decides their parameters."""
        at, rng, out = self.start, self.rng, []
        for province in self.estate.provinces:
            q = self.quality[province]
            for code in self.estate.departments[province]:
                if code not in self.existing.units:
                    abbr = code.split(".", 1)[1]
                    name = f"{DEPARTMENTS[abbr]} {_province_name(province)}"
                    out.append(Step(at, "unit.registered", code, {
                        "name": name, "parent": province, "kind": "department"}, province))
            if self.existing.units.intersection(self.estate.departments[province]):
                continue  # an earlier run set this province up, capabilities included
            for commune in self.estate.all_communes[province]:
                if commune not in self.existing.profiled and chance(rng, q.e_copy):
                    out.append(Step(at, "unit.capability_set", commune, {
                        "capability": "e_certified_copy", "enabled": True}, province))
        for slot in self.estate.slots:
            offer = self.existing.offers.get(slot.base)
            if offer is None:
                offer = Offer(slot.base)
                out += self._procedures.initial(rng, slot, offer, self.quality[slot.province],
                                                at)
            self._offers[slot.base] = offer
        out.sort(key=lambda step: step.at)  # stable: units first, each procedure in order
        return out

    # -- one simulated day ----------------------------------------------------------------

    def _tick(self, at: datetime) -> None:
        day = local_date(at)
        working = self.hours.calendar.is_working_day(day)
        for province in self.estate.provinces:
            if at > self.start:
                self.profiles[province].drift(self.rng)
                self.quality[province] = self.profiles[province].params()
            q = self.quality[province]
            if chance(self.rng, RENEWAL_RATE):
                self._renew(province, q, day)
            factor = WORKING_DAY_FACTOR if working else DAY_OFF_FACTOR
            expected = self.profiles[province].dossiers_per_day * self.scale * factor
            for _ in range(poisson(self.rng, expected * q.petition_rate)):
                self._petition(province, q, day)
            online = self._online_probability(province, q)
            for _ in range(poisson(self.rng, expected)):
                self._dossier(province, q, day, working, online)
        following = start_of_day(day + timedelta(days=1))
        if following <= self.end:
            self._push(following, _TICK, [])

    def _dossier(self, province: str, q: Quality, day: date, working: bool,
                 online_p: float) -> None:
        rng = self.rng
        slot = self._pick_slot(province)
        offer = self._offers[slot.base]
        if offer.level != "none" and chance(rng, online_p):
            channel, at = "online", any_time_on(rng, day)
        elif working:
            channel = "postal" if chance(rng, POSTAL) else "direct"
            at = self.hours.moment_on(rng, day)
        else:
            return  # counters are closed on days off
        if not self.start <= at <= self.end:
            return
        citizen = slot.spec.citizen_target and not chance(rng, BUSINESS_AMONG_CITIZEN_PROCEDURES)
        self._counters[province] += 1
        self._counters[province, day] += 1
        dossier_id = f"d{self.marker}-{province}-{self._counters[province]:06d}"
        targets = [d for d in self.estate.departments[province] if d != slot.unit]
        request = DossierRequest(
            dossier_id, self._code(province, day), slot, offer, q, at, channel,
            "citizen" if citizen else "business", targets)
        self._push_plan(self._dossiers.plan(rng, request))
        self._recent[province].append((dossier_id, slot.unit))

    def _petition(self, province: str, q: Quality, day: date) -> None:
        rng = self.rng
        at = any_time_on(rng, day) if chance(rng, 0.5) else self.hours.moment_on(rng, day)
        if not self.hours.calendar.is_working_day(day) and at.hour < 6:
            at = any_time_on(rng, day)
        if not self.start <= at <= self.end:
            return
        recent = self._recent[province]
        dossier: str | None = None
        if recent and chance(rng, NAMED_DOSSIER):
            dossier, unit = rng.choice(recent)
        else:
            unit = rng.choice([province, *self.estate.departments[province],
                               *self.estate.communes[province]])
        self._counters["petition", province] += 1
        key = f"pk{self.marker}-{province}-{self._counters['petition', province]:05d}"
        self._push_plan(self._petitions.plan(rng, key, province, q, at, unit, dossier))

    def _renew(self, province: str, q: Quality, day: date) -> None:
        """A new version of one of the province's procedures (a new legal basis)."""
        candidates = [s for s in self._slots_of[province] if not self._offers[s.base].renewing]
        if not candidates or not self.hours.calendar.is_working_day(day):
            return
        slot = self.rng.choice(candidates)
        old = self._offers[slot.base]
        new = Offer(f"{slot.base}.v{old.version + 1}", version=old.version + 1)
        at = self.hours.moment_on(self.rng, day)
        if not self.start <= at <= self.end:
            return
        old.renewing = True

        def switch() -> None:
            self._offers[slot.base] = new

        self._push_plan(self._procedures.renewal(self.rng, slot, old, new, q, at, switch))

    # -- helpers --------------------------------------------------------------------------

    def _pick_slot(self, province: str) -> Slot:
        slots = self._slots_of[province]
        weights = self._weights(province)
        return self.rng.choices(slots, cum_weights=weights)[0]

    def _weights(self, province: str) -> list[float]:
        """Cumulative demand of the province's slots (a commune procedure's demand is shared
        among the simulated communes)."""
        cached = self._weight_cache.get(province)
        if cached is None:
            per_commune = 1 / len(self.estate.communes[province])
            total, cached = 0.0, []
            for slot in self._slots_of[province]:
                share = per_commune if slot.spec.authority == COMMUNE else 1.0
                total += slot.spec.weight * share
                cached.append(total)
            self._weight_cache[province] = cached
        return cached

    def _online_probability(self, province: str, q: Quality) -> float:
        """Chance that a dossier of an online-offered procedure is filed online, so that
        the province's share of online dossiers is ``q.online_share``."""
        weights = self._weights(province)
        offered, previous = 0.0, 0.0
        for slot, cumulative in zip(self._slots_of[province], weights, strict=True):
            if self._offers[slot.base].level != "none":
                offered += cumulative - previous
            previous = cumulative
        share = offered / weights[-1] if weights else 0.0
        return min(0.98, q.online_share / share) if share else 0.0

    def _code(self, province: str, day: date) -> str:
        """Mã hồ sơ: agency, reception date, and the day's number (with the run marker
        after the first run, so codes never repeat)."""
        prefix = "" if self.marker == "0" else self.marker.upper()
        number = self._counters[province, day]
        return (f"000.00.{province}.H{int(province) + 18:02d}-{day:%y%m%d}-"
                f"{prefix}{number:04d}")

    def _push_plan(self, plan: list[Step]) -> None:
        if plan and plan[0].at <= self.end:
            self._push(plan[0].at, _STEP, plan)

    def _push(self, at: datetime, priority: int, plan: list[Step], index: int = 0) -> None:
        self._order += 1
        heapq.heappush(self._heap, _Entry(at, priority, self._order, plan, index))


def _province_name(code: str) -> str:
    name = builtin_units()[code].name
    if name.startswith("Thành phố "):
        return "thành phố " + name.removeprefix("Thành phố ")
    return f"tỉnh {name}"
