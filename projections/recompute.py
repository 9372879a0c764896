"""The auditors' path: any score recomputed from scratch from the events alone, at t."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from domain.calendar import WorkingCalendar
from domain.units import Unit, UnitKind
from projections.audit import (
    Entry,
    commune_entries,
    count_entries,
    dossier_entries,
    petition_entries,
    scope_entries,
    scope_units,
)
from projections.facts import Event, FactStore
from projections.judge import judge_procedure
from projections.periods import (
    Instant,
    Period,
    parse_instant,
    parse_period,
    to_datetime,
    to_instant,
)
from projections.rulebook import DEFAULT_RULEBOOK, Rulebook, Switches, load_rulebook
from projections.scores import UnitScore, make_unit_score, standard_competition_ranks, with_rank


def facts_as_of(events: Iterable[Event], t: Instant, compiled: bool | None = None) -> FactStore:
    """Facts from the events whose ``at`` ≤ t (later events do not exist at t); ``compiled``
    as for :class:`FactStore` (False: the pure-Python fold, sharing no compiled code with the
    live path)."""
    store = FactStore(compiled=compiled)
    for event in events:
        if parse_instant(event["at"]) <= t:
            store.apply(event)
    return store


def recompute_counts(store: FactStore, unit: str, period: Period, t: Instant,
                     rulebook: Rulebook) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) of every measure, by scanning the scope's facts at t."""
    store.units.get(unit)
    return count_entries(scope_entries(store, unit, period, t, rulebook.switches,
                                       rulebook.working_calendar()))


def recompute_scores(
    events: Iterable[Event], units: Iterable[str], period: Period | str, as_of: datetime,
    rulebook: Rulebook | None = None, with_ranks: bool = True,
) -> dict[str, UnitScore]:
    """Scores of ``units`` (ranked among their peers) from scratch: t = min(as_of, end)."""
    rulebook = rulebook or load_rulebook(DEFAULT_RULEBOOK)
    period = parse_period(period) if isinstance(period, str) else period
    t = period.evaluation_time(to_instant(as_of))
    store = facts_as_of(events, t)

    def score(code: str) -> UnitScore:
        counts = recompute_counts(store, code, period, t, rulebook)
        return make_unit_score(store.units.get(code), period, as_of, t, rulebook, counts,
                               store.position)

    result: dict[str, UnitScore] = {}
    for code in units:
        own = score(code)
        peers = [u.code for u in store.units.peers(code) if store.unit_exists_at(u.code, t)]
        if with_ranks and code in peers:
            totals = {p: (own.total if p == code else score(p).total) for p in peers}
            own = with_rank(own, standard_competition_ranks(totals)[code])
        result[code] = own
    return result


def recompute_score(events: Iterable[Event], unit: str, period: Period | str, as_of: datetime,
                    rulebook: Rulebook | None = None, with_rank: bool = True) -> UnitScore:
    """One unit's score from scratch (see :func:`recompute_scores`)."""
    return recompute_scores(events, [unit], period, as_of, rulebook, with_rank)[unit]


MADE_LIMIT = 100_000  # scores kept by (rulebook, kind, counts) before starting afresh

PeerKey = tuple[str, str | None]
"""Units that :meth:`UnitRegistry.peers` ranks together: (kind, province), province None for
the national kinds."""

Counts = Mapping[str, tuple[int, int]]
"""(numerator, denominator) per measure; shared between scores, so never changed."""
NO_COUNTS: Counts = MappingProxyType({})


def own_entries(store: FactStore, code: str, period: Period, t: Instant, switches: Switches,
                calendar: WorkingCalendar) -> Iterator[Entry]:
    """The entries of the dossiers, petitions and procedures of ``code`` itself (not of the
    units below it): :func:`projections.audit.scope_entries` is these for every unit of the
    scope, then 4.3's communes."""
    for dossier in store.dossiers_of_unit(code):
        yield from dossier_entries(dossier, period, t, switches)
    for petition_id in store.petitions_by_unit.get(code, ()):
        yield from petition_entries(store.petitions[petition_id], period, t, calendar)
    for procedure_id in store.procedures_by_unit.get(code, ()):
        for measure, numerator, why in judge_procedure(store.procedures[procedure_id], period,
                                                       t, calendar, why=False):
            yield Entry(measure, "procedure", procedure_id, numerator, why)


