"""Indicator 2.1 (hồ sơ đúng hạn): ends, supplement waits, apologies, holidays, carried-over."""

from __future__ import annotations

import pytest

from projections.engine import ScoringEngine
from projections.recompute import recompute_score
from projections.rulebook import load_rulebook
from projections.scores import IndicatorScore
from projections.synthetic import EventBuilder, local

pytestmark = pytest.mark.usefixtures("compiled_or_python")

DUE = "2026-10-09T00:00"  # 24:00 of Thu 8 Oct: 5 working days


def ledger(statutory_days: int = 5) -> EventBuilder:
    b = EventBuilder()
    b.unit("22.SXD", "22", "2026-01-01T08:00")
    b.procedure("p1", "22.SXD", "2026-01-01T09:00", statutory_days=statutory_days)
    return b


def received(b: EventBuilder, dossier: str, at: str, due_at: str | None = DUE) -> None:
    b.submit(dossier, "p1", "22.SXD", at)
    b.receive(dossier, at, due_at)


def cell(b: EventBuilder, period: str, as_of: str, code: str = "2.1",
         rulebook: str = "vn-766", unit: str = "22.SXD") -> IndicatorScore:
    engine = ScoringEngine([load_rulebook(rulebook)])
    engine.apply_all(b.events)
    live = engine.score(unit, period, local(as_of)).indicator(code)
    scratch = recompute_score(b.events, unit, period, local(as_of), load_rulebook(rulebook))
    assert scratch.indicator(code) == live
    return live


def counts(score: IndicatorScore) -> tuple[int | None, int | None]:
    return score.numerator, score.denominator


def test_resolved_before_due_is_on_time() -> None:
    b = ledger()
    received(b, "d1", "2026-10-01T09:00")
    b.dossier("d1", "resolved", "2026-10-08T16:00", electronic_result=True,
              pushed_to_personal_store=False)
    score = cell(b, "2026-10", "2026-11-15T00:00")
    assert counts(score) == (1, 1)
    assert score.points == 20.0


def test_resolved_after_due_is_late() -> None:
    b = ledger()
    received(b, "d1", "2026-10-01T09:00")
    b.dossier("d1", "resolved", "2026-10-09T08:00", electronic_result=True,
              pushed_to_personal_store=False)
    assert counts(cell(b, "2026-10", "2026-11-15T00:00")) == (0, 1)


def test_open_dossier_is_on_time_until_its_due_date_passes() -> None:
    b = ledger()
    received(b, "d1", "2026-10-01T09:00")
    assert counts(cell(b, "2026-10", "2026-10-08T23:59")) == (1, 1)
    assert counts(cell(b, "2026-10", "2026-10-09T00:00")) == (1, 1)  # 24:00 is still on time
    assert counts(cell(b, "2026-10", "2026-10-09T00:01")) == (0, 1)


def test_open_dossier_turns_late_in_a_live_engine_without_new_events() -> None:
    b = ledger()
    received(b, "d1", "2026-10-01T09:00")
    engine = ScoringEngine()
    engine.apply_all(b.events)
    before = engine.score("22.SXD", "2026-10", local("2026-10-05T09:00")).indicator("2.1")
    after = engine.score("22.SXD", "2026-10", local("2026-10-20T09:00")).indicator("2.1")
    assert counts(before) == (1, 1)
    assert counts(after) == (0, 1)


def test_completed_supplement_wait_is_subtracted_from_the_end() -> None:
    b = ledger()
    received(b, "d1", "2026-10-01T09:00")
    b.dossier("d1", "supplement_requested", "2026-10-02T10:00", reason="Thiếu bản vẽ")
    b.dossier("d1", "supplement_completed", "2026-10-06T14:00")  # waited 4 days 4 hours
    b.dossier("d1", "resolved", "2026-10-12T10:00", electronic_result=True,
              pushed_to_personal_store=False)  # 12 Oct 10:00 - 4d4h = 8 Oct 06:00 <= due
    assert counts(cell(b, "2026-10", "2026-11-01T00:00")) == (1, 1)


def test_supplement_wait_does_not_rescue_a_dossier_late_by_more_than_the_wait() -> None:
    b = ledger()
    received(b, "d1", "2026-10-01T09:00")
    b.dossier("d1", "supplement_requested", "2026-10-02T10:00", reason="Thiếu bản vẽ")
    b.dossier("d1", "supplement_completed", "2026-10-03T10:00")  # waited 1 day
    b.dossier("d1", "resolved", "2026-10-10T10:00", electronic_result=True,
              pushed_to_personal_store=False)  # 9 Oct 10:00 > due
    assert counts(cell(b, "2026-10", "2026-11-01T00:00")) == (0, 1)


def test_open_supplement_freezes_the_end_at_its_request() -> None:
    b = ledger()
    received(b, "d1", "2026-10-01T09:00")
    b.dossier("d1", "supplement_requested", "2026-10-05T10:00", reason="Thiếu giấy tờ")
    assert counts(cell(b, "2026-10", "2026-12-20T00:00")) == (1, 1)
    assert counts(cell(b, "2026-11", "2026-12-20T00:00")) == (1, 1)  # carried over, frozen


