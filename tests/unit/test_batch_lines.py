"""Rows become JSON lines in one encoding pass, also when a text holds what separates rows;
lines encoded beforehand come first."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson

from projections.clickhouse.writer import Batch


def decoded(batch: Batch, table: str) -> list[list[object]]:
    return [orjson.loads(line) for line in batch.encoded(table).split(b"\n")]


def test_rows_are_cut_into_lines_and_counted() -> None:
    at = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    rows = [("22", 1, None, 0.25, True, at, Decimal("62.11")),
            ("01", 2, 3, 1e-7, False, at, Decimal("0.10"))]
    batch = Batch()
    batch.add("t", rows)
    batch.add("t", rows[:1])
    batch.add_lines("t", [b'["pre", 0]'])
    assert batch.count("t") == 4 and len(batch) == 4
    assert decoded(batch, "t") == [["pre", 0],
        ["22", 1, None, 0.25, True, "2026-11-23T22:00:00+00:00", "62.11"],
        ["01", 2, 3, 1e-7, False, "2026-11-23T22:00:00+00:00", "0.10"],
        ["22", 1, None, 0.25, True, "2026-11-23T22:00:00+00:00", "62.11"]]


def test_a_text_holding_the_row_separator_is_kept_whole() -> None:
    rows = [("a],[b", 1), ("c", 2), ("d\n],[", 3)]
    batch = Batch()
    batch.add("t", rows)
    assert decoded(batch, "t") == [["a],[b", 1], ["c", 2], ["d\n],[", 3]]
    assert batch.count("t") == 3
