"""The scoring engine: folds events into facts and incremental counters; scores, ranks, explains."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MethodType
from typing import Any, Protocol

from domain.calendar import WorkingCalendar
from domain.units import UnitKind
from projections import contributions as c
from projections.audit import E_CERTIFIED_COPY, Entry, count_entries, scope_entries
from projections.contributions import FAR_FUTURE
from projections.counters import Key, Tracker
from projections.facts import ColdFacts, DossierFacts, Event, FactStore, Fold, dossier_of
from projections.judge import judge_procedure
from projections.native import pure_python
from projections.periods import (
    Instant,
    Period,
    parse_period,
    periods_containing,
    to_instant,
)
from projections.rulebook import DEFAULT_RULEBOOK, Measure, Rulebook, load_rulebook
from projections.scores import (
    Scored,
    ScoreMemo,
    UnitScore,
    standard_competition_ranks,
    with_rank,
)

try:
    from projections._dossier_counters import DossierCounters

    COMPILED = Fold is not None  # the compiled counters read the compiled fold's facts
except ImportError:  # not compiled (no C compiler at install): the pure-Python counters
    COMPILED = False
"""Whether the compiled dossier counters are installed (``make setup`` builds them)."""


def compiled_by_default() -> bool:
    """The compiled counters unless absent or ``DOSSIER_PURE_PYTHON=1`` asks for the reference
    implementation (see ``projections.native``)."""
    return COMPILED and not pure_python()


class ColdDossiers(ColdFacts, Protocol):
    """Where :meth:`ScoringEngine.take` moves dossiers (records: see ``take``)."""

    def recall(self, dossier_id: str) -> bytes | None:
        """The record of a dossier taken out, for it to come back into memory."""

    def units(self) -> Iterable[str]:
        """The units of the dossiers there."""


def ended(f: DossierFacts) -> bool:
    """Whether a dossier's row no longer moves with time: resolved, returned, rejected,
    stopped or withdrawn, or refused at reception."""
    return f.end_at(f.last_at) is not None or (f.refused_at is not None
                                               and f.received_at is None)


def record_facts(record: bytes) -> Any:
    """The facts in a record made by :meth:`ScoringEngine.take`."""
    return pickle.loads(record)[0]


def _blank(cls: type[Any]) -> Any:
    """An object of ``cls`` made without ``__init__`` (unpickling gives it its state)."""
    return object.__new__(cls)


class _Pickled:
    """Pickles as what its ``reduced`` value makes (an object pickled with part of its
    state left out)."""

    def __init__(self, reduced: tuple[Any, ...]) -> None:
        self.reduced = reduced

    def __reduce__(self) -> tuple[Any, ...]:
        return self.reduced


@dataclass(slots=True)
class _Book:
    """One rulebook's counters over the shared facts."""

    rulebook: Rulebook
    calendar: WorkingCalendar
    compiled: bool = False
    dossiers: Tracker | DossierCounters = field(init=False)
    petitions: Tracker = field(default_factory=lambda: Tracker(c.PETITION_BITS))
    memo: ScoreMemo = field(init=False)
    communes_counted: dict[str, bool] = field(default_factory=dict)  # per unit kind: 4.3 applies
    # Unit scores kept while nothing they count changes: unit -> period key -> entry.
    scores: dict[str, dict[str, _Kept]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.memo = ScoreMemo(self.rulebook)
        switches = self.rulebook.switches
        self.dossiers = (
            DossierCounters(switches.carried_over_in_2_1, switches.apology_extends_due)
            if self.compiled else Tracker(c.DOSSIER_BITS))

    def lean(self, dossiers: bool = True) -> _Book:
        """The same counters without the scores kept (what a snapshot keeps); without
        ``dossiers``, without the dossiers' entries either (kept elsewhere: see
        :meth:`ScoringEngine.attach`), their contributions still counted."""
        book = _Book(self.rulebook, self.calendar, self.compiled, petitions=self.petitions)
        counters = self.dossiers
        if dossiers:
            book.dossiers = counters
        elif isinstance(counters, Tracker):
            book.dossiers = dataclasses.replace(counters, items={})
        else:
            book.dossiers = _Pickled(counters.reduced(False))  # type: ignore[assignment]
        return book

    def counts_communes(self, kind: str) -> bool:
        """Whether an indicator on communes offering e-certified copies (4.3) applies to kind."""
        found = self.communes_counted.get(kind)
        if found is None:
            found = self.communes_counted[kind] = any(
                i.measure == Measure.COMMUNES_E_CERTIFIED_COPY and i.applies(kind)
                for g in self.rulebook.groups for i in g.indicators)
        return found


@dataclass(frozen=True, slots=True)
class Explanation:
    """The items behind one score cell (unit, period, indicator)."""

    unit: str
    period: str
    indicator: str
    name: str
    measure: str
    as_of: datetime
    numerator: int
    denominator: int
    entries: tuple[Entry, ...]

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "period": self.period, "indicator": self.indicator,
                "name": self.name, "as_of": self.as_of.isoformat(),
                "numerator": self.numerator, "denominator": self.denominator,
                "items": [e.to_json() for e in self.entries]}