def test_overdue_when_second_supplement_still_open() -> None:
    b = ledger()
    received(b, "d1", "2026-10-01T09:00")
    b.dossier("d1", "supplement_requested", "2026-10-02T09:00", reason="Thiếu đơn")
    b.dossier("d1", "supplement_completed", "2026-10-02T15:00")
    b.dossier("d1", "supplement_requested", "2026-10-05T09:00", reason="Thiếu bản vẽ")
    assert counts(cell(b, "2026-10", "2026-10-06T09:00")) == (0, 1)


def test_supplement_still_open_when_withdrawn_freezes_the_end() -> None:
    b = ledger()
    received(b, "d1", "2026-10-01T09:00")
    b.dossier("d1", "supplement_requested", "2026-10-07T09:00", reason="Thiếu đơn")
    b.dossier("d1", "withdrawn", "2026-10-20T09:00")
    assert counts(cell(b, "2026-10", "2026-11-01T00:00")) == (1, 1)


def test_apology_does_not_rescue_a_late_dossier() -> None:
    b = ledger()
    received(b, "d1", "2026-10-01T09:00")
    b.dossier("d1", "apology_issued", "2026-10-07T09:00", new_due_at="2026-10-15T17:00:00+07:00",
              reason="Chờ phối hợp")
    b.dossier("d1", "resolved", "2026-10-14T09:00", electronic_result=True,
              pushed_to_personal_store=False)
    assert counts(cell(b, "2026-10", "2026-11-01T00:00")) == (0, 1)
    # the vn-766-online12 rulebook flips apology_extends_due
    assert counts(cell(b, "2026-10", "2026-11-01T00:00", rulebook="vn-766-online12")) == (1, 1)


@pytest.mark.parametrize(("resolved_at", "on_time"), [
    ("2026-02-24T16:00", 1),  # 3 working days after Thu 12 Feb: 13 Feb, 23 Feb, 24 Feb
    ("2026-02-25T08:00", 0),
])
def test_due_date_skips_tet_2026_holidays(resolved_at: str, on_time: int) -> None:
    b = ledger(statutory_days=3)
    received(b, "d1", "2026-02-12T09:00", due_at=None)  # due computed from statutory_days
    b.dossier("d1", "resolved", resolved_at, electronic_result=True,
              pushed_to_personal_store=False)
    assert counts(cell(b, "2026-02", "2026-04-01T00:00")) == (on_time, 1)


def test_carried_over_dossier_counts_in_the_period_it_was_finished() -> None:
    b = ledger()
    received(b, "d1", "2026-09-28T09:00", due_at="2026-10-06T00:00")
    b.dossier("d1", "resolved", "2026-10-05T10:00", electronic_result=True,
              pushed_to_personal_store=False)
    received(b, "d2", "2026-09-21T09:00", due_at="2026-09-29T00:00")
    b.dossier("d2", "resolved", "2026-09-30T10:00", electronic_result=True,
              pushed_to_personal_store=False)  # finished before October: not carried over
    assert counts(cell(b, "2026-10", "2026-11-01T00:00")) == (1, 1)
    assert counts(cell(b, "2026-Q4", "2026-11-01T00:00")) == (1, 1)
    assert counts(cell(b, "2026-09", "2026-11-01T00:00")) == (1, 2)  # d1 open in time at 30 Sep
    assert counts(cell(b, "2026-10", "2026-11-01T00:00", rulebook="vn-766-online12")) == (0, 0)


def test_carried_over_open_dossier_is_judged_in_every_later_period() -> None:
    b = ledger()
    received(b, "d1", "2026-09-28T09:00", due_at="2026-10-06T00:00")
    assert counts(cell(b, "2026-09", "2027-01-10T00:00")) == (1, 1)
    assert counts(cell(b, "2026-10", "2027-01-10T00:00")) == (0, 1)
    assert counts(cell(b, "2026-12", "2027-01-10T00:00")) == (0, 1)
    assert counts(cell(b, "2027-01", "2027-01-10T00:00")) == (0, 1)


def test_result_returned_without_resolution_ends_the_dossier() -> None:
    b = ledger()
    received(b, "d1", "2026-10-01T09:00")
    b.dossier("d1", "result_returned", "2026-10-07T09:00", method="counter")
    assert counts(cell(b, "2026-10", "2026-12-01T00:00")) == (1, 1)
    assert counts(cell(b, "2026-11", "2026-12-01T00:00")) == (0, 0)


def test_rejected_dossier_is_judged_at_its_rejection() -> None:
    b = ledger()
    received(b, "d1", "2026-10-01T09:00")
    b.dossier("d1", "rejected", "2026-10-12T09:00", reason="Không đủ điều kiện")
    assert counts(cell(b, "2026-10", "2026-12-01T00:00")) == (0, 1)
