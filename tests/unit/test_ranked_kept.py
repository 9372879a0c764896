"""Property: a ranking kept between calls (its members scored again only when what they
count changed, or when the moment leaves the span their kept scores hold) equals the ranking
of an engine that never ranked before, after every event, at moments moving both ways."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.engine import ScoringEngine
from projections.periods import parse_period, to_datetime
from projections.rulebook import load_rulebook
from projections.synthetic import random_history

pytestmark = pytest.mark.usefixtures("compiled_or_python")
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
RULEBOOKS = ("vn-766", "vn-766-online12")
GROUPS = (("province", None), ("department", "22"), ("commune", "22"), ("commune", None))
PERIODS = ("2026-09", "2026-10", "2026-Q4", "2026")


@settings(max_examples=6, deadline=None, suppress_health_check=SUPPRESSED)
@given(seed=st.integers(0, 10_000), dossiers=st.integers(1, 16), petitions=st.integers(0, 4))
def test_a_kept_ranking_equals_one_computed_afresh(seed: int, dossiers: int,
                                                   petitions: int) -> None:
    events = random_history(seed, dossiers, petitions=petitions, departments=3, communes=3,
                            procedures=4)
    rulebooks = [load_rulebook(r) for r in RULEBOOKS]
    engine = ScoringEngine(rulebooks)
    rng = random.Random(seed)
    compared = 0
    for i, event in enumerate(events):
        engine.apply(event)
        if (i < 6 or i % 3) and i != len(events) - 1:
            continue
        now = to_datetime(engine.facts.watermark)
        fresh = ScoringEngine(rulebooks)
        fresh.apply_all(events[: i + 1])
        for _ in range(3):
            kind, province = rng.choice(GROUPS)
            period, rulebook = parse_period(rng.choice(PERIODS)), rng.choice(RULEBOOKS)
            for as_of in sorted({now, now + timedelta(hours=rng.randint(0, 24 * 40))},
                                reverse=rng.random() < 0.5):
                kept = engine.ranked(kind, period, as_of, rulebook, province)
                again = engine.ranked(kind, period, as_of, rulebook, province)
                afresh = fresh.ranked(kind, period, as_of, rulebook, province)
                assert sorted(kept) == sorted(afresh), (i, kind, province, period, as_of)
                assert sorted(again) == sorted(afresh)
                compared += bool(afresh)
    assert compared, "no ranking had a member"
