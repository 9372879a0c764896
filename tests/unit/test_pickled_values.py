"""Values the snapshots and the workers' reports hold in thousands are pickled as their fields
(``__reduce__``): each comes back equal, and a field added to one is not silently dropped."""

from __future__ import annotations

import pickle
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.units import Unit, UnitKind
from projections.scores import GroupScore, IndicatorScore, UnitScore

INDICATOR = IndicatorScore("1.1", "Công bố", 3, 9, 1 / 3, 0.5, 2.0, True)
GROUP = GroupScore("G1", "Công khai", 18.0, 7.1, (INDICATOR, INDICATOR))
SCORE = UnitScore("22", "Quảng Ninh", "province", "2026-10", datetime(2026, 10, 12, tzinfo=UTC),
                  datetime(2026, 10, 12, 1, tzinfo=UTC), "vn-766", 1, 52.4, "Trung bình",
                  (GROUP,), 3, 1234)
UNIT = Unit("22.S1", "Sở Tư pháp", UnitKind.DEPARTMENT, "22", True)


@pytest.mark.parametrize("value", [INDICATOR, GROUP, SCORE, UNIT],
                         ids=lambda v: type(v).__name__)
def test_a_value_pickled_as_its_fields_comes_back_equal(value: Any) -> None:
    _, args = value.__reduce__()
    assert len(args) == len(fields(value)), "a field is missing from __reduce__"
    assert list(args) == [getattr(value, f.name) for f in fields(value)]
    again = pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    assert again == value and type(again) is type(value)