class SnapshotScores:
    """:func:`recompute_scores` for many score rows at once, over one fold of the log as it
    stands (every event up to a position, each judged at t, so events after t count for
    nothing). Each unit's own entries are counted once per (rulebook, period, t) and a scope's
    counts are the sums of its units' (what :func:`recompute_counts` counts, entry by entry);
    each unit is scored once per (rulebook, period, as_of), each peer group ranked once.

    Fold with :meth:`apply` and call :meth:`moved` before scoring again: the scores are
    forgotten, but the counts of a unit's own entries at a t stay while no event of its
    dossiers, petitions or procedures is folded (a closed period's t, or an as_of that
    stays, is asked for again at later positions)."""

    def __init__(self, store: FactStore) -> None:
        self.store = store
        self._own: dict[tuple[str, str, Instant, str], Counts] = {}
        self._own_used: set[tuple[str, str, Instant, str]] = set()  # since the last move
        self._dirty: set[str] = set()  # units whose own entries changed since the last move
        self._scores: dict[tuple[str, str, Instant, str], UnitScore] = {}
        self._ranks: dict[tuple[str, str, Instant, PeerKey], dict[str, int]] = {}
        self._peers: dict[tuple[PeerKey, Instant], list[str]] = {}
        self._kin: dict[PeerKey, list[str]] = {}
        self._made_for: dict[tuple[Any, ...], UnitScore] = {}  # kept across positions
        self._moments: dict[Instant, datetime] = {}
        self._registered = len(store.units)

    def apply(self, envelope: Event) -> None:
        """Fold one event into the store, noting the units whose own entries it changes: the
        unit of its dossier (and of the dossier's procedure, whose activity it records), of
        its petition (and of the dossier a petition names), of its procedure."""
        store = self.store
        store.apply(envelope)
        stream, key = envelope.get("stream"), str(envelope.get("id"))
        dirty = self._dirty
        if stream == "dossier":
            dossier = store.dossiers.get(key)
            if dossier is not None:
                dirty.add(dossier.unit)
                procedure = store.procedures.get(dossier.procedure)
                if procedure is not None:
                    dirty.add(procedure.unit)
        elif stream == "petition":
            petition = store.petitions.get(key)
            if petition is not None:
                dirty.add(petition.unit)
                named = store.dossiers.get(petition.dossier or "")
                if named is not None:
                    dirty.add(named.unit)
        elif stream == "procedure":
            procedure = store.procedures.get(key)
            if procedure is not None:
                dirty.add(procedure.unit)

    def moved(self) -> None:
        """Forget the scores: the store has folded more events since. The own counts used
        since the last move, of units no event changed, are kept."""
        dirty, used = self._dirty, self._own_used
        self._own = {key: counts for key, counts in self._own.items()
                     if key in used and key[3] not in dirty}
        used.clear()
        dirty.clear()
        self._scores.clear()
        self._ranks.clear()
        self._moments.clear()
        if len(self.store.units) != self._registered:  # a unit was registered
            self._registered = len(self.store.units)
            self._peers.clear()
            self._kin.clear()

    def score(self, unit: str, period: Period, as_of: Instant, rulebook: Rulebook,
              ranked: bool = True) -> UnitScore:
        """``recompute_scores(events so far, [unit], period, as_of, rulebook)[unit]``."""
        own = self.unranked(unit, period, as_of, rulebook)
        key = self.peer_key(unit)
        if not ranked or key is None:
            return own
        peers = self.peers(key, period.evaluation_time(as_of))
        if unit not in peers:
            return own
        ranks_key = (rulebook.id, period.key, as_of, key)
        ranks = self._ranks.get(ranks_key)
        if ranks is None:
            ranks = self._ranks[ranks_key] = standard_competition_ranks(
                {p: self.unranked(p, period, as_of, rulebook).total for p in peers})
        return with_rank(own, ranks[unit])

    def unranked(self, unit: str, period: Period, as_of: Instant,
                 rulebook: Rulebook) -> UnitScore:
        key = (rulebook.id, period.key, as_of, unit)
        found = self._scores.get(key)
        if found is None:
            t = period.evaluation_time(as_of)
            found = self._scores[key] = self._made(self.store.units.get(unit), period, as_of,
                                                   t, rulebook, self.counts(unit, period, t,
                                                                            rulebook))
        return found

    def counts(self, unit: str, period: Period, t: Instant, rulebook: Rulebook) -> Counts:
        """``recompute_counts(store, unit, period, t, rulebook)``, summed unit by unit."""
        store = self.store
        codes = scope_units(store, unit)
        if len(codes) == 1:  # no unit below: no commune to count either (4.3)
            return self._own_counts(unit, period, t, rulebook)
        sums: dict[str, list[int]] = {}
        for code in codes:
            for measure, (numerator, denominator) in self._own_counts(code, period, t,
                                                                      rulebook).items():
                pair = sums.setdefault(measure, [0, 0])
                pair[0] += numerator
                pair[1] += denominator
        for measure, (numerator, denominator) in count_entries(
                commune_entries(store, unit, codes, t)).items():
            pair = sums.setdefault(measure, [0, 0])
            pair[0] += numerator
            pair[1] += denominator
        return {measure: (pair[0], pair[1]) for measure, pair in sums.items()}

    def _own_counts(self, code: str, period: Period, t: Instant, rulebook: Rulebook) -> Counts:
        store = self.store
        if (code not in store.dossiers_by_unit and code not in store.petitions_by_unit
                and code not in store.procedures_by_unit):
            return NO_COUNTS
        key = (rulebook.id, period.key, t, code)
        self._own_used.add(key)
        found = self._own.get(key)
        if found is None:
            found = self._own[key] = count_entries(own_entries(
                store, code, period, t, rulebook.switches, rulebook.working_calendar()))
        return found

    def _made(self, unit: Unit, period: Period, as_of: Instant, t: Instant, rulebook: Rulebook,
              counts: Counts) -> UnitScore:
        """``make_unit_score``, whose groups, total and band depend on the rulebook, the
        unit's kind and the counts alone: computed once per distinct (rulebook, kind, counts)
        — most units share a handful of them (no dossier yet, one dossier …)."""
        key = (rulebook.id, unit.kind, *sorted(counts.items()))
        made = self._made_for.get(key)
        if made is None:
            if len(self._made_for) >= MADE_LIMIT:
                self._made_for.clear()
            made = self._made_for[key] = make_unit_score(unit, period, self._moment(as_of), t,
                                                         rulebook, counts, self.store.position)
            return made
        return UnitScore(unit=unit.code, unit_name=unit.name, kind=made.kind,
                         period=period.key, as_of=self._moment(as_of),
                         evaluated_at=self._moment(t), rulebook_id=made.rulebook_id,
                         rulebook_version=made.rulebook_version, total=made.total,
                         band=made.band, groups=made.groups, position=self.store.position)

    def _moment(self, instant: Instant) -> datetime:
        found = self._moments.get(instant)
        if found is None:
            found = self._moments[instant] = to_datetime(instant)
        return found

    def peer_key(self, unit: str) -> PeerKey | None:
        """The key of the units ranked with ``unit`` (None: it has no peers). ``peers`` is
        the same list for every unit of a kind within a province (all provinces for a
        province), so it is looked up once per key."""
        units = self.store.units
        kind = units.get(unit).kind
        if kind is UnitKind.PROVINCE:
            key: PeerKey = (str(kind), None)
        elif kind in (UnitKind.DEPARTMENT, UnitKind.COMMUNE):
            key = (str(kind), units.province_of(unit))
        else:
            return None
        if key not in self._kin:
            self._kin[key] = [u.code for u in units.peers(unit)]
        return key

    def peers(self, key: PeerKey, t: Instant) -> list[str]:
        """The units of a peer group that exist at t."""
        found = self._peers.get((key, t))
        if found is None:
            exists_at = self.store.unit_exists_at
            found = self._peers[(key, t)] = [c for c in self._kin[key] if exists_at(c, t)]
        return found
