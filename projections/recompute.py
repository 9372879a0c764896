"""The auditors' path: any score recomputed from scratch from the events alone, at t."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from domain.units import Unit, UnitKind
from projections.audit import (
    Tally,
    commune_entries,
    count_entries,
    dossier_tally,
    petition_tally,
    scope_entries,
    scope_units,
)
from projections.facts import DossierFacts, Event, FactStore, PetitionFacts, ProcedureFacts
from projections.judge import judge_procedure
from projections.periods import (
    Instant,
    Period,
    parse_instant,
    parse_period,
    to_datetime,
    to_instant,
)
from projections.rulebook import DEFAULT_RULEBOOK, Rulebook, load_rulebook
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


ALWAYS = 1 << 62  # an instant later than any period's start


def _reach(f: DossierFacts, t: Instant) -> Instant:
    """The latest period start for which the dossier's tally at t is the one of every
    earlier start: its reception (and its resolution, when 4.1 counts it then); a dossier
    not received by t counts nowhere."""
    r = f.received_at
    if r is None or r > t:
        return ALWAYS
    resolved = f.resolved_at
    if f.requires_result_document and resolved is not None and resolved <= t:
        return min(r, resolved)
    return r


def _beyond(f: DossierFacts, t: Instant) -> Instant:
    """The period start after which the tally of a dossier received by t is the one of every
    later start: after its reception, its end at t (2.1's carried dossiers) and its
    resolution when 4.1 counts it."""
    r = f.received_at or 0
    end = f.end_at(t)
    resolved = f.resolved_at
    counted = f.requires_result_document and resolved is not None and resolved <= t
    return max(r, end if end is not None else r, resolved if counted and resolved else r)


SharedKey = tuple[Instant, tuple[bool, bool] | None]
"""(t, None): the dossier tallies of every period starting by their :func:`_reach`, under
any rulebook; (t, (carried over in 2.1, apology extends the due date)): those of every period
starting after their :func:`_beyond`, under rulebooks with these switches."""


class _Tally:
    """The own counts of units at one (rulebook, period, t), kept item by item: each
    dossier's, petition's and procedure's (measure, numerator) pairs and their sums per unit.
    A unit's sums are counted by scanning its items once, then brought up to date item by
    item as items change (:meth:`changed`): a later position costs what changed since, not
    every item of the scope again."""

    def __init__(self, period: Period, t: Instant, rulebook: Rulebook,
                 interned: dict[Tally, Tally], early: dict[str, Tally],
                 late: dict[str, Tally]) -> None:
        self.period, self.t = period, t
        self.switches, self.calendar = rulebook.switches, rulebook.working_calendar()
        self.interned = interned  # the distinct tallies (a handful), shared by every item
        self.early, self.late = early, late  # dossier tallies shared (see SharedKey)
        self.items: dict[str, dict[str, Tally]] = {"dossier": {}, "petition": {},
                                                    "procedure": {}}
        self.sums: dict[str, dict[str, list[int]]] = {}
        self.counts: dict[str, Counts] = {}  # per unit, until one of its items changes
        self.stale: dict[str, set[tuple[str, str]]] = {}

    def changed(self, unit: str, kind: str, item: str) -> None:
        """Note that an item of ``unit`` changed: its tally is taken again when asked."""
        if unit in self.sums:
            self.counts.pop(unit, None)
            self.stale.setdefault(unit, set()).add((kind, item))

    def own_counts(self, store: FactStore, unit: str) -> Counts:
        """(numerator, denominator) per measure of the items of ``unit`` itself."""
        found = self.counts.get(unit)
        if found is not None:
            return found
        sums = self.sums.get(unit)
        if sums is None:
            sums = self.sums[unit] = self._scan(store, unit)
        else:
            for kind, item in self.stale.pop(unit, ()):
                self._retake(store, kind, item, sums)
        found = self.counts[unit] = MappingProxyType(
            {measure: (pair[0], pair[1]) for measure, pair in sums.items() if pair[1]})
        return found

    def _scan(self, store: FactStore, unit: str) -> dict[str, list[int]]:
        sums: dict[str, list[int]] = {}
        dossiers, items, tally_of = store.dossiers, self.items["dossier"], self._dossier_tally
        for item in store.dossiers_by_unit.get(unit, ()):
            if tally := tally_of(dossiers[item]):
                items[item] = tally
                _add(sums, tally, 1)
        for kind, ids in (("petition", store.petitions_by_unit.get(unit, ())),
                          ("procedure", store.procedures_by_unit.get(unit, ()))):
            items = self.items[kind]
            for item in ids:
                if tally := self._tally(store, kind, item):
                    items[item] = tally
                    _add(sums, tally, 1)
        return sums

    def _retake(self, store: FactStore, kind: str, item: str,
                sums: dict[str, list[int]]) -> None:
        items = self.items[kind]
        old = items.pop(item, ())
        tally = self._tally(store, kind, item)
        if tally:
            items[item] = tally
        if tally is not old:
            _add(sums, old, -1)
            _add(sums, tally, 1)

    def _tally(self, store: FactStore, kind: str, item: str) -> Tally:
        """The item's (measure, numerator) pairs, interned (so equal ones are one object)."""
        start, t = self.period.start, self.t
        if kind == "dossier":
            return self._dossier_tally(store.dossiers[item])
        if kind == "petition":
            tally = petition_tally(store.petitions[item], start, t, self.calendar)
        else:
            tally = tuple((measure, numerator) for measure, numerator, _ in judge_procedure(
                store.procedures[item], self.period, t, self.calendar, why=False))
        return self.interned.setdefault(tally, tally)

    def _dossier_tally(self, f: DossierFacts) -> Tally:
        """A dossier's tally, taken once at t for every period starting by its
        :func:`_reach` under either rulebook when it has no apology (2.1's switches then
        change nothing), and once per switches for every period starting after its
        :func:`_beyond`: a month, its quarter and its year share most of their dossiers."""
        start, t = self.period.start, self.t
        if start <= _reach(f, t) and not f.apologies:
            shared: dict[str, Tally] | None = self.early
        elif start > _beyond(f, t):
            shared = self.late
        else:
            shared = None
        if shared is not None and (found := shared.get(f.id)) is not None:
            return found
        tally = dossier_tally(f, start, t, self.switches)
        tally = self.interned.setdefault(tally, tally)
        if shared is not None:
            shared[f.id] = tally
        return tally


def _add(sums: dict[str, list[int]], tally: Tally, sign: int) -> None:
    for measure, numerator in tally:
        pair = sums.get(measure)
        if pair is None:
            pair = sums[measure] = [0, 0]
        pair[0] += sign * numerator
        pair[1] += sign


class SnapshotScores:
    """:func:`recompute_scores` for many score rows at once, over one fold of the log as it
    stands (every event up to a position, each judged at t, so events after t count for
    nothing). Each unit's own counts are kept per (rulebook, period, t), item by item (see
    :class:`_Tally`), and a scope's counts are the sums of its units' (what
    :func:`recompute_counts` counts, entry by entry); each unit is scored once per
    (rulebook, period, as_of), each peer group ranked once.

    Fold with :meth:`apply` and call :meth:`moved` before scoring again: the scores are
    forgotten, the own counts follow the items the events folded since changed. One t is
    kept per (rulebook, period), the last asked for (a closed period's t stays from position
    to position; an open period's moves on with as_of)."""

    def __init__(self, store: FactStore) -> None:
        self.store = store
        self._tallies: dict[tuple[str, str], _Tally] = {}  # (rulebook id, period key) ->
        self._interned: dict[Tally, Tally] = {}
        self._shared: dict[SharedKey, dict[str, Tally]] = {}
        self._changed: dict[str, set[str]] = {"dossier": set(), "petition": set(),
                                              "procedure": set()}
        self._scores: dict[tuple[str, str, Instant, str], UnitScore] = {}
        self._ranks: dict[tuple[str, str, Instant, PeerKey], dict[str, int]] = {}
        self._peers: dict[tuple[PeerKey, Instant], list[str]] = {}
        self._kin: dict[PeerKey, list[str]] = {}
        self._made_for: dict[tuple[Any, ...], UnitScore] = {}  # kept across positions
        self._moments: dict[Instant, datetime] = {}
        self._registered = len(store.units)

    def apply(self, envelope: Event) -> None:
        """Fold one event into the store, noting the items whose own entries it changes: its
        dossier (and the dossier's procedure, whose activity it records), its petition (and
        the dossier a petition names), its procedure."""
        store = self.store
        store.apply(envelope)
        stream, key = envelope.get("stream"), str(envelope.get("id"))
        changed = self._changed
        if stream == "dossier":
            dossier = store.dossiers.get(key)
            if dossier is not None:
                changed["dossier"].add(key)
                if dossier.procedure in store.procedures:
                    changed["procedure"].add(dossier.procedure)
        elif stream == "petition":
            petition = store.petitions.get(key)
            if petition is not None:
                changed["petition"].add(key)
                if petition.dossier in store.dossiers:
                    changed["dossier"].add(petition.dossier)
        elif stream == "procedure" and key in store.procedures:
            changed["procedure"].add(key)

    def moved(self) -> None:
        """Forget the scores (the store has folded more events since) and pass the items
        changed since the last move on to the kept own counts."""
        store = self.store
        owners: dict[str, Mapping[str, DossierFacts | PetitionFacts | ProcedureFacts]] = {
            "dossier": store.dossiers, "petition": store.petitions,
            "procedure": store.procedures}
        for kind, items in self._changed.items():
            facts = owners[kind]
            for item in items:
                unit = facts[item].unit
                for tally in self._tallies.values():
                    tally.changed(unit, kind, item)
        for shared in self._shared.values():
            for item in self._changed["dossier"]:
                shared.pop(item, None)
        for items in self._changed.values():
            items.clear()
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
        tally = self._tallies.get((rulebook.id, period.key))
        if tally is None or tally.t != t:
            tally = self._tallies[(rulebook.id, period.key)] = _Tally(
                period, t, rulebook, self._interned, self._shared_at(t, None),
                self._shared_at(t, (rulebook.switches.carried_over_in_2_1,
                                    rulebook.switches.apology_extends_due)))
        return tally.own_counts(store, code)

    def _shared_at(self, t: Instant, switches: tuple[bool, bool] | None) -> dict[str, Tally]:
        """The dossier tallies shared at t (see :data:`SharedKey`); those of a t no kept
        tally is at are dropped."""
        kept = {tally.t for tally in self._tallies.values()}
        for gone in [key for key in self._shared if key[0] not in kept and key[0] != t]:
            del self._shared[gone]
        return self._shared.setdefault((t, switches), {})

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
