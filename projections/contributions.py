"""What one dossier or petition adds to the counters of each period: bit masks plus deadlines."""

from __future__ import annotations

from collections.abc import Iterator

from domain.calendar import WorkingCalendar
from projections.facts import DossierFacts, PetitionFacts
from projections.judge import dossier_timeliness, judge_petition, petition_displeased
from projections.periods import (
    Instant,
    Period,
    month_index,
    periods_containing,
    periods_starting_between,
)
from projections.rulebook import Switches

# Dossier counter bits: one bit per counter a dossier can add 1 to.
RECEIVED, SYNCED, ONLINE, FEE_BEARING, PAID_ONLINE = 1, 2, 4, 8, 16
RESOLVED_DOC, ELECTRONIC, DIGITIZED, REUSED, PERSONAL_STORE = 32, 64, 128, 256, 512
POPULATION_DB, POPULATION_21, ON_TIME_21, SATISFIED_53 = 1024, 2048, 4096, 8192
ELIGIBLE, ELIGIBLE_ONLINE = 16384, 32768
DOSSIER_BITS = 16
# Petition counter bits.
POPULATION_51, ON_TIME_51, RECEIVED_52, SATISFIED_52 = 1, 2, 4, 8
PETITION_BITS = 4

Contribution = tuple[int, int | None, int | None]
"""(counter bits, deadline of a pending on-time verdict, deadline of a pending satisfaction)."""

Group = tuple[tuple[str, ...], Contribution]
"""Period keys that share one contribution, and that contribution."""

Contributions = tuple[tuple[Group, ...], tuple[int, Contribution] | None]
"""Per period key (grouped), plus the pool entry (month of the last event, contribution) of an
open item that counts in every period starting after that month (carried over, still open)."""

Timeliness = tuple[bool, bool, Instant]
"""(running, on time when not running, deadline when running): see ``dossier_timeliness``."""

FAR_FUTURE: Instant = 2**62


def dossier_contribution(
    f: DossierFacts, period: Period, t: Instant, live: bool, switches: Switches
) -> Contribution | None:
    """The dossier's counters in ``period`` at t; ``live``: t is any time ≥ its last event."""
    r = f.received_at
    if r is None or r > t:
        return None
    start = period.start
    in_period = r >= start
    timeliness: Timeliness | None = None
    if in_period or (switches.carried_over_in_2_1 and (
            (end := f.end_at(t)) is None or end >= start)):
        timeliness = dossier_timeliness(f, t, switches.apology_extends_due)
    return _contribution(f, start, t, live, in_period, timeliness)


def _contribution(f: DossierFacts, start: Instant, t: Instant, live: bool, in_period: bool,
                  timeliness: Timeliness | None) -> Contribution | None:
    """The mask and pending deadlines, given 2.1's judgement at t (None: not in 2.1's
    population for the period)."""
    mask = 0
    pending_21: Instant | None = None
    pending_53: Instant | None = None
    if timeliness is not None:
        running, on_time, deadline = timeliness
        mask = POPULATION_21
        if running and live:
            pending_21 = deadline
        elif (t <= deadline) if running else on_time:
            mask = POPULATION_21 | ON_TIME_21
    if in_period:
        mask |= RECEIVED
        if f.synced_at is not None and f.synced_at <= t:
            mask |= SYNCED
        online = f.channel == "online"
        if online:
            mask |= ONLINE
        if f.full_online_eligible:
            mask |= ELIGIBLE | (ELIGIBLE_ONLINE if online else 0)
        if f.fee_bearing:
            mask |= FEE_BEARING
            if f.online_payments and f.online_payments[0] <= t:
                mask |= PAID_ONLINE
        if f.digitized:
            mask |= DIGITIZED
        if f.reused:
            mask |= REUSED
        if f.from_personal_store or (
            f.pushed_to_personal_store and f.resolved_at is not None and f.resolved_at <= t
        ):
            mask |= PERSONAL_STORE
        if f.vneid_verified or f.from_population_db:
            mask |= POPULATION_DB
        named = f.named_at is not None and f.named_at <= t
        unsatisfied = f.rated_at is not None and f.rated_at <= t and not f.satisfied
        if not (named or unsatisfied):
            if pending_21 is not None:
                pending_53 = pending_21
            elif mask & ON_TIME_21:
                mask |= SATISFIED_53
    resolved = f.resolved_at
    if f.requires_result_document and resolved is not None and start <= resolved <= t:
        mask |= RESOLVED_DOC | (ELECTRONIC if f.electronic_result else 0)
    if not mask:
        return None
    return (mask, pending_21, pending_53)


def dossier_periods(f: DossierFacts, switches: Switches) -> Iterator[Period]:
    """Periods whose counters the dossier may touch, given every event folded so far."""
    r = f.received_at
    if r is None:
        return
    yield from periods_containing(r)
    if switches.carried_over_in_2_1:
        yield from periods_starting_between(r, f.last_at)
    if f.resolved_at is not None and f.requires_result_document:
        yield from periods_containing(f.resolved_at)


