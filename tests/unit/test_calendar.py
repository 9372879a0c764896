"""The working-day calendar of docs/index.md."""

from __future__ import annotations

from datetime import date, datetime

from domain.calendar import DEFAULT_CALENDAR as CAL
from domain.calendar import LOCAL_TZ, WorkingCalendar


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def test_due_date_skips_the_lunar_new_year() -> None:
    # Tết 2026: 16–20 Feb are holidays. Fri 13 Feb + 3 working days = 23, 24, 25 Feb.
    assert CAL.due_at(at("2026-02-13T09:00"), 3) == at("2026-02-26T00:00")


def test_reception_on_a_saturday_counts_from_the_next_working_days() -> None:
    # Sat 3 Oct 2026: 2 working days after it are Mon 5 and Tue 6.
    assert CAL.due_at(at("2026-10-03T10:00"), 2) == at("2026-10-07T00:00")


def test_same_day_procedure_on_a_saturday_is_due_at_the_end_of_monday() -> None:
    assert CAL.due_at(at("2026-10-03T10:00"), 0) == at("2026-10-06T00:00")


def test_same_day_procedure_is_due_at_midnight() -> None:
    assert CAL.due_at(at("2026-10-05T10:00"), 0) == at("2026-10-06T00:00")


def test_reception_time_of_day_does_not_matter() -> None:
    assert CAL.due_at(at("2026-10-05T23:59"), 1) == CAL.due_at(at("2026-10-05T00:01"), 1)


def test_utc_reception_is_dated_in_vietnam() -> None:
    # 20:00 UTC on Fri 2 Oct is 03:00 on Sat 3 Oct in Hà Nội.
    received = datetime.fromisoformat("2026-10-02T20:00:00+00:00")
    assert CAL.due_at(received, 1) == at("2026-10-06T00:00")


def test_working_days_before_a_day() -> None:
    # 5 working days before Thu 1 Oct 2026: Sep 30, 29, 28, 25, 24.
    assert CAL.nth_working_day_before(date(2026, 10, 1), 5) == date(2026, 9, 24)
    assert CAL.nth_working_day_before(date(2026, 10, 5), 1) == date(2026, 10, 2)


def test_national_day_holidays_are_not_working_days() -> None:
    assert not CAL.is_working_day(date(2026, 9, 2))
    assert CAL.holiday_name(date(2026, 9, 2)) == "Quốc khánh"


def test_make_up_saturdays_count_only_when_asked() -> None:
    saturday = date(2026, 8, 22)  # worked in exchange for Mon 31 Aug
    assert not CAL.is_working_day(saturday)
    assert WorkingCalendar(weekend_workdays=True).is_working_day(saturday)
