"""Flushing in batches (as the live runner does) gives the scores of a scratch recomputation,
and ``score_many`` equals ``score(..., ranked=False)`` key by key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from projections.engine import ScoringEngine
from projections.periods import to_datetime
from projections.recompute import recompute_scores
from projections.synthetic import random_history

pytestmark = pytest.mark.usefixtures("compiled_or_python")


@pytest.mark.parametrize(("seed", "batch"), [(1, 1), (2, 7), (3, 50), (4, 400)])
def test_batched_flushes_score_the_touched_keys_like_a_recomputation(seed: int,
                                                                      batch: int) -> None:
    events = random_history(seed, 60, petitions=8, departments=2, communes=2, procedures=4)
    engine = ScoringEngine()
    seen: set[tuple[str, str]] = set()
    for offset in range(0, len(events), batch):
        for event in events[offset:offset + batch]:
            engine.apply(event)
        touched = engine.flush()
        seen |= touched
        as_of = to_datetime(engine.facts.watermark) + timedelta(seconds=1)
        many = engine.score_many(touched, as_of)
        assert set(many) == touched
        for (unit, key), score in many.items():
            assert score.to_json() == engine.score(unit, key, as_of, ranked=False).to_json()
    as_of = to_datetime(engine.facts.watermark) + timedelta(days=3)
    for unit, key in sorted(seen):
        live = engine.score(unit, key, as_of, ranked=False)
        scratch = recompute_scores(events, [unit], key, as_of, with_ranks=False)[unit]
        assert live.to_json() == scratch.to_json(), (unit, key)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_kept_scores_equal_a_recomputation_as_time_moves(seed: int) -> None:
    """Every key seen is scored after every batch at a moment moving ahead by hours (pending
    deadlines pass between two scorings with no event): the scores the engine keeps between
    flushes equal a scratch recomputation each time."""
    events = random_history(seed, 50, petitions=6, departments=2, communes=2, procedures=4)
    engine = ScoringEngine()
    seen: set[tuple[str, str]] = set()
    step = 12
    as_of = to_datetime(0)
    for number, offset in enumerate(range(0, len(events), step)):
        for event in events[offset:offset + step]:
            engine.apply(event)
        seen |= engine.flush()
        watermark = to_datetime(engine.facts.watermark)
        for hours in (1, 9, 30):
            as_of = max(as_of, watermark) + timedelta(hours=hours)
            live = {key: engine.score(key[0], key[1], as_of, ranked=False) for key in seen}
            if number % 2 == 0 or hours == 30:
                folded = [e for e in events[:offset + step]]
                for unit, key in sorted(seen):
                    scratch = recompute_scores(folded, [unit], key, as_of,
                                               with_ranks=False)[unit]
                    assert live[(unit, key)].to_json() == scratch.to_json(), (unit, key, as_of)