def dossier_contributions(f: DossierFacts, switches: Switches,
                          previous: tuple[Group, ...] | None = None,
                          settled_before: Instant = 0) -> Contributions:
    """All the dossier's contributions, for the counters kept incrementally.

    ``previous`` holds the contributions computed when the dossier's last event was at
    ``settled_before`` or later, and every event folded since is at ``settled_before`` or later:
    a period that ends by then was judged at its end, already past the last event (so not live),
    and nothing at or after ``settled_before`` shows at that end, so its contribution is reused.

    While the month of reception is live (every event so far falls in it, a resolution
    included), no period starts after it, and the quarter and year of reception see the same
    facts at their ends as the month does at its end, with the dossier received in all three:
    they share the month's contribution, and 2.1's judgement at the month's end is the one at
    any later time (the pool's).
    """
    last = f.last_at
    r = f.received_at
    if r is None:
        return (), None
    timeliness = dossier_timeliness(f, FAR_FUTURE, switches.apology_extends_due)
    month, quarter, year = periods_containing(r)
    if month.end > last:
        shared = _contribution(f, month.start, month.end - 1, True, True, timeliness)
        groups: tuple[Group, ...] = ()
        if shared is not None:
            groups = (((month.key, quarter.key, year.key), shared),)
        return groups, _pool(f, switches, last, timeliness)
    # A period still running after the last event is judged at its end like any later time:
    # with the judgement computed once above. Periods that closed before are judged at their
    # ends (reused from ``previous`` when nothing since can show there).
    end = f.end_at(last)
    carried = switches.carried_over_in_2_1
    keys_of: dict[Contribution, list[str]] = {}
    seen: set[str] = set()
    before = {key: c for keys, c in previous for key in keys} if previous else {}
    for period in dossier_periods(f, switches):
        key = period.key
        if key in seen:
            continue
        seen.add(key)
        contribution: Contribution | None
        if period.end <= last:
            if previous is not None and period.end <= settled_before:
                contribution = before.get(key)
            else:
                contribution = dossier_contribution(f, period, period.last, False, switches)
        else:
            start = period.start
            in_period = r >= start
            counted = in_period or (carried and (end is None or end >= start))
            contribution = _contribution(f, start, period.last, True, in_period,
                                         timeliness if counted else None)
        if contribution is not None:
            keys_of.setdefault(contribution, []).append(key)
    return (tuple((tuple(keys), c) for c, keys in keys_of.items()),
            _pool(f, switches, last, timeliness))


def _pool(f: DossierFacts, switches: Switches, last: Instant,
          timeliness: Timeliness | None) -> tuple[int, Contribution] | None:
    """The pool entry of a received dossier still open after its last event (carried over);
    ``timeliness``: 2.1's judgement at any time after the last event, when known."""
    if not switches.carried_over_in_2_1 or f.end_at(last) is not None:
        return None
    running, on_time, deadline = timeliness or dossier_timeliness(
        f, FAR_FUTURE, switches.apology_extends_due)
    if running:
        return (month_index(last), (POPULATION_21, deadline, None))
    return (month_index(last), (POPULATION_21 | (ON_TIME_21 * on_time), None, None))


def petition_contribution(
    p: PetitionFacts, period: Period, t: Instant, live: bool, calendar: WorkingCalendar
) -> Contribution | None:
    """The petition's counters in ``period`` at t (5.1 and 5.2)."""
    r = p.received_at
    if r > t:
        return None
    start = period.start
    in_period = r >= start
    answered = p.answered_at if p.answered_at is not None and p.answered_at <= t else None
    if not in_period and answered is not None and answered < start:
        return None
    verdict = judge_petition(p, t, calendar)
    mask = POPULATION_51
    pending_51: Instant | None = None
    pending_52: Instant | None = None
    if verdict.running and live:
        pending_51 = verdict.deadline
    elif verdict.on_time_at(t):
        mask |= ON_TIME_51
    if in_period:
        mask |= RECEIVED_52
        if not petition_displeased(p, t):
            if pending_51 is not None:
                pending_52 = pending_51
            elif mask & ON_TIME_51:
                mask |= SATISFIED_52
    return (mask, pending_51, pending_52)


def petition_contributions(p: PetitionFacts, calendar: WorkingCalendar) -> Contributions:
    """All the petition's contributions (periods sharing one are grouped), and its pool entry
    while unanswered."""
    keys_of: dict[Contribution, list[str]] = {}
    last = p.last_at
    for period in (*periods_containing(p.received_at),
                   *periods_starting_between(p.received_at, last)):
        contribution = petition_contribution(p, period, period.last, period.end > last,
                                             calendar)
        if contribution is not None:
            keys = keys_of.setdefault(contribution, [])
            if period.key not in keys:
                keys.append(period.key)
    pool: tuple[int, Contribution] | None = None
    if p.answered_at is None:
        verdict = judge_petition(p, FAR_FUTURE, calendar)
        pool = (month_index(last), (POPULATION_51, verdict.deadline, None))
    return tuple((tuple(keys), c) for c, keys in keys_of.items()), pool
