"""Office hours on working days (7:30–17:00, Asia/Ho_Chi_Minh) and small random draws."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from domain.calendar import LOCAL_TZ, WorkingCalendar, local_date

OPENS = time(7, 30)
CLOSES = time(17, 0)
OFFICE_MINUTES = 9 * 60 + 30


@dataclass(frozen=True)
class OfficeHours:
    """Moments when a one-stop counter works (giờ hành chính)."""

    calendar: WorkingCalendar

    def opening(self, day: date) -> datetime:
        return datetime.combine(day, OPENS, tzinfo=LOCAL_TZ)

    def closing(self, day: date) -> datetime:
        return datetime.combine(day, CLOSES, tzinfo=LOCAL_TZ)

    def is_open(self, moment: datetime) -> bool:
        day = local_date(moment)
        return (self.calendar.is_working_day(day)
                and self.opening(day) <= moment < self.closing(day))

    def next_open(self, moment: datetime) -> datetime:
        """The first office moment at or after ``moment``."""
        moment = moment.astimezone(LOCAL_TZ)
        day = moment.date()
        if self.calendar.is_working_day(day):
            if moment < self.opening(day):
                return self.opening(day)
            if moment < self.closing(day):
                return moment
        return self.opening(self.calendar.next_working_day(day))

    def later(self, rng: random.Random, moment: datetime, low: float, high: float) -> datetime:
        """An office moment some minutes (``low``–``high``, then the next opening) later."""
        shifted = moment + timedelta(minutes=rng.uniform(low, high))
        opened = self.next_open(shifted)
        if opened != shifted:  # waited for the office to open: not everyone comes at 7:30
            opened += timedelta(minutes=rng.uniform(0, 90))
        return second(opened)

    def moment_on(self, rng: random.Random, day: date, after: datetime | None = None) -> datetime:
        """A random office moment on ``day`` (a working day) later than ``after``; past
        closing time when the day has no office time left after ``after`` (overtime)."""
        low = self.opening(day)
        if after is not None and after >= low:
            low = after + timedelta(minutes=1)
        high = self.closing(day)
        if low >= high:
            return second(low + timedelta(minutes=rng.uniform(5, 40)))
        return second(low + (high - low) * rng.random())

    def between(self, rng: random.Random, start: datetime, end: datetime) -> datetime:
        """A moment in ``(start, end)``, during office hours when the span allows it."""
        candidate = start + (end - start) * rng.uniform(0.05, 0.95)
        opened = self.next_open(candidate)
        return second(opened if opened < end else candidate)

    def nth_day_after(self, day: date, n: int) -> date:
        return self.calendar.nth_working_day_after(day, n)


def any_time_on(rng: random.Random, day: date) -> datetime:
    """A moment on ``day`` when people file online: mostly 6:00–23:00, sometimes at night."""
    minutes = rng.uniform(0, 24 * 60) if rng.random() < 0.08 else rng.uniform(6 * 60, 23 * 60)
    return second(datetime.combine(day, time(0), tzinfo=LOCAL_TZ) + timedelta(minutes=minutes))


def second(moment: datetime) -> datetime:
    """``moment`` truncated to the second (wire timestamps carry no fractions)."""
    return moment.replace(microsecond=0)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal for large ones)."""
    if mean <= 0:
        return 0
    if mean > 60:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p