class ScoringEngine:
    """Live scores for every unit and period under one or more rulebooks.

    Feed envelopes with :meth:`apply` (cheap: facts only); :meth:`flush` brings the counters up
    to date and returns the (unit, period) keys whose scores changed. Queries flush first.
    """

    def __init__(self, rulebooks: Sequence[Rulebook] | None = None,
                 compiled: bool | None = None) -> None:
        books = list(rulebooks) if rulebooks else [load_rulebook(DEFAULT_RULEBOOK)]
        self.compiled = compiled_by_default() if compiled is None else compiled
        if self.compiled and not COMPILED:
            raise RuntimeError("the compiled projections are not built: run `make setup`")
        self.facts = FactStore(compiled=self.compiled)
        self._books = {b.id: self._new_book(b) for b in books}
        self.default_rulebook = books[0].id
        self._dirty_dossiers: dict[str, Instant] = {}  # id -> earliest `at` folded since flush
        self._judged_last: dict[str, Instant] = {}  # id -> its last_at when last judged
        self._dirty_petitions: set[str] = set()
        self._touched: set[Key] = set()
        self._pooled: set[tuple[str, int]] = set()  # (unit, month) of changed pool buckets
        self._scopes: dict[str, tuple[str, ...]] = {}  # cleared whenever a unit event lands
        self._procedures_in_scope: dict[str, list[str]] = {}
        self._procedures_seen: set[str] = set()
        self._communes_below: dict[str, list[str]] = {}  # cleared whenever a unit event lands
        self._kinds: dict[UnitKind, tuple[dict[str | None, list[str]], dict[str, str | None]]] \
            = {}  # cleared whenever a unit event lands
        # Catalogue counts (procedure measures and 4.3) per (rulebook, unit, period): valid
        # while the unit's catalogue epoch is unchanged and t stays within [from, until].
        self._catalogue: dict[tuple[str, str, str], _CatalogueEntry] = {}
        self._catalogue_epoch: dict[str, int] = {}  # unit -> bumped when its catalogue changes
        # Each procedure's verdicts per (rulebook, procedure, period), kept as the catalogue
        # counts are, under the procedure's own epoch (bumped when its facts change).
        self._verdicts: dict[tuple[str, str, str], _VerdictsEntry] = {}
        self._procedure_epoch: dict[str, int] = {}
        self.positions: dict[str, int] = {}  # dossier id -> position of its latest event
        # Dossiers moved out of memory (see take): where they are, and how many were moved
        # (a state with moved dossiers folds only with their store attached).
        self.cold: ColdDossiers | None = None
        self.taken = 0
        # with a store that holds every dossier's latest state (``attach``'s write-through),
        # a snapshot leaves the dossiers in memory out, naming them (``_held``) to be read
        # back from the store when it is attached again
        self.write_through = False
        self._held: list[str] = []
        self._bind_apply()

    def _bind_apply(self) -> None:
        """``apply`` is the compiled fold's loop when built; with dossiers out of memory, a
        dossier's facts and counters are brought back before an event of it is folded."""
        feed: Callable[[Event], None] | MethodType
        if self.facts.compiled_fold is not None:  # the loop of apply in C too
            feed = self.facts.compiled_fold.feeding(self._dirty_dossiers, self._touched_other)
        else:
            feed = MethodType(ScoringEngine.apply, self)
        if self.cold is not None:
            self._feed = feed
            self.apply = self._apply_recalling  # type: ignore[method-assign]
        elif self.taken or self._held:
            self.apply = self._cold_missing  # type: ignore[method-assign]
        elif self.facts.compiled_fold is not None:
            self.apply = feed  # type: ignore[method-assign,assignment]
        else:
            self.__dict__.pop("apply", None)

    # -- snapshots -------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """Pickled without what is kept only to save work (scores, verdicts, catalogue
        counts, indexes: rebuilt on demand) and without the compiled fold's bound loop;
        written through (see :meth:`attach`), without the dossiers either, only their ids."""
        state = dict(self.__dict__)
        for name in ("apply", "_feed", "cold"):
            state.pop(name, None)
        for name in ("_scopes", "_communes_below", "_kinds", "_catalogue", "_verdicts"):
            state[name] = {}
        whole = not self.write_through
        state["_books"] = {key: book.lean(whole) for key, book in self._books.items()}
        if not whole:
            if self._dirty_dossiers:
                raise RuntimeError("a state written through is pickled only when flushed")
            facts = self.facts
            kept = facts.__getstate__()
            kept["dossiers"], kept["dossiers_by_unit"] = {}, {}
            state["facts"] = _Pickled((_blank, (FactStore,), kept))
            state["positions"], state["_judged_last"] = {}, {}
            state["_held"] = list(facts.dossiers)
            state["write_through"] = False  # until attached again
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("write_through", False)
        state.setdefault("_held", [])
        self.__dict__.update(state)
        self.cold = None
        self._bind_apply()

    # -- dossiers out of memory ----------------------------------------------------------
    def attach(self, cold: ColdDossiers, *, write_through: bool = False) -> None:
        """Keep the dossiers that :meth:`take` moves out in ``cold``, and read them back;
        the dossiers a snapshot named (see ``__getstate__``) are read back now.

        ``write_through``: the caller writes every changed dossier's latest state to
        ``cold`` (:meth:`peek`) before any snapshot, so a snapshot leaves the dossiers in
        memory out (its size and time bounded by what is not per dossier) and those taken
        out are only dropped (:meth:`drop`)."""
        self.cold = cold
        self.facts.cold = cold
        self.write_through = write_through
        held, self._held = self._held, []
        missing = [dossier_id for dossier_id in held if not self.recall(dossier_id)]
        if missing:
            self._held = held
            self.cold = self.facts.cold = None
            self.write_through = False
            raise LookupError(f"{len(missing):,} dossiers of the snapshot are not in its "
                              f"store (first: {missing[0]}): the store lost their records")
        self._bind_apply()

    def settled_dossiers(self, before: Instant) -> list[str]:
        """The dossiers held in memory that ended (see :func:`ended`) and whose latest event
        is before ``before``, with nothing folded since the last flush: what :meth:`take`
        moves out (an event of one later brings it back, at the cost of a read)."""
        dirty = self._dirty_dossiers
        return [dossier_id for dossier_id, f in self.facts.dossiers.items()
                if f.last_at < before and dossier_id not in dirty and ended(f)]

    def take(self, dossier_ids: Iterable[str]) -> Iterator[tuple[str, str, bytes]]:
        """Move dossiers out of memory: their facts and their entries in every rulebook's
        counters (which go on counting them), as (id, unit, record) for the cold store.
        Dossiers with events folded since the last flush stay."""
        if self.cold is None:
            raise RuntimeError("no store attached for the dossiers taken out of memory")
        for dossier_id in dossier_ids:
            record = self._remove(dossier_id)
            if record is not None:
                yield dossier_id, record[0].unit, pickle.dumps(
                    record, protocol=pickle.HIGHEST_PROTOCOL)

    def drop(self, dossier_ids: Iterable[str]) -> int:
        """Move dossiers out of memory whose latest state a write-through store holds
        already (as :meth:`take`, without making their records). Returns how many."""
        return sum(self._remove(dossier_id) is not None for dossier_id in dossier_ids)

    def _remove(self, dossier_id: str) -> tuple[Any, ...] | None:
        """Take a dossier out of memory: (facts, position, counter entries per rulebook,
        judged), or None when it is not held or has events folded since the last flush."""
        if dossier_id in self._dirty_dossiers:
            return None
        facts = self.facts
        f = facts.dossiers.pop(dossier_id, None)
        if f is None:
            return None
        held = facts.dossiers_by_unit.get(f.unit)
        if held is not None:
            held.pop(dossier_id, None)
        books: dict[str, Any] = {}
        for key, book in self._books.items():
            counters = book.dossiers
            books[key] = (counters.items.pop(dossier_id, None)
                          if isinstance(counters, Tracker) else counters.take(dossier_id))
        self.taken += 1
        return (f, self.positions.pop(dossier_id, 0), books,
                self._judged_last.pop(dossier_id, None))

    def peek(self, dossier_ids: Iterable[str]) -> Iterator[tuple[str, str, int, bytes]]:
        """(id, unit, position, record) of dossiers held in memory, as :meth:`take` makes
        them, the dossiers staying: a write-through store's latest state of each."""
        facts = self.facts.dossiers
        books = self._books
        positions = self.positions
        judged = self._judged_last
        dumps = pickle.dumps
        for dossier_id in dossier_ids:
            f = facts.get(dossier_id)
            if f is None:
                continue
            states = {key: (book.dossiers.items.get(dossier_id)
                            if isinstance(book.dossiers, Tracker)
                            else book.dossiers.peek(dossier_id))
                      for key, book in books.items()}
            position = positions.get(dossier_id, 0)
            yield dossier_id, f.unit, position, dumps(
                (f, position, states, judged.get(dossier_id)),
                protocol=pickle.HIGHEST_PROTOCOL)

    def _cold_missing(self, envelope: Event) -> None:
        raise RuntimeError("dossiers were taken out of memory: attach their store to fold")

    def _apply_recalling(self, envelope: Event) -> None:
        key = dossier_of(envelope)
        if key is not None and key not in self.facts.dossiers:
            self.recall(key)
        self._feed(envelope)

    def recall(self, dossier_id: str) -> bool:
        """Bring a dossier taken out of memory back (False: it is not in the cold store)."""
        if self.cold is None:
            return False
        record = self.cold.recall(dossier_id)
        if record is None:
            return False
        f, position, books, judged = pickle.loads(record)
        facts = self.facts
        facts.dossiers[dossier_id] = f
        facts.dossiers_by_unit.setdefault(f.unit, {})[dossier_id] = None
        if position:
            self.positions[dossier_id] = position
        for key, state in books.items():
            book = self._books.get(key)
            if book is None or state is None:
                continue  # a rulebook added since holds the dossier's entries already
            counters = book.dossiers
            if isinstance(counters, Tracker):
                counters.items.setdefault(dossier_id, state)
            else:
                counters.put(dossier_id, state)
        if judged is not None:
            self._judged_last[dossier_id] = judged
        return True

    def _all_dossiers(self) -> Iterator[tuple[str, DossierFacts]]:
        """Every dossier folded: held in memory, then taken out."""
        yield from self.facts.dossiers.items()
        if self.cold is not None and self.taken:
            for unit in list(self.cold.units()):
                for dossier_id, f in self.cold.facts_of_unit(unit):
                    if dossier_id not in self.facts.dossiers:
                        yield dossier_id, f

    # -- folding ---------------------------------------------------------------------------
    def apply(self, envelope: Event) -> None:
        """Fold one ledger envelope (events of other streams are ignored)."""
        for kind, item, at in self.facts.apply(envelope):
            if kind == "dossier":
                dirty = self._dirty_dossiers
                earliest = dirty.get(item)
                if earliest is None or at < earliest:
                    dirty[item] = at
            else:
                self._touched_other(kind, item, at)

    def _touched_other(self, kind: str, item: str, at: Instant) -> None:
        if kind == "petition":
            self._dirty_petitions.add(item)
        elif kind == "procedure":
            self._procedure_touched(item, at)
        else:
            self._unit_touched(item, at)

    def apply_all(self, envelopes: Iterable[Event]) -> set[Key]:
        for envelope in envelopes:
            self.apply(envelope)
        return self.flush()

    def flush(self) -> set[Key]:
        """Bring the counters up to date; returns the (unit, period key) pairs touched."""
        facts = self.facts
        watermark = facts.watermark
        touched = self._touched
        pooled = self._pooled
        dossiers = facts.dossiers
        for book in self._books.values():
            counters = book.dossiers
            if isinstance(counters, Tracker):
                self._flush_dossiers(book, counters, touched, pooled, watermark)
            else:
                counters.update_all(self._dirty_dossiers, dossiers, self._scopes, self._scope)
                counters.settle(touched, pooled)
            for petition_id in self._dirty_petitions:
                p = facts.petitions[petition_id]
                book.petitions.replace(petition_id, self._scope(p.unit),
                                       c.petition_contributions(p, book.calendar))
            book.petitions.settle(touched, pooled, watermark)
        if not self.compiled:
            judged_last = self._judged_last
            for dossier_id in self._dirty_dossiers:
                judged_last[dossier_id] = dossiers[dossier_id].last_at
        if facts.activity_changed:
            for procedure_id in facts.activity_changed:
                self._procedure_changed(procedure_id)
                self._catalogue_changed(facts.procedures[procedure_id].unit)
            facts.activity_changed.clear()
        self._dirty_dossiers.clear()
        self._dirty_petitions.clear()
        self._touched, self._pooled = set(), set()
        self._forget_scores(touched, pooled)
        return self._resolve_pool_keys(touched, pooled)

    def _forget_scores(self, touched: set[Key], pooled: set[tuple[str, int]]) -> None:
        """Drop the kept scores whose counters changed: the buckets touched, and every
        period starting after a changed pool's month."""
        for book in self._books.values():
            kept = book.scores
            if not kept:
                continue
            for unit, key in touched:
                periods = kept.get(unit)
                if periods is not None:
                    periods.pop(key, None)
            for unit, month in pooled:
                periods = kept.get(unit)
                if periods:
                    for key in [k for k in periods if _first_month(k) > month]:
                        del periods[key]

    def _flush_dossiers(self, book: _Book, tracker: Tracker, touched: set[Key],
                        pooled: set[tuple[str, int]], watermark: Instant) -> None:
        """The pure-Python counters' flush: contributions recomputed, reusing those of periods
        that closed before the events folded since."""
        switches = book.rulebook.switches
        items = tracker.items
        judged_last = self._judged_last
        dossiers = self.facts.dossiers
        for dossier_id, earliest in self._dirty_dossiers.items():
            f = dossiers[dossier_id]
            previous, settled = None, 0
            state = items.get(dossier_id)
            if state is not None:
                previous = state.groups
                settled = min(earliest, judged_last.get(dossier_id, 0))
            tracker.replace(dossier_id, self._scopes.get(f.unit) or self._scope(f.unit),
                            c.dossier_contributions(f, switches, previous, settled))
        tracker.settle(touched, pooled, watermark)

    def _scope(self, unit: str) -> tuple[str, ...]:
        found = self._scopes.get(unit)
        if found is None:
            units = self.facts.units
            found = tuple(units.scope(unit)) if unit in units else (unit,)
            if unit in units:
                self._scopes[unit] = found
        return found

    def _procedure_touched(self, procedure_id: str, at: Instant) -> None:
        procedure = self.facts.procedures.get(procedure_id)
        if procedure is None:
            return
        scope = self._scope(procedure.unit)
        self._procedure_changed(procedure_id)
        self._catalogue_changed(procedure.unit)
        if procedure_id not in self._procedures_seen:
            self._procedures_seen.add(procedure_id)
            for unit in scope:
                self._procedures_in_scope.setdefault(unit, []).append(procedure_id)
        self._touch_units(scope, at)

    def _procedure_changed(self, procedure_id: str) -> None:
        epochs = self._procedure_epoch
        epochs[procedure_id] = epochs.get(procedure_id, 0) + 1

    def _catalogue_changed(self, unit: str) -> None:
        epochs = self._catalogue_epoch
        for code in self._scope(unit):
            epochs[code] = epochs.get(code, 0) + 1

    def _unit_touched(self, code: str, at: Instant) -> None:
        for book in self._books.values():
            book.scores.clear()  # names, kinds, scopes and peers may all have changed
        self._communes_below.clear()
        self._scopes.clear()
        self._kinds.clear()
        self._catalogue.clear()
        if code in self.facts.units:
            self._touch_units(self._scope(code), at)

    def _touch_units(self, units: Iterable[str], at: Instant) -> None:
        for unit in units:
            for period in periods_containing(at):
                self._touched.add((unit, period.key))

    def _resolve_pool_keys(self, touched: set[Key], pooled: set[tuple[str, int]]) -> set[Key]:
        """Pool changes touch the current periods that start after the pool's month."""
        if pooled:
            now = periods_containing(self.facts.watermark) if self.facts.watermark else ()
            for unit, month in pooled:
                touched.update((unit, p.key) for p in now if p.first_month > month)
        return touched

    # -- queries ---------------------------------------------------------------------------
    def rulebook(self, rulebook_id: str | None = None) -> Rulebook:
        return self._book(rulebook_id).rulebook

    def _new_book(self, rulebook: Rulebook) -> _Book:
        return _Book(rulebook, rulebook.working_calendar(), self.compiled)

    def _book(self, rulebook_id: str | None) -> _Book:
        key = rulebook_id or self.default_rulebook
        if key not in self._books:
            self._books[key] = self._new_book(load_rulebook(key))
            self._rebuild(self._books[key])
        return self._books[key]

    def _rebuild(self, book: _Book) -> None:
        watermark = self.facts.watermark
        counters = book.dossiers
        if self.taken and self.cold is None:
            raise RuntimeError("dossiers were taken out of memory: attach their store first")
        if isinstance(counters, Tracker):
            for dossier_id, f in self._all_dossiers():
                counters.replace(dossier_id, self._scope(f.unit),
                                 c.dossier_contributions(f, book.rulebook.switches))
            counters.settle(set(), set(), watermark)
        else:
            for dossier_id, f in self._all_dossiers():
                counters.update(dossier_id, self._scope(f.unit), f)
            counters.settle(set(), set())
        for petition_id, p in self.facts.petitions.items():
            book.petitions.replace(petition_id, self._scope(p.unit),
                                   c.petition_contributions(p, book.calendar))
        book.petitions.settle(set(), set(), watermark)

    def counts(self, unit: str, period: Period | str, as_of: datetime | Instant,
               rulebook_id: str | None = None) -> dict[str, tuple[int, int]]:
        """(numerator, denominator) of every measure for a unit's scope at t."""
        self.flush()
        book = self._book(rulebook_id)
        period = parse_period(period) if isinstance(period, str) else period
        as_of_i = as_of if isinstance(as_of, int) else to_instant(as_of)
        return self._counts(book, unit, period, as_of_i)

    def _counts(self, book: _Book, unit: str, period: Period,
                as_of: Instant) -> dict[str, tuple[int, int]]:
        t = period.evaluation_time(as_of)
        kind = str(self.facts.units.get(unit).kind)
        if as_of >= self.facts.watermark or as_of >= period.last:
            counts = self._counter_counts(book, unit, period, t)
            del counts[_TURN]
        else:  # a past moment inside the period: the counters are ahead of it, scan the facts
            counts = count_entries(scope_entries(
                self.facts, unit, period, t, book.rulebook.switches, book.calendar,
                kinds=("dossier", "petition")))
        counts.update(self._catalogue_counts(book, unit, kind, period, t))
        return counts

    def _counter_counts(self, book: _Book, unit: str, period: Period,
                        t: Instant) -> dict[str, tuple[int, int]]:
        d = book.dossiers.totals(unit, period, t)
        p = book.petitions.totals(unit, period, t)
        received = d[c.RECEIVED]
        return {
            _TURN: (min(d.turn, p.turn), 0),
            Measure.DOSSIERS_SYNCED: (d[c.SYNCED], received),
            Measure.DOSSIERS_ON_TIME: (d[c.ON_TIME_21] + d.pending_a_on_time,
                                       d[c.POPULATION_21]),
            Measure.DOSSIERS_ONLINE: (d[c.ONLINE], received),
            Measure.FULL_ONLINE_DOSSIERS: (d[c.ELIGIBLE_ONLINE], d[c.ELIGIBLE]),
            Measure.DOSSIERS_PAID_ONLINE: (d[c.PAID_ONLINE], d[c.FEE_BEARING]),
            Measure.ELECTRONIC_RESULTS: (d[c.ELECTRONIC], d[c.RESOLVED_DOC]),
            Measure.DOSSIERS_DIGITIZED: (d[c.DIGITIZED], received),
            Measure.DOSSIERS_REUSED: (d[c.REUSED], received),
            Measure.DOSSIERS_PERSONAL_STORE: (d[c.PERSONAL_STORE], received),
            Measure.DOSSIERS_POPULATION_DB: (d[c.POPULATION_DB], received),
            Measure.DOSSIER_SATISFACTION: (d[c.SATISFIED_53] + d.pending_b_on_time, received),
            Measure.PETITIONS_ON_TIME: (p[c.ON_TIME_51] + p.pending_a_on_time,
                                        p[c.POPULATION_51]),
            Measure.PETITION_SATISFACTION: (p[c.SATISFIED_52] + p.pending_b_on_time,
                                            p[c.RECEIVED_52]),
        }

    def _catalogue_counts(self, book: _Book, unit: str, kind: str, period: Period,
                          t: Instant) -> dict[str, tuple[int, int]]:
        """Procedure-based measures and 4.3, judged at t over the catalogue of the scope.

        Computed at a t no earlier than every event folded, the counts hold at every later t
        until the unit's catalogue changes (a procedure or unit event, a first online or
        population-database reception, an online payment) or an awaited publication turns late:
        they are kept for that span (the returned dict is shared; callers copy from it)."""
        key = (book.rulebook.id, unit, period.key)
        epoch = self._catalogue_epoch.get(unit, 0)
        entry = self._catalogue.get(key)
        if entry is not None and entry[0] == epoch and entry[1] <= t <= entry[2]:
            return entry[3]
        numerators: dict[str, int] = dict.fromkeys(CATALOGUE_MEASURES, 0)
        denominators: dict[str, int] = dict.fromkeys(CATALOGUE_MEASURES, 0)
        turn = FAR_FUTURE
        verdicts = self._procedure_verdicts
        for procedure_id in self._procedures_in_scope.get(unit, ()):
            found, until = verdicts(book, procedure_id, period, t)
            if until < turn:
                turn = until
            for measure, numerator in found:
                numerators[measure] += numerator
                denominators[measure] += 1
        tally: dict[str, tuple[int, int]] = {
            m: (numerators[m], denominators[m]) for m in CATALOGUE_MEASURES}
        if book.counts_communes(kind):
            facts = self.facts
            n = d = 0
            for code in self._communes(unit):
                if facts.unit_registered_at.get(code, 0) <= t:
                    n += facts.capability_at(code, E_CERTIFIED_COPY, t)
                    d += 1
            tally[Measure.COMMUNES_E_CERTIFIED_COPY] = (n, d)
        if t >= self.facts.watermark:
            if len(self._catalogue) >= CATALOGUE_CACHE_LIMIT:
                self._catalogue.clear()
            self._catalogue[key] = (epoch, t, turn, tally)
        return tally

    def _procedure_verdicts(self, book: _Book, procedure_id: str, period: Period,
                            t: Instant) -> tuple[tuple[tuple[str, bool], ...], Instant]:
        """(measure, counted) of one procedure's verdicts at t, and the last t they hold at
        (kept while the procedure's facts stay as they are, when t is no earlier than every
        event folded: see :meth:`_catalogue_counts`)."""
        key = (book.rulebook.id, procedure_id, period.key)
        epoch = self._procedure_epoch.get(procedure_id, 0)
        entry = self._verdicts.get(key)
        if entry is not None and entry[0] == epoch and entry[1] <= t <= entry[2]:
            return entry[3], entry[2]
        turns: list[Instant] = []
        found = tuple((measure, bool(numerator)) for measure, numerator, _ in judge_procedure(
            self.facts.procedures[procedure_id], period, t, book.calendar, why=False,
            turns=turns))
        until = min(turns, default=FAR_FUTURE)
        if t >= self.facts.watermark:
            if len(self._verdicts) >= CATALOGUE_CACHE_LIMIT:
                self._verdicts.clear()
            self._verdicts[key] = (epoch, t, until, found)
        return found, until

    def _communes(self, unit: str) -> list[str]:
        """The communes below ``unit`` (4.3's denominator before the existence test at t)."""
        found = self._communes_below.get(unit)
        if found is None:
            found = self._communes_below[unit] = [
                u.code for u in self.facts.units.descendants(unit) if u.kind == "commune"]
        return found

    def score(self, unit: str, period: Period | str, as_of: datetime,
              rulebook_id: str | None = None, ranked: bool = True) -> UnitScore:
        """A unit's score for a period as of a moment, with its rank among its peers."""
        period = parse_period(period) if isinstance(period, str) else period
        score = self._score(unit, period, as_of, rulebook_id)
        if not ranked:
            return score
        peers = self.peers(unit, period, as_of)
        if unit not in peers:  # no peers of its kind, or not yet registered at t: unranked
            return score
        scores = {p: self._score(p, period, as_of, rulebook_id) if p != unit else score
                  for p in peers}
        ranks = standard_competition_ranks({code: s.total for code, s in scores.items()})
        return with_rank(score, ranks[unit])

    def _score(self, unit: str, period: Period, as_of: datetime,
               rulebook_id: str | None) -> UnitScore:
        self.flush()
        return self._unit_score(self._book(rulebook_id), unit, period, as_of, to_instant(as_of))

    def _unit_score(self, book: _Book, unit: str, period: Period, as_of: datetime,
                    as_of_i: Instant) -> UnitScore:
        return book.memo.issue(self.facts.units.get(unit), period, as_of,
                               period.evaluation_time(as_of_i),
                               self._scored(book, unit, period, as_of_i), self.facts.position)

    def _scored(self, book: _Book, unit: str, period: Period, as_of_i: Instant) -> Scored:
        """A unit's groups, total and band, kept while nothing they count changes: from the
        moment they were computed until their counters' or catalogue's next turn (a pending
        deadline passing), as long as no event touches their buckets, their catalogue or the
        units."""
        t = period.evaluation_time(as_of_i)
        periods = book.scores.get(unit)
        kept = periods.get(period.key) if periods is not None else None
        epoch = self._catalogue_epoch.get(unit, 0)
        if kept is not None and kept[0] <= t <= kept[1] and kept[2] == epoch:
            return kept[3]
        kind = str(self.facts.units.get(unit).kind)
        if as_of_i < self.facts.watermark and as_of_i < period.last:
            return book.memo.scored(kind, self._counts(book, unit, period, as_of_i))
        counts = self._counter_counts(book, unit, period, t)
        turn = counts.pop(_TURN)[0]
        counts.update(self._catalogue_counts(book, unit, kind, period, t))
        catalogue = self._catalogue.get((book.rulebook.id, unit, period.key))
        scored = book.memo.scored(kind, counts)
        if catalogue is not None and catalogue[0] == epoch and catalogue[1] <= t:
            if periods is None:
                periods = book.scores[unit] = {}
            periods[period.key] = (t, min(turn, catalogue[2]), epoch, scored)
        return scored

    def score_many(self, keys: Iterable[Key], as_of: datetime,
                   rulebook_id: str | None = None) -> dict[Key, UnitScore]:
        """Unranked scores of many (unit, period key) pairs as of one moment: what the live
        runner writes for the keys :meth:`flush` returned. Each equals
        ``score(unit, period, as_of, rulebook_id, ranked=False)``."""
        self.flush()
        book = self._book(rulebook_id)
        as_of_i = to_instant(as_of)
        return {(unit, key): self._unit_score(book, unit, parse_period(key), as_of, as_of_i)
                for unit, key in keys}

    def peers(self, unit: str, period: Period | str, as_of: datetime) -> list[str]:
        """Units ranked with ``unit`` that exist at t (empty: it has no peers)."""
        period = parse_period(period) if isinstance(period, str) else period
        t = period.evaluation_time(to_instant(as_of))
        return [u.code for u in self.facts.units.peers(unit)
                if self.facts.unit_exists_at(u.code, t)]

    def rank(self, kind: str, period: Period | str, as_of: datetime,
             rulebook_id: str | None = None, province: str | None = None) -> list[UnitScore]:
        """Scores of every unit of a kind (within ``province`` for departments and communes),
        ranked by standard competition ranking on the rounded total."""
        period = parse_period(period) if isinstance(period, str) else period
        issue = self.issuer(period, as_of, rulebook_id)
        ranked = [issue(unit, scored, rank)
                  for unit, scored, rank in self.ranked(kind, period, as_of, rulebook_id,
                                                        province)]
        ranked.sort(key=lambda score: (score.rank is None, score.rank or 0, score.unit))
        return ranked

    def ranked(self, kind: str, period: Period, as_of: datetime,
               rulebook_id: str | None = None, province: str | None = None,
               only: Callable[[str], bool] | None = None
               ) -> list[tuple[str, Scored, int | None]]:
        """(unit, groups-total-band, rank) of :meth:`rank`, unsorted, without building the
        scores (the live runner builds those of the units whose score or rank moved).
        ``only``: the units wanted, unranked (their peers are not scored)."""
        wanted = UnitKind(kind)
        as_of_i = to_instant(as_of)
        t = period.evaluation_time(as_of_i)
        of_province, province_of = self._kind_index(wanted)
        registered = self.facts.unit_registered_at  # the index holds registered units only
        codes = [code for code in of_province.get(province, ()) if registered.get(code, 0) <= t
                 and (only is None or only(code))]
        self.flush()
        book = self._book(rulebook_id)
        # a member's kept score as :meth:`_scored` takes it, inline (most members of a
        # group a mark touches are unchanged: this loop is most of a mark's cost)
        kept_scores, epochs, key = book.scores, self._catalogue_epoch, period.key
        scored: dict[str, Scored] = {}
        for code in codes:
            periods = kept_scores.get(code)
            kept = periods.get(key) if periods is not None else None
            if kept is not None and kept[0] <= t <= kept[1] and kept[2] == epochs.get(code, 0):
                scored[code] = kept[3]
            else:
                scored[code] = self._scored(book, code, period, as_of_i)
        if only is not None or wanted in (UnitKind.MINISTRY, UnitKind.AGENCY):
            return [(code, found, None) for code, found in scored.items()]
        by_province: dict[str | None, dict[str, float]] = {}
        for code, found in scored.items():
            group = None if wanted is UnitKind.PROVINCE else province_of[code]
            by_province.setdefault(group, {})[code] = found[1]
        ranks: dict[str, int] = {}
        for members in by_province.values():
            ranks.update(standard_competition_ranks(members))
        return [(code, found, ranks[code]) for code, found in scored.items()]

    def issuer(self, period: Period, as_of: datetime, rulebook_id: str | None = None
               ) -> Callable[[str, Scored, int | None], UnitScore]:
        """Builds the unit scores of what :meth:`ranked` gave."""
        book = self._book(rulebook_id)
        t = period.evaluation_time(to_instant(as_of))
        units, memo, position = self.facts.units, book.memo, self.facts.position

        def issue(unit: str, scored: Scored, rank: int | None) -> UnitScore:
            return memo.issue(units.get(unit), period, as_of, t, scored, position, rank)

        return issue

    def _kind_index(self, kind: UnitKind) -> tuple[dict[str | None, list[str]],
                                                   dict[str, str | None]]:
        """The units of a kind by province (None: all of them), and each one's province;
        rebuilt after a unit event."""
        found = self._kinds.get(kind)
        if found is None:
            units = self.facts.units
            members: dict[str | None, list[str]] = {None: []}
            province_of: dict[str, str | None] = {}
            for u in units.of_kind(kind):
                province = province_of[u.code] = units.province_of(u.code)
                members[None].append(u.code)
                members.setdefault(province, []).append(u.code)
            found = self._kinds[kind] = (members, province_of)
        return found

    def explain(self, unit: str, period: Period | str, indicator: str, as_of: datetime,
                rulebook_id: str | None = None) -> Explanation:
        """The dossiers, procedures, petitions or communes behind one indicator's counts."""
        self.flush()
        book = self._book(rulebook_id)
        found = self.facts.units.get(unit)
        spec = book.rulebook.indicator(indicator)
        period = parse_period(period) if isinstance(period, str) else period
        t = period.evaluation_time(to_instant(as_of))
        entries = tuple(
            e for e in scope_entries(self.facts, unit, period, t, book.rulebook.switches,
                                     book.calendar)
            if e.measure == spec.measure)
        if not spec.applies(found.kind):
            entries = ()
        numerator = sum(e.numerator for e in entries)
        return Explanation(unit, period.key, spec.code, spec.name, spec.measure, as_of,
                           numerator, len(entries), entries)


