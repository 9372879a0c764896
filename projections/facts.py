"""Facts folded from ledger events: per dossier, procedure, petition and unit, with event times."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, TypeVar

from domain.calendar import DEFAULT_CALENDAR, WorkingCalendar
from domain.units import UnitRegistry
from projections.native import pure_python
from projections.periods import (
    Instant,
    local_day_number,
    month_index,
    parse_instant,
    to_datetime,
    to_instant,
)

Event = dict[str, Any]
ONLINE_PAYMENT_METHODS = frozenset({"national_portal", "local_gateway"})
SCORED_STREAMS = frozenset({"dossier", "procedure", "petition", "unit"})
V = TypeVar("V")


@dataclass(slots=True)
class DossierFacts:
    """What the ledger says about one dossier (hồ sơ); times are instants, None = not yet."""

    id: str
    code: str
    procedure: str
    unit: str  # receiving unit (đơn vị tiếp nhận): the dossier's scope, never moved by transfers
    channel: str
    applicant_kind: str
    vneid_verified: bool
    digitized: bool
    reused: bool
    from_personal_store: bool
    from_population_db: bool
    submitted_at: Instant
    fee_bearing: bool = False  # procedure fee_vnd > 0
    requires_result_document: bool = False
    full_online_eligible: bool = False
    citizen_target: bool = False
    statutory_days: int | None = None
    received_at: Instant | None = None
    due_at: Instant | None = None  # hẹn trả, set at reception
    refused_at: Instant | None = None
    supplements: list[list[Instant | None]] = field(default_factory=list)  # [requested, done]
    apologies: list[tuple[Instant, Instant]] = field(default_factory=list)  # (at, new_due_at)
    resolved_at: Instant | None = None
    electronic_result: bool = False
    pushed_to_personal_store: bool = False
    returned_at: Instant | None = None
    ended_at: Instant | None = None  # first rejected / stopped / withdrawn
    ended_how: str | None = None
    synced_at: Instant | None = None
    online_payments: list[Instant] = field(default_factory=list)
    paid_at: Instant | None = None  # first payment of any method
    rated_at: Instant | None = None
    satisfied: bool | None = None
    named_at: Instant | None = None  # first petition naming this dossier
    transferred_at: Instant | None = None  # first transfer (liên thông)
    appraised_at: Instant | None = None
    approved_at: Instant | None = None
    signed_at: Instant | None = None
    last_at: Instant = 0  # latest time of an event that can change a score

    def end_at(self, t: Instant) -> Instant | None:
        """2.1's end at t: resolved, else result returned, else rejected/stopped/withdrawn."""
        if self.resolved_at is not None and self.resolved_at <= t:
            return self.resolved_at
        if self.returned_at is not None and self.returned_at <= t:
            return self.returned_at
        if self.ended_at is not None and self.ended_at <= t:
            return self.ended_at
        return None


@dataclass(slots=True)
class ProcedureFacts:
    """A procedure (thủ tục hành chính) of an authority unit and its catalogue history."""

    id: str
    code: str
    name: str
    unit: str
    statutory_days: int
    fee_vnd: int
    requires_result_document: bool
    full_online_eligible: bool
    citizen_target: bool
    legal_basis_effective_on: date
    registered_at: Instant
    decisions: list[tuple[Instant, date]] = field(default_factory=list)  # (at, decision_on)
    publications: list[tuple[Instant, bool]] = field(default_factory=list)  # (at, complete)
    levels: list[tuple[Instant, str]] = field(default_factory=list)
    integrations: list[tuple[Instant, bool]] = field(default_factory=list)
    abolished_at: Instant | None = None
    # The earliest activity on its dossiers in each local month, sorted (activity arrives in
    # ledger order, not `at` order): bounded by the months, not by the dossiers
    online_received: list[Instant] = field(default_factory=list)
    population_db_received: list[Instant] = field(default_factory=list)
    online_paid: list[Instant] = field(default_factory=list)

    def active_at(self, t: Instant) -> bool:
        """Registered and not abolished at t."""
        return self.registered_at <= t and (self.abolished_at is None or self.abolished_at > t)


