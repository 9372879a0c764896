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

Contributions = tuple[dict[str, Contribution], tuple[int, Contribution] | None]
"""Per period key, plus the pool entry (month of the last event, contribution) of an open item
that counts in every period starting after that month (carried over, still open)."""

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
    mask = 0
    pending_21: Instant | None = None
    pending_53: Instant | None = None
    end = f.end_at(t)
    if in_period or (switches.carried_over_in_2_1 and (end is None or end >= start)):
        running, on_time, deadline = dossier_timeliness(f, t, switches.apology_extends_due)
        mask = POPULATION_21
        if running and live:
            pending_21 = deadline
        elif (t <= deadline) if running else on_time:
            mask |= ON_TIME_21
    if in_period:
        mask |= RECEIVED
        if f.synced_at is not None and f.synced_at <= t:
            mask |= SYNCED
        if f.channel == "online":
            mask |= ONLINE
        if f.full_online_eligible:
            mask |= ELIGIBLE | (ELIGIBLE_ONLINE if f.channel == "online" else 0)
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
                          previous: dict[str, Contribution] | None = None,
                          settled_before: Instant = 0) -> Contributions:
    """All the dossier's contributions, for the counters kept incrementally.

    ``previous`` holds the contributions computed when the dossier's last event was at
    ``settled_before`` or later, and every event folded since is at ``settled_before`` or later:
    a period that ends by then was judged at its end, already past the last event (so not live),
    and nothing at or after ``settled_before`` shows at that end, so its contribution is reused.

    While the month of reception is live (every event so far falls in it), the quarter and year
    of reception see the same facts at their ends as the month does at its end, and the dossier
    is received in all three: they share the month's contribution.
    """
    contributions: dict[str, Contribution] = {}
    last = f.last_at
    r = f.received_at
    if r is not None:
        month, quarter, year = periods_containing(r)
        if month.end > last:
            shared = dossier_contribution(f, month, month.last, True, switches)
            if shared is not None:
                contributions[month.key] = contributions[quarter.key] = shared
                contributions[year.key] = shared
    for period in dossier_periods(f, switches):
        if period.key in contributions:
            continue
        if previous is not None and period.end <= settled_before:
            kept = previous.get(period.key)
            if kept is not None:
                contributions[period.key] = kept
            continue
        live = period.end > last
        contribution = dossier_contribution(f, period, period.last, live, switches)
        if contribution is not None:
            contributions[period.key] = contribution
    pool: tuple[int, Contribution] | None = None
    if switches.carried_over_in_2_1 and f.received_at is not None and f.end_at(last) is None:
        running, on_time, deadline = dossier_timeliness(f, FAR_FUTURE,
                                                        switches.apology_extends_due)
        if running:
            pool = (month_index(last), (POPULATION_21, deadline, None))
        else:
            pool = (month_index(last), (POPULATION_21 | (ON_TIME_21 * on_time), None, None))
    return contributions, pool


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
    contributions: dict[str, Contribution] = {}
    last = p.last_at
    periods = [*periods_containing(p.received_at),
               *periods_starting_between(p.received_at, last)]
    for period in periods:
        if period.key not in contributions:
            contribution = petition_contribution(p, period, period.last, period.end > last,
                                                 calendar)
            if contribution is not None:
                contributions[period.key] = contribution
    pool: tuple[int, Contribution] | None = None
    if p.answered_at is None:
        verdict = judge_petition(p, FAR_FUTURE, calendar)
        pool = (month_index(last), (POPULATION_51, verdict.deadline, None))
    return contributions, pool