_CatalogueEntry = tuple[int, Instant, Instant, dict[str, tuple[int, int]]]
"""(catalogue epoch, valid from t, valid until t, counts)."""
_VerdictsEntry = tuple[int, Instant, Instant, tuple[tuple[str, bool], ...]]
"""(procedure epoch, valid from t, valid until t, (measure, counted) verdicts)."""
_Kept = tuple[Instant, Instant, int, Scored]
"""A kept unit score: (valid from t, valid until t, catalogue epoch, what it scored)."""
_TURN = "_turn"
"""The counters' next turn, passed beside their counts (not a measure)."""


def _first_month(period_key: str) -> int:
    return parse_period(period_key).first_month
CATALOGUE_CACHE_LIMIT = 200_000

CATALOGUE_MEASURES = (
    Measure.PROCEDURES_PUBLISHED_ON_TIME, Measure.PROCEDURES_PUBLIC_ON_TIME,
    Measure.PUBLIC_PROCEDURES_COMPLETE, Measure.PROCEDURES_ONLINE,
    Measure.ONLINE_PROCEDURES_USED, Measure.PROCEDURES_PAID_ONLINE,
    Measure.PROCEDURES_PAYMENT_INTEGRATED, Measure.PROCEDURES_POPULATION_DB,
    Measure.COMMUNES_E_CERTIFIED_COPY,
)
