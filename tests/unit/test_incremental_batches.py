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
