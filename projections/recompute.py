"""The auditors' path: any score recomputed from scratch from the events alone, at t."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from projections.audit import count_entries, scope_entries
from projections.facts import Event, FactStore
from projections.periods import Instant, Period, parse_instant, parse_period, to_instant
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
