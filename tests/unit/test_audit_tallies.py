"""Property: the auditors' counting tallies (no reasons built) are the (measure, numerator)
pairs of the entries the explanations list, item by item, at any t and period start."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.audit import dossier_entries, dossier_tally, petition_entries, petition_tally
from projections.facts import FactStore
from projections.periods import parse_period
from projections.rulebook import load_rulebook
from projections.synthetic import random_history

PERIODS = ("2026-09", "2026-10", "2026-Q4", "2026")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), dossiers=st.integers(1, 15), petitions=st.integers(0, 4))
def test_tallies_are_the_entries_pairs(seed: int, dossiers: int, petitions: int) -> None:
    events = random_history(seed, dossiers, petitions=petitions, departments=2, communes=2,
                            procedures=3)
    store = FactStore(compiled=False)
    for event in events:
        store.apply(event)
    times = sorted({f.received_at or 0 for f in store.dossiers.values()}
                   | {f.resolved_at or 0 for f in store.dossiers.values()}
                   | {p.received_at for p in store.petitions.values()})
    moments = [*times, *(t + 1 for t in times), *(t + 40 * 86_400_000_000 for t in times[-2:])]
    for rulebook in ("vn-766", "vn-766-online12"):
        book = load_rulebook(rulebook)
        for period in map(parse_period, PERIODS):
            for t in moments:
                for f in store.dossiers.values():
                    assert dossier_tally(f, period.start, t, book.switches) == tuple(
                        (e.measure, e.numerator)
                        for e in dossier_entries(f, period, t, book.switches)), (f.id, t)
                for p in store.petitions.values():
                    assert petition_tally(p, period.start, t, book.working_calendar()) == tuple(
                        (e.measure, e.numerator) for e in petition_entries(
                            p, period, t, book.working_calendar())), (p.id, t)
