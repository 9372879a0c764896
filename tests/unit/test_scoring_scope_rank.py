"""Roll-up to provinces, peers and ranks, rounding, bands, periods and as_of freezing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.units import UnitRegistry
from projections.engine import ScoringEngine
from projections.periods import InvalidPeriod, parse_instant, parse_period
from projections.recompute import recompute_score
from projections.scores import band_total, display_round, standard_competition_ranks
from projections.synthetic import EventBuilder, local

pytestmark = pytest.mark.usefixtures("compiled_or_python")

COMMUNE = next(u.code for u in UnitRegistry().children("22") if u.kind == "commune")


def ledger() -> EventBuilder:
    b = EventBuilder()
    b.unit("22.SXD", "22", "2026-01-01T08:00")
    b.unit("22.STP", "22", "2026-01-01T08:00")
    b.procedure("p1", "22", "2026-01-01T09:00")
    return b


def on_time_dossier(b: EventBuilder, dossier: str, unit: str, at: str = "2026-10-05T09:00",
                    resolved: str | None = "2026-10-06T09:00") -> None:
    b.submit(dossier, "p1", unit, at)
    b.receive(dossier, at, "2026-10-10T00:00")
    if resolved:
        b.dossier(dossier, "resolved", resolved, electronic_result=True,
                  pushed_to_personal_store=False)


def engine(b: EventBuilder) -> ScoringEngine:
    e = ScoringEngine()
    e.apply_all(b.events)
    return e


def test_province_score_rolls_up_its_departments_and_communes() -> None:
    b = ledger()
    on_time_dossier(b, "d1", "22.SXD")
    on_time_dossier(b, "d2", COMMUNE, resolved="2026-10-20T09:00")  # late
    e = engine(b)
    as_of = local("2026-11-15T00:00")
    province = e.score("22", "2026-10", as_of).indicator("2.1")
    assert (province.numerator, province.denominator) == (1, 2)
    assert e.score("22.SXD", "2026-10", as_of).indicator("2.1").denominator == 1
    assert e.score(COMMUNE, "2026-10", as_of).indicator("2.1").numerator == 0


def test_transfer_does_not_move_a_dossier_to_another_scope() -> None:
    b = ledger()
    on_time_dossier(b, "d1", "22.SXD", resolved=None)
    b.dossier("d1", "transferred", "2026-10-06T09:00", to_unit="22.STP", kind="inter_agency")
    e = engine(b)
    as_of = local("2026-11-15T00:00")
    assert e.score("22.SXD", "2026-10", as_of).indicator("2.1").denominator == 1
    assert e.score("22.STP", "2026-10", as_of).indicator("2.1").denominator == 0


def test_provinces_rank_among_all_34_with_silent_provinces_as_peers() -> None:
    b = ledger()
    on_time_dossier(b, "d1", "22.SXD")
    e = engine(b)
    as_of = local("2026-11-15T00:00")
    ranked = e.rank("province", "2026-10", as_of)
    assert len(ranked) == 34
    assert ranked[0].unit == "22" and ranked[0].rank == 1
    silent = ranked[1:]
    assert {s.rank for s in silent} == {2}
    assert {s.total for s in silent} == {12.0}  # 5.1 and 5.2: no petitions, full points
    assert {s.band for s in silent} == {"Yếu"}
    assert e.score("22", "2026-10", as_of).rank == 1


def test_departments_rank_within_their_province_and_ministries_have_no_rank() -> None:
    b = ledger()
    b.emit("unit.registered", "BTP", "2026-01-01T08:00", name="Bộ Tư pháp", parent="",
           kind="ministry")
    on_time_dossier(b, "d1", "22.STP")
    e = engine(b)
    as_of = local("2026-11-15T00:00")
    assert e.score("22.STP", "2026-10", as_of).rank == 1
    assert e.score("22.SXD", "2026-10", as_of).rank == 2
    assert e.score("BTP", "2026-10", as_of).rank is None
    communes = e.rank("commune", "2026-10", as_of, province="22")
    assert {c.rank for c in communes} == {1}


def test_ties_share_a_rank_and_the_next_rank_is_skipped() -> None:
    ranks = standard_competition_ranks({"a": 80.0, "b": 70.004, "c": 70.0, "d": 60.0})
    assert ranks == {"a": 1, "b": 2, "c": 2, "d": 4}


def test_display_rounding_is_half_up_after_nine_decimals() -> None:
    assert display_round(12.125) == Decimal("12.13")
    assert display_round(12.124999999999) == Decimal("12.13")
    assert display_round(0.1 + 0.2) == Decimal("0.30")
    assert display_round(89.994) == Decimal("89.99")


def test_band_is_read_from_the_unrounded_total_without_float_noise() -> None:
    from projections.rulebook import load_rulebook

    book = load_rulebook()
    assert [book.band(band_total(x)) for x in (90.0, 89.99, 80.0, 70.0, 50.0, 49.99)] == [
        "Xuất sắc", "Tốt", "Tốt", "Khá", "Trung bình", "Yếu"]
    # 2 decimals are only for display and ranking: 49.996 shows 50.00 but is below 50 ...
    assert display_round(49.996) == Decimal("50.00")
    assert book.band(band_total(49.996)) == "Yếu"
    # ... while a sum that is 50 exactly, give or take float noise, is 50.
    noisy = sum([50 / 12] * 12)
    assert noisy < 50.0
    assert book.band(band_total(noisy)) == "Trung bình"


def test_a_unit_scored_before_its_registration_is_unranked() -> None:
    b = ledger()
    b.unit("22.SNV", "22", "2026-11-05T08:00")
    e = engine(b)
    score = e.score("22.SNV", "2026-10", local("2026-12-01T00:00"))
    assert score.rank is None  # it was no peer in October
    assert e.score("22.SXD", "2026-10", local("2026-12-01T00:00")).rank == 1
    assert "22.SNV" not in {s.unit for s in e.rank("department", "2026-10",
                                                      local("2026-12-01T00:00"))}


def test_periods_are_local_months_quarters_and_years() -> None:
    q4 = parse_period("2026-Q4")
    assert q4.start == parse_instant("2026-10-01T00:00:00+07:00")
    assert q4.end == parse_instant("2027-01-01T00:00:00+07:00")
    assert parse_period("2026").months == 12
    for bad in ("2026-13", "2026-Q5", "26-10", "2026/10", ""):
        with pytest.raises(InvalidPeriod):
            parse_period(bad)


def test_dossier_belongs_to_the_local_month_of_its_reception() -> None:
    b = ledger()
    on_time_dossier(b, "d1", "22.SXD", at="2026-10-31T23:30", resolved=None)  # 16:30 UTC
    on_time_dossier(b, "d2", "22.SXD", at="2026-11-01T00:00", resolved=None)
    on_time_dossier(b, "d3", "22.SXD", at="2026-12-31T23:59", resolved=None)
    e = engine(b)
    as_of = local("2027-02-01T00:00")

    def received(period: str) -> int | None:
        return e.score("22.SXD", period, as_of).indicator("1.4").denominator

    assert (received("2026-10"), received("2026-11"), received("2026-Q4"),
            received("2026"), received("2027")) == (1, 1, 3, 3, 0)


def test_closed_period_is_frozen_but_a_late_import_inside_it_counts() -> None:
    b = ledger()
    on_time_dossier(b, "d1", "22.SXD", resolved=None)
    b.dossier("d1", "synced", "2026-11-02T09:00")  # after October: never counts for it
    e = engine(b)
    before = e.score("22.SXD", "2026-10", local("2026-11-05T00:00"))
    later = e.score("22.SXD", "2026-10", local("2027-06-01T00:00"))
    assert before.to_json()["groups"] == later.to_json()["groups"]
    assert before.indicator("1.4").numerator == 0
    on_time_dossier(b, "d2", "22.SXD", at="2026-10-07T09:00")  # imported later, at in October
    e.apply_all(b.events[-3:])
    after_import = e.score("22.SXD", "2026-10", local("2027-06-01T00:00"))
    assert after_import.indicator("1.4").denominator == 2
    assert after_import.to_json() == recompute_score(
        b.events, "22.SXD", "2026-10", local("2027-06-01T00:00")).to_json()


def test_score_as_of_a_past_moment_ignores_later_events() -> None:
    b = ledger()
    on_time_dossier(b, "d1", "22.SXD", at="2026-10-05T09:00", resolved="2026-10-20T09:00")
    e = engine(b)
    mid = e.score("22.SXD", "2026-10", local("2026-10-06T09:00")).indicator("2.1")
    end = e.score("22.SXD", "2026-10", local("2026-11-06T09:00")).indicator("2.1")
    assert (mid.numerator, mid.denominator) == (1, 1)  # still open and within due then
    assert (end.numerator, end.denominator) == (0, 1)


def test_score_json_has_the_documented_shape() -> None:
    b = ledger()
    on_time_dossier(b, "d1", "22.SXD")
    data = engine(b).score("22.SXD", "2026-10", local("2026-11-15T00:00")).to_json()
    assert list(data) == ["unit", "unit_name", "kind", "period", "as_of", "rulebook", "total",
                          "band", "rank", "groups"]
    assert data["rulebook"] == {"id": "vn-766", "version": 1}
    assert list(data["groups"][0]) == ["code", "name", "max", "points", "indicators"]
    assert list(data["groups"][0]["indicators"][0]) == [
        "code", "name", "numerator", "denominator", "ratio", "points", "max", "applicable"]
    assert sum(g["max"] for g in data["groups"]) == 98  # 4.3 does not apply to a department
