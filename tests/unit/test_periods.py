"""Instants and periods: the cached timestamp parser agrees with the standard library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.periods import (
    _parse_instant_cached,
    month_index,
    parse_instant,
    periods_containing,
    to_instant,
)

OFFSETS = st.sampled_from([0, 7 * 60, -(3 * 60 + 30), 5 * 60 + 45, 14 * 60])


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)),
       OFFSETS, st.booleans())
def test_parse_instant_equals_fromisoformat(moment: datetime, offset: int,
                                            fraction: bool) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    if not fraction:
        aware = aware.replace(microsecond=0)
    text = aware.isoformat()  # 25 or 32 characters: both cached layouts
    assert parse_instant(text) == to_instant(datetime.fromisoformat(text))
    assert parse_instant(text) == to_instant(aware)  # a second time: from the cache


@pytest.mark.parametrize("text", ["2026-10-01T08:00:00", "2026-10-01 08:00:00.5"])
def test_naive_timestamps_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="no offset"):
        parse_instant(text)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)))
def test_month_index_is_the_local_month(moment: datetime) -> None:
    instant = to_instant(moment.replace(tzinfo=UTC))
    local = moment + timedelta(hours=7)
    assert month_index(instant) == local.year * 12 + local.month - 1
    month, _, _ = periods_containing(instant)
    assert month.start <= instant < month.end


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)),
       OFFSETS, st.booleans())
def test_compiled_parser_equals_the_python_parser(moment: datetime, offset: int,
                                                  fraction: bool) -> None:
    compiled = pytest.importorskip("projections._instants")
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    if not fraction:
        aware = aware.replace(microsecond=0)
    text = aware.isoformat()
    assert compiled.parse_ledger_instant(text) == _parse_instant_cached(text)


@pytest.mark.parametrize("text", [
    "2026-02-29T08:00:00+07:00",  # not a leap year
    "2026-10-01T24:00:00+07:00", "2026-10-01T08:60:00+07:00", "2026-10-01T08:00:60+07:00",
    "2026-13-01T08:00:00+07:00", "2026-10-01T08:00:00+24:00", "2026-10-01T08:00:00Z",
    "2026-10-01 08:00:00+07:00", "2026-10-01T08:00:00.12345x+07:00",
    "２０２６-10-01T08:00:00+07:00",
])
def test_compiled_parser_hands_other_texts_to_the_python_parser(text: str) -> None:
    compiled = pytest.importorskip("projections._instants")
    assert compiled.parse_ledger_instant(text) == -1
    try:
        expected: int | str = _parse_instant_cached(text)
    except ValueError as error:
        expected = type(error).__name__
    try:
        found: int | str = parse_instant(text)
    except ValueError as error:
        found = type(error).__name__
    assert found == expected
