"""Instants (integer microseconds since the epoch) and scoring periods in Vietnamese local time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from domain.calendar import LOCAL_TZ

Instant = int
"""A moment as whole microseconds since 1970-01-01T00:00Z: exact, cheap to compare."""

_US = 1_000_000
_LOCAL_OFFSET_US = 7 * 3600 * _US  # Asia/Ho_Chi_Minh has been UTC+7 without DST since 1975
_DAY_US = 86_400 * _US
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_PERIOD_RE = re.compile(r"^(\d{4})(?:-(?:(0[1-9]|1[0-2])|Q([1-4])))?$")


_MINUTES: dict[str, Instant] = {}  # "YYYY-MM-DDTHH:MM+HH:MM" -> the instant at :00 seconds
_MINUTES_LIMIT = 65_536
_SEEN: dict[str, Instant] = {}  # timestamp text -> instant


def _parse_instant_cached(text: str) -> Instant:
    """An RFC 3339 timestamp with an offset, as an instant (naive timestamps are refused).

    ``YYYY-MM-DDTHH:MM:SS[.ffffff]±HH:MM`` (the ledger's layouts) is parsed once per minute and
    offset; the seconds and microseconds are added to it. Recent timestamps are remembered
    whole (events share them)."""
    found = _SEEN.get(text)
    if found is not None:
        return found
    if len(_SEEN) >= _MINUTES_LIMIT:
        _SEEN.clear()
    found = _SEEN[text] = _parse_layout(text)
    return found


try:
    from projections._instants import parse_ledger_instant
except ImportError:  # not compiled: the Python parser alone
    parse_instant = _parse_instant_cached
else:

    def parse_instant(text: str) -> Instant:
        """An RFC 3339 timestamp with an offset, as an instant (naive timestamps are refused);
        the ledger's layouts are parsed in C, any other by :func:`_parse_instant_cached`."""
        found = parse_ledger_instant(text)
        return found if found >= 0 else _parse_instant_cached(text)


def _parse_layout(text: str) -> Instant:
    size = len(text)
    if size == 25 and text[19] in "+-":  # ...THH:MM:SS+07:00
        fraction, offset = 0, text[19:]
    elif size == 32 and text[19] == "." and text[26] in "+-" and text[20:26].isdigit():
        fraction, offset = int(text[20:26]), text[26:]  # ...THH:MM:SS.ffffff+00:00
    else:
        return _parse_instant(text)
    if text[16] != ":" or text[17] not in "012345" or text[18] not in "0123456789":
        return _parse_instant(text)
    key = text[:16] + offset
    base = _MINUTES.get(key)
    if base is None:
        if len(_MINUTES) >= _MINUTES_LIMIT:
            _MINUTES.clear()
        base = _MINUTES[key] = _parse_instant(text[:17] + "00" + offset)
    return base + int(text[17:19]) * _US + fraction


def _parse_instant(text: str) -> Instant:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no offset")
    return round(moment.timestamp() * _US)


def to_instant(moment: datetime) -> Instant:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()} has no timezone")
    return round(moment.timestamp() * _US)


def to_datetime(instant: Instant) -> datetime:
    """The local (Asia/Ho_Chi_Minh) datetime of an instant."""
    return datetime.fromtimestamp(instant / _US, tz=LOCAL_TZ)


def local_day(instant: Instant) -> date:
    """The local calendar date of an instant."""
    return date.fromordinal(_EPOCH_ORDINAL + (instant + _LOCAL_OFFSET_US) // _DAY_US)


def local_day_number(instant: Instant) -> int:
    """Days since 1970-01-01 of the local calendar date of an instant."""
    return (instant + _LOCAL_OFFSET_US) // _DAY_US


def start_of_local_day(day: date) -> Instant:
    return (day.toordinal() - _EPOCH_ORDINAL) * _DAY_US - _LOCAL_OFFSET_US


_MONTH_OF_DAY: dict[int, int] = {}  # local day number since the epoch -> month index


def month_index(instant: Instant) -> int:
    """Months since year 0 of the local date of an instant (year * 12 + month - 1)."""
    number = (instant + _LOCAL_OFFSET_US) // _DAY_US
    found = _MONTH_OF_DAY.get(number)
    if found is None:
        day = date.fromordinal(_EPOCH_ORDINAL + number)
        found = _MONTH_OF_DAY[number] = day.year * 12 + day.month - 1
    return found


@dataclass(frozen=True, slots=True)
class Period:
    """A month ``2026-10``, a quarter ``2026-Q4`` or a year ``2026`` in local time."""

    key: str
    first_month: int  # month index (year * 12 + month - 1) of its first month
    months: int  # 1, 3 or 12
    start: Instant  # first instant in the period
    end: Instant  # first instant after the period

    @property
    def last(self) -> Instant:
        """The last instant in the period: the evaluation time of a closed period."""
        return self.end - 1

    def contains(self, instant: Instant) -> bool:
        return self.start <= instant < self.end

    def evaluation_time(self, as_of: Instant) -> Instant:
        """t = min(as_of, end of the period)."""
        return min(as_of, self.end - 1)

    def __str__(self) -> str:
        return self.key


class InvalidPeriod(ValueError):
    """A period string that is not ``YYYY``, ``YYYY-MM`` or ``YYYY-Qn``."""

    def __init__(self, text: str) -> None:
        super().__init__(
            f"invalid period {text!r}: expected a month 2026-10, a quarter 2026-Q4 or a year 2026"
        )
        self.text = text


@lru_cache(maxsize=4096)
def parse_period(text: str) -> Period:
    """The period named by ``text``; raises :class:`InvalidPeriod`."""
    match = _PERIOD_RE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidPeriod(str(text))
    year = int(match.group(1))
    if match.group(2):
        return _make(f"{year}-{match.group(2)}", year * 12 + int(match.group(2)) - 1, 1)
    if match.group(3):
        quarter = int(match.group(3))
        return _make(f"{year}-Q{quarter}", year * 12 + 3 * (quarter - 1), 3)
    return _make(f"{year}", year * 12, 12)


def _month_start(index: int) -> Instant:
    return start_of_local_day(date(index // 12, index % 12 + 1, 1))


def _make(key: str, first_month: int, months: int) -> Period:
    return Period(key, first_month, months, _month_start(first_month),
                  _month_start(first_month + months))


@lru_cache(maxsize=8192)
def periods_of_month(index: int) -> tuple[Period, Period, Period]:
    """The month, quarter and year that contain month ``index``."""
    year, month0 = divmod(index, 12)
    return (
        parse_period(f"{year}-{month0 + 1:02d}"),
        parse_period(f"{year}-Q{month0 // 3 + 1}"),
        parse_period(f"{year}"),
    )


def periods_containing(instant: Instant) -> tuple[Period, Period, Period]:
    """The month, quarter and year in which ``instant`` falls."""
    return periods_of_month(month_index(instant))


def periods_starting_between(after: Instant, upto: Instant) -> Iterator[Period]:
    """Periods whose start lies in ``(after, upto]``."""
    if upto <= after:
        return
    index = month_index(after) + 1
    last = month_index(upto)
    while index <= last:
        month, quarter, year = periods_of_month(index)
        yield month
        if month.first_month == quarter.first_month:
            yield quarter
        if month.first_month == year.first_month:
            yield year
        index += 1


def period_of_kind(kind: str, instant: Instant) -> Period:
    """The ``month``, ``quarter`` or ``year`` containing ``instant``."""
    month, quarter, year = periods_containing(instant)
    return {"month": month, "quarter": quarter, "year": year}[kind]


def shift(day: date, days: int) -> date:
    return day + timedelta(days=days)
