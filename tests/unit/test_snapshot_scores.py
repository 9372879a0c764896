"""Property: the auditors' scores over one fold of the log, as it stands at a position, equal the
scores recomputed from scratch from the events up to that position, with their ranks."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.units import UnitKind, UnitRegistry
from projections.facts import FactStore
from projections.periods import parse_instant, parse_period, to_datetime, to_instant
from projections.recompute import SnapshotScores, recompute_scores
from projections.rulebook import load_rulebook
from projections.synthetic import random_history

RULEBOOKS = ("vn-766", "vn-766-online12")
PERIODS = ("2026-09", "2026-10", "2026-Q4", "2026-11", "2026")
COMMUNES = [u.code for u in UnitRegistry().children("22") if u.kind is UnitKind.COMMUNE][:2]
UNITS = ("22", "01", "22.S0", "22.S1", *COMMUNES)
FIXED = datetime(2026, 10, 15, 12, 0, tzinfo=timezone(timedelta(hours=7)))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), dossiers=st.integers(1, 12), petitions=st.integers(0, 3))
def test_scores_of_a_fold_standing_at_a_position_equal_scores_recomputed_from_scratch(
        seed: int, dossiers: int, petitions: int) -> None:
    events = random_history(seed, dossiers, petitions=petitions, departments=2, communes=2,
                            procedures=3)
    for position, event in enumerate(events, start=1):
        event["position"] = position
    rng = random.Random(seed)
    store = FactStore(compiled=False)
    scores = SnapshotScores(store)
    checkpoints = sorted(rng.sample(range(1, len(events) + 1), min(6, len(events))))
    folded = 0
    for checkpoint in checkpoints:
        for event in events[folded:checkpoint]:
            scores.apply(event)
        folded = checkpoint
        scores.moved()
        last_at = parse_instant(events[checkpoint - 1]["at"])
        for _ in range(8):
            # a moment before the last event folded, at it, or later (events after t are
            # folded but count for nothing), or one that stays from checkpoint to checkpoint
            # (as a closed period's end does: the counts kept must follow the events)
            as_of = rng.choice([FIXED, to_datetime(last_at) + timedelta(
                days=rng.choice([-20, -3, 0, 2, 45]))])
            unit, period, rulebook = rng.choice(UNITS), rng.choice(PERIODS), rng.choice(RULEBOOKS)
            p = parse_period(period)
            if not store.unit_exists_at(unit, p.evaluation_time(to_instant(as_of))):
                continue  # no score row names a unit before its registration
            book = load_rulebook(rulebook)
            mine = scores.score(unit, p, to_instant(as_of), book)
            scratch = recompute_scores(events[:checkpoint], [unit], p, as_of, book)[unit]
            mine_json, scratch_json = mine.to_json(), scratch.to_json()
            assert to_instant(as_of) == to_instant(mine.as_of)
            mine_json["as_of"] = scratch_json["as_of"]  # the same instant in another offset
            assert mine_json == scratch_json, (checkpoint, unit, period, as_of, rulebook)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_counts_kept_from_one_position_to_the_next_follow_the_events_folded_between(
        seed: int) -> None:
    events = random_history(seed, 10, petitions=3, departments=2, communes=2, procedures=3)
    for position, event in enumerate(events, start=1):
        event["position"] = position
    scores = SnapshotScores(FactStore(compiled=False))
    book = load_rulebook(RULEBOOKS[seed % 2])
    as_of = to_instant(FIXED)
    for checkpoint, event in enumerate(events, start=1):
        scores.apply(event)
        if checkpoint % 3 and checkpoint != len(events):
            continue
        scores.moved()
        for period in ("2026-09", "2026-10", "2026"):
            p = parse_period(period)
            units = [u for u in UNITS if scores.store.unit_exists_at(u, p.evaluation_time(as_of))]
            scratch = recompute_scores(events[:checkpoint], units, p, FIXED, book)
            for unit in units:
                assert scores.score(unit, p, as_of, book).total == scratch[unit].total, (
                    checkpoint, unit, period)