@dataclass(slots=True)
class PetitionFacts:
    """A petition (phản ánh, kiến nghị) received by a unit."""

    id: str
    unit: str
    kind: str
    dossier: str | None
    received_at: Instant
    answered_at: Instant | None = None
    ratings: list[tuple[Instant, int, int]] = field(default_factory=list)  # (at, likes, dislikes)
    recomplained_at: Instant | None = None
    last_at: Instant = 0


def last_value_at(history: Sequence[tuple[Instant, V]], t: Instant) -> V | None:
    """The value of the last ``(at, value)`` entry with at ≤ t (entries are in `at` order)."""
    for at, value in reversed(history):
        if at <= t:
            return value
    return None


Touch = tuple[str, str, Instant]
"""What an event changed: (aggregate kind, id, the event's time)."""


def dossier_of(envelope: Event) -> str | None:
    """The dossier whose facts an event changes: its own, or the one a petition names."""
    stream = envelope.get("stream")
    if stream == "dossier":
        return str(envelope["id"])
    if envelope.get("type") == "petition.received":
        named = (envelope.get("data") or {}).get("dossier")
        return str(named) if named else None
    return None


class ColdFacts(Protocol):
    """The facts of dossiers moved out of memory (see ``ScoringEngine.take``), read back."""

    def facts(self, dossier_id: str) -> Any | None:
        """The dossier's facts, None when it is not there."""

    def facts_of_unit(self, unit: str) -> Iterator[tuple[str, Any]]:
        """(id, facts) of every dossier of ``unit`` there."""

try:
    from projections._fold import Fold
except ImportError:  # not compiled: every event folded by the handlers below
    Fold = None  # type: ignore[assignment,misc]


