"""The second process of ``verify --scores``: what stops it is raised in the first."""

from __future__ import annotations

import pytest

from ledger.config import StoreConfig
from streams.verify import _Plan, _Recomputing


def test_an_error_in_the_recomputing_process_is_raised_with_its_traceback() -> None:
    plan = _Plan(head=0, tracked=0, facts_at=0, end=0, scored=frozenset(),
                 checkpoints=frozenset(), total=0)
    with pytest.raises(RuntimeError, match="a SQLite ledger needs a file path"), \
            _Recomputing(StoreConfig("sqlite"), plan) as recomputing:
        recomputing.result(lambda n, total: None)
