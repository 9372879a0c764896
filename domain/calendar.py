"""Working-day calendar (ngày làm việc): Monday to Friday minus Vietnamese public holidays.

The rules are those of docs/index.md, "Working days":

- "N working days after day D" ends at 24:00 of the N-th working day after D (D itself is not
  counted); with N = 0 it ends at the end of D, or of the next working day when D is not one.
- "N working days before day D" is the working day W before D such that W and the working days
  between W and D number exactly N.

Times are local (Asia/Ho_Chi_Minh). 24:00 of a day is represented exactly, as 00:00 of the next
day, so that "on time" comparisons (``end <= due_at``) need no sub-second fudge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days in Vietnam, with holiday dates from the pinned ``holidays`` package.

    ``weekend_workdays`` makes the Saturdays the government declares as make-up working days
    (ngày làm bù, known to ``holidays``) count as working days; the spec says Monday to Friday,
    so it is off by default.
    """

    weekend_workdays: bool = False
    extra_holidays: frozenset[date] = field(default_factory=frozenset)

    def holiday_name(self, day: date) -> str | None:
        """The Vietnamese name of the public holiday on ``day``, if it is one."""
        return _holidays_of(day.year).get(day)

    def is_working_day(self, day: date) -> bool:
        return _is_working_day(self, day)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        day += _ONE_DAY
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def previous_working_day(self, day: date) -> date:
        """The last working day strictly before ``day``."""
        day -= _ONE_DAY
        while not self.is_working_day(day):
            day -= _ONE_DAY
        return day

    def nth_working_day_after(self, day: date, n: int) -> date:
        """The N-th working day after ``day`` (``day`` not counted); for N = 0, ``day`` itself
        when it is a working day, else the next working day."""
        return _nth_after(self, day, n)

    def nth_working_day_before(self, day: date, n: int) -> date:
        """The working day W before ``day`` such that W and the working days between W and
        ``day`` number exactly N (N = 1: the last working day before ``day``)."""
        return _nth_before(self, day, n)

    def end_of_working_days_after(self, day: date, n: int) -> datetime:
        """24:00 local time of the N-th working day after ``day`` (a due date, hạn giải quyết)."""
        last = self.nth_working_day_after(day, n)
        return end_of_day(last)

    def due_at(self, received_at: datetime, statutory_days: int) -> datetime:
        """The due date (ngày hẹn trả) of a dossier received at ``received_at``."""
        return self.end_of_working_days_after(local_date(received_at), statutory_days)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in ``(start, end]``."""
        return _between(self, start, end)


def local_date(moment: datetime) -> date:
    """The calendar date of ``moment`` in Vietnam."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()} has no timezone")
    return moment.astimezone(LOCAL_TZ).date()


def end_of_day(day: date) -> datetime:
    """24:00 of ``day`` in local time, i.e. 00:00 of the next day."""
    return datetime.combine(day + _ONE_DAY, time(0), tzinfo=LOCAL_TZ)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ)


@lru_cache(maxsize=256)
def _holidays_of(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=year, language="vi")


@lru_cache(maxsize=65536)
def _is_working_day(calendar: WorkingCalendar, day: date) -> bool:
    if day in calendar.extra_holidays or day in _holidays_of(day.year):
        return False
    if day.weekday() < 5:
        return True
    return calendar.weekend_workdays and day in _holidays_of(day.year).weekend_workdays


@lru_cache(maxsize=65536)
def _between(calendar: WorkingCalendar, start: date, end: date) -> int:
    """Working days in ``(start, end]`` (a dossier's processing days: the pairs of days
    repeat across dossiers)."""
    count, day = 0, start
    while day < end:
        day += _ONE_DAY
        count += calendar.is_working_day(day)
    return count


@lru_cache(maxsize=65536)
def _nth_before(calendar: WorkingCalendar, day: date, n: int) -> date:
    if n < 1:
        raise ValueError(f"working days before a day must be counted from 1, not {n}")
    for _ in range(n):
        day = calendar.previous_working_day(day)
    return day


@lru_cache(maxsize=65536)
def _nth_after(calendar: WorkingCalendar, day: date, n: int) -> date:
    if n < 0:
        raise ValueError(f"a number of working days cannot be negative: {n}")
    if n == 0:
        return day if calendar.is_working_day(day) else calendar.next_working_day(day)
    for _ in range(n):
        day = calendar.next_working_day(day)
    return day


DEFAULT_CALENDAR = WorkingCalendar()