class FactStore:
    """Folds ledger envelopes into facts. Pure: no clock, no I/O; O(1) work per event."""

    def __init__(self, calendar: WorkingCalendar = DEFAULT_CALENDAR,
                 compiled: bool | None = None) -> None:
        """``compiled``: fold dossier events with the compiled fold (default: when built and
        not switched off by ``DOSSIER_PURE_PYTHON``); False: with the handlers here only."""
        self.calendar = calendar
        self.units = UnitRegistry()
        self.unit_registered_at: dict[str, Instant] = {}
        self.capabilities: dict[str, dict[str, list[tuple[Instant, bool]]]] = {}
        self.dossiers: dict[str, DossierFacts] = {}
        self.procedures: dict[str, ProcedureFacts] = {}
        self.petitions: dict[str, PetitionFacts] = {}
        # unit -> ids of its dossiers held here (an ordered set: evicted ones leave it)
        self.dossiers_by_unit: dict[str, dict[str, None]] = {}
        self.procedures_by_unit: dict[str, list[str]] = {}
        self.petitions_by_unit: dict[str, list[str]] = {}
        self.petitions_naming: dict[str, list[str]] = {}  # dossier id -> petition ids
        # procedures with a first dossier activity in a month (online / population-database
        # reception, online payment) since the engine last looked: judgements may differ
        self.activity_changed: set[str] = set()
        # where the dossiers not held in memory are (None: every dossier folded is held)
        self.cold: ColdFacts | None = None
        self.watermark: Instant = 0  # the latest `at` folded
        self.position: int = 0  # the latest ledger position folded
        self.events = 0
        self._due_dates: dict[tuple[int, int], Instant] = {}  # (local day, days) -> due at
        self._handlers: dict[str, Callable[[Event, Instant], Touch | None]] = {
            name[4:].replace("__", "."): getattr(self, name)
            for name in dir(self) if name.startswith("_on_")
        }
        if compiled is None:
            compiled = Fold is not None and not pure_python()
        self.compiled_fold = Fold(self) if compiled and Fold is not None else None
        if self.compiled_fold is not None:
            # dossier events folded in C (projections/_fold.pyx), the rest by the handlers here
            self.apply = self.compiled_fold.apply  # type: ignore[method-assign]

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its handlers and compiled fold (bound to this store: made anew)."""
        state = {k: v for k, v in self.__dict__.items()
                 if k not in ("_handlers", "compiled_fold", "apply", "cold")}
        state["compiled"] = self.compiled_fold is not None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        compiled = state.pop("compiled")
        self.__dict__.update(state)
        self.cold = None
        self._handlers = {name[4:].replace("__", "."): getattr(self, name)
                          for name in dir(self) if name.startswith("_on_")}
        self.compiled_fold = Fold(self) if compiled and Fold is not None else None
        if compiled and self.compiled_fold is None:
            raise RuntimeError("a state folded by the compiled fold needs it: run `make setup`")
        if self.compiled_fold is not None:
            self.apply = self.compiled_fold.apply  # type: ignore[method-assign]

    def dossier(self, dossier_id: str) -> DossierFacts | None:
        """A dossier's facts, held in memory or read back from where it was moved."""
        found = self.dossiers.get(dossier_id)
        if found is None and self.cold is not None:
            found = self.cold.facts(dossier_id)
        return found

    def dossiers_of_unit(self, unit: str) -> Iterator[DossierFacts]:
        """Every dossier received by ``unit``: those held in memory in the order they were
        submitted, then those moved out of memory."""
        held = self.dossiers_by_unit.get(unit, {})
        dossiers = self.dossiers
        for dossier_id in held:
            yield dossiers[dossier_id]
        if self.cold is not None:
            for dossier_id, facts in self.cold.facts_of_unit(unit):
                if dossier_id not in dossiers:
                    yield facts

    def apply(self, envelope: Event) -> tuple[Touch, ...]:
        """Fold one event; returns the aggregates whose scores it may change."""
        if envelope.get("stream") not in SCORED_STREAMS:
            return ()
        handler = self._handlers.get(envelope["type"])
        if handler is None:
            return ()
        at = parse_instant(envelope["at"])
        self.events += 1
        if at > self.watermark:
            self.watermark = at
        position = envelope.get("position")
        if isinstance(position, int) and position > self.position:
            self.position = position
        touch = handler(envelope, at)
        if touch is None:
            return ()
        if touch[0] == "petition" and envelope["type"] == "petition.received":
            named = self.petitions[touch[1]].dossier
            if named is not None and named in self.dossiers:
                return (touch, ("dossier", named, at))
        return (touch,)

    # -- units -----------------------------------------------------------------------------
    def _on_unit__registered(self, e: Event, at: Instant) -> Touch | None:
        d = e["data"]
        code = e["id"]
        if code not in self.units and (not d.get("parent") or d["parent"] in self.units):
            self.units.register(code, d["name"], d["kind"], d.get("parent"))
            self.unit_registered_at[code] = at
        return ("unit", code, at)

    def _on_unit__capability_set(self, e: Event, at: Instant) -> Touch | None:
        d = e["data"]
        history = self.capabilities.setdefault(e["id"], {}).setdefault(d["capability"], [])
        history.append((at, bool(d["enabled"])))
        return ("unit", e["id"], at)

    def unit_exists_at(self, code: str, t: Instant) -> bool:
        """Built-in units always exist; registered ones from their registration."""
        return code in self.units and self.unit_registered_at.get(code, 0) <= t

    def capability_at(self, code: str, capability: str, t: Instant) -> bool:
        history = self.capabilities.get(code, {}).get(capability)
        return bool(history and last_value_at(history, t))

    # -- procedures ------------------------------------------------------------------------
    def _on_procedure__registered(self, e: Event, at: Instant) -> Touch | None:
        d = e["data"]
        effective = d["legal_basis_effective_on"]
        procedure = ProcedureFacts(
            id=e["id"], code=d["code"], name=d["name"], unit=d["unit"],
            statutory_days=int(d["statutory_days"]), fee_vnd=int(d["fee_vnd"]),
            requires_result_document=bool(d["requires_result_document"]),
            full_online_eligible=bool(d["full_online_eligible"]),
            citizen_target=bool(d["citizen_target"]),
            legal_basis_effective_on=date.fromisoformat(str(effective)[:10]),
            registered_at=at,
        )
        if procedure.id not in self.procedures:
            self.procedures[procedure.id] = procedure
            self.procedures_by_unit.setdefault(procedure.unit, []).append(procedure.id)
        return ("procedure", e["id"], at)

    def _on_procedure__decision_issued(self, e: Event, at: Instant) -> Touch | None:
        if (p := self.procedures.get(e["id"])) is not None:
            p.decisions.append((at, date.fromisoformat(str(e["data"]["decision_on"])[:10])))
        return ("procedure", e["id"], at)

    def _on_procedure__published(self, e: Event, at: Instant) -> Touch | None:
        if (p := self.procedures.get(e["id"])) is not None:
            p.publications.append((at, bool(e["data"].get("components_complete", False))))
        return ("procedure", e["id"], at)

    def _on_procedure__online_level_set(self, e: Event, at: Instant) -> Touch | None:
        if (p := self.procedures.get(e["id"])) is not None:
            p.levels.append((at, str(e["data"]["level"])))
        return ("procedure", e["id"], at)

    def _on_procedure__payment_integrated(self, e: Event, at: Instant) -> Touch | None:
        if (p := self.procedures.get(e["id"])) is not None:
            p.integrations.append((at, bool(e["data"]["integrated"])))
        return ("procedure", e["id"], at)

    def _on_procedure__abolished(self, e: Event, at: Instant) -> Touch | None:
        if (p := self.procedures.get(e["id"])) is not None and p.abolished_at is None:
            p.abolished_at = at
        return ("procedure", e["id"], at)

    # -- dossiers --------------------------------------------------------------------------
    def _on_dossier__submitted(self, e: Event, at: Instant) -> Touch | None:
        d = e["data"]
        if e["id"] in self.dossiers:
            return None
        digitized = reused = personal_store = population_db = False
        for c in d.get("components") or ():
            digitized = digitized or bool(c.get("digitized"))
            reused = reused or bool(c.get("reused"))
            personal_store = personal_store or bool(c.get("from_personal_store"))
            population_db = population_db or bool(c.get("from_population_db"))
        dossier = DossierFacts(
            id=e["id"], code=str(d.get("code", e["id"])), procedure=d["procedure"],
            unit=d["unit"], channel=d["channel"], applicant_kind=d.get("applicant_kind", ""),
            vneid_verified=bool(d.get("vneid_verified", False)), digitized=digitized,
            reused=reused, from_personal_store=personal_store,
            from_population_db=population_db, submitted_at=at, last_at=at,
        )
        procedure = self.procedures.get(dossier.procedure)
        if procedure is not None:
            dossier.fee_bearing = procedure.fee_vnd > 0
            dossier.requires_result_document = procedure.requires_result_document
            dossier.full_online_eligible = procedure.full_online_eligible
            dossier.citizen_target = procedure.citizen_target
            dossier.statutory_days = procedure.statutory_days
        for petition_id in self.petitions_naming.get(dossier.id, ()):
            named = self.petitions[petition_id].received_at
            if dossier.named_at is None or named < dossier.named_at:
                dossier.named_at = named
                dossier.last_at = max(dossier.last_at, named)  # as when named after submission
        self.dossiers[dossier.id] = dossier
        self.dossiers_by_unit.setdefault(dossier.unit, {})[dossier.id] = None
        return ("dossier", dossier.id, at)

    def _dossier(self, e: Event, at: Instant) -> DossierFacts | None:
        dossier = self.dossiers.get(e["id"])
        if dossier is not None and at > dossier.last_at:
            dossier.last_at = at
        return dossier

    def _on_dossier__received(self, e: Event, at: Instant) -> Touch | None:
        dossier = self._dossier(e, at)
        if dossier is None or dossier.received_at is not None:
            return None
        dossier.received_at = at
        due = e["data"].get("due_at")
        if due:
            dossier.due_at = parse_instant(due)
        else:
            dossier.due_at = self._due_at(at, dossier.statutory_days or 0)
        procedure = self.procedures.get(dossier.procedure)
        if procedure is not None:
            if dossier.channel == "online":
                self._activity(procedure, procedure.online_received, at)
            if dossier.vneid_verified or dossier.from_population_db:
                self._activity(procedure, procedure.population_db_received, at)
        return ("dossier", dossier.id, at)

    def _due_at(self, received_at: Instant, days: int) -> Instant:
        """The due date of a dossier received at ``received_at`` with ``days`` working days,
        remembered per local day and number of days (dossiers of a day share it)."""
        key = (local_day_number(received_at), days)
        found = self._due_dates.get(key)
        if found is None:
            found = self._due_dates[key] = to_instant(
                self.calendar.due_at(to_datetime(received_at), days))
        return found

    def _activity(self, procedure: ProcedureFacts, times: list[Instant], at: Instant) -> None:
        """Record an activity at ``at`` in a procedure's activity list, which keeps the
        earliest activity of each local month, sorted (one entry a month, however many
        dossiers: periods start at month boundaries, so "any activity in [period start, t]"
        is answered exactly by the months' earliest). The first activity of a local month is
        the only one that can change a catalogue judgement made at or after every event
        folded (any activity of a period already counted)."""
        i = bisect_right(times, at)
        month = month_index(at)
        if i and month_index(times[i - 1]) == month:
            return  # the month's earliest is earlier
        if i < len(times) and month_index(times[i]) == month:
            times[i] = at  # a new earliest of a month already active
            return
        self.activity_changed.add(procedure.id)
        times.insert(i, at)

    def _on_dossier__refused(self, e: Event, at: Instant) -> Touch | None:
        if (dossier := self._dossier(e, at)) is not None:
            dossier.refused_at = at
        return None

    def _on_dossier__supplement_requested(self, e: Event, at: Instant) -> Touch | None:
        if (dossier := self._dossier(e, at)) is None:
            return None
        dossier.supplements.append([at, None])
        return ("dossier", dossier.id, at)

    def _on_dossier__supplement_completed(self, e: Event, at: Instant) -> Touch | None:
        if (dossier := self._dossier(e, at)) is None:
            return None
        if dossier.supplements and dossier.supplements[-1][1] is None:
            dossier.supplements[-1][1] = at
        return ("dossier", dossier.id, at)

    def _on_dossier__transferred(self, e: Event, at: Instant) -> Touch | None:
        dossier = self.dossiers.get(e["id"])
        if dossier is not None and dossier.transferred_at is None:
            dossier.transferred_at = at
        return None

    def _on_dossier__appraised(self, e: Event, at: Instant) -> Touch | None:
        dossier = self.dossiers.get(e["id"])
        if dossier is not None and dossier.appraised_at is None:
            dossier.appraised_at = at
        return None

    def _on_dossier__approved(self, e: Event, at: Instant) -> Touch | None:
        dossier = self.dossiers.get(e["id"])
        if dossier is not None and dossier.approved_at is None:
            dossier.approved_at = at
        return None

    def _on_dossier__signed(self, e: Event, at: Instant) -> Touch | None:
        dossier = self.dossiers.get(e["id"])
        if dossier is not None and dossier.signed_at is None:
            dossier.signed_at = at
        return None

    def _on_dossier__fee_paid(self, e: Event, at: Instant) -> Touch | None:
        if (dossier := self._dossier(e, at)) is None:
            return None
        if dossier.paid_at is None:
            dossier.paid_at = at
        if e["data"].get("method") not in ONLINE_PAYMENT_METHODS:
            return None
        dossier.online_payments.append(at)
        procedure = self.procedures.get(dossier.procedure)
        if procedure is not None:
            self._activity(procedure, procedure.online_paid, at)
        return ("dossier", dossier.id, at)

    def _on_dossier__resolved(self, e: Event, at: Instant) -> Touch | None:
        dossier = self._dossier(e, at)
        if dossier is None or dossier.resolved_at is not None:
            return None
        dossier.resolved_at = at
        dossier.electronic_result = bool(e["data"].get("electronic_result", False))
        dossier.pushed_to_personal_store = bool(e["data"].get("pushed_to_personal_store", False))
        return ("dossier", dossier.id, at)

    def _on_dossier__result_returned(self, e: Event, at: Instant) -> Touch | None:
        dossier = self._dossier(e, at)
        if dossier is None or dossier.returned_at is not None:
            return None
        dossier.returned_at = at
        return ("dossier", dossier.id, at)

    def _on_dossier__apology_issued(self, e: Event, at: Instant) -> Touch | None:
        if (dossier := self._dossier(e, at)) is None:
            return None
        dossier.apologies.append((at, parse_instant(e["data"]["new_due_at"])))
        return ("dossier", dossier.id, at)

    def _ending(self, e: Event, at: Instant, how: str) -> Touch | None:
        dossier = self._dossier(e, at)
        if dossier is None or dossier.ended_at is not None:
            return None
        dossier.ended_at, dossier.ended_how = at, how
        return ("dossier", dossier.id, at)

    def _on_dossier__rejected(self, e: Event, at: Instant) -> Touch | None:
        return self._ending(e, at, "rejected")

    def _on_dossier__stopped(self, e: Event, at: Instant) -> Touch | None:
        return self._ending(e, at, "stopped")

    def _on_dossier__withdrawn(self, e: Event, at: Instant) -> Touch | None:
        return self._ending(e, at, "withdrawn")

    def _on_dossier__synced(self, e: Event, at: Instant) -> Touch | None:
        dossier = self._dossier(e, at)
        if dossier is None or dossier.synced_at is not None:
            return None
        dossier.synced_at = at
        return ("dossier", dossier.id, at)

    def _on_dossier__rated(self, e: Event, at: Instant) -> Touch | None:
        dossier = self._dossier(e, at)
        if dossier is None or dossier.rated_at is not None:
            return None
        dossier.rated_at, dossier.satisfied = at, bool(e["data"]["satisfied"])
        return ("dossier", dossier.id, at)

    # -- petitions -------------------------------------------------------------------------
    def _on_petition__received(self, e: Event, at: Instant) -> Touch | None:
        d = e["data"]
        if e["id"] in self.petitions:
            return None
        petition = PetitionFacts(e["id"], d["unit"], d.get("kind", ""), d.get("dossier") or None,
                                 at, last_at=at)
        self.petitions[petition.id] = petition
        self.petitions_by_unit.setdefault(petition.unit, []).append(petition.id)
        if petition.dossier is not None:
            self.petitions_naming.setdefault(petition.dossier, []).append(petition.id)
            dossier = self.dossiers.get(petition.dossier)
            if dossier is not None and (dossier.named_at is None or at < dossier.named_at):
                dossier.named_at = at
                dossier.last_at = max(dossier.last_at, at)
        return ("petition", petition.id, at)

    def _petition(self, e: Event, at: Instant) -> PetitionFacts | None:
        petition = self.petitions.get(e["id"])
        if petition is not None and at > petition.last_at:
            petition.last_at = at
        return petition

    def _on_petition__answered(self, e: Event, at: Instant) -> Touch | None:
        petition = self._petition(e, at)
        if petition is None or petition.answered_at is not None:
            return None
        petition.answered_at = at
        return ("petition", petition.id, at)

    def _on_petition__rated(self, e: Event, at: Instant) -> Touch | None:
        if (petition := self._petition(e, at)) is None:
            return None
        petition.ratings.append((at, int(e["data"]["likes"]), int(e["data"]["dislikes"])))
        return ("petition", petition.id, at)

    def _on_petition__recomplained(self, e: Event, at: Instant) -> Touch | None:
        petition = self._petition(e, at)
        if petition is None or petition.recomplained_at is not None:
            return None
        petition.recomplained_at = at
        return ("petition", petition.id, at)

    def fold(self, envelopes: Any) -> FactStore:
        """Fold an iterable of envelopes (in ledger order); returns self."""
        for envelope in envelopes:
            self.apply(envelope)
        return self


FOLDED_TYPES = frozenset(name[4:].replace("__", ".") for name in dir(FactStore)
                         if name.startswith("_on_"))
"""The event types a :class:`FactStore` folds (the others leave its position where it is)."""


def is_folded(envelope: Event) -> bool:
    """Whether the fold takes an event into account: a score row's position is that of the
    last such event at or before it."""
    return envelope.get("stream") in SCORED_STREAMS and envelope.get("type") in FOLDED_TYPES
