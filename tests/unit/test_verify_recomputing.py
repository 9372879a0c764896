"""The second process of ``verify --scores``: what stops it is raised in the first."""

from __future__ import annotations

import pytest

from streams.verify import _Plan, _Recomputing


def test_an_error_in_the_recomputing_process_is_raised_with_its_traceback() -> None:
    plan = _Plan(head=1, tracked=1, facts_at=1, end=1, scored=frozenset(),
                 checkpoints=frozenset(), total=0)
    with pytest.raises(RuntimeError, match="UnpicklingError"), _Recomputing(plan) as recomputing:
        for channel in (recomputing.facts, recomputing.facts, recomputing.scores):
            channel.put(None)  # no latest fact evaluation, no fact row, no score row
        recomputing.events.put(b"not a pickled chunk")
        recomputing.result(lambda n, total: None)
