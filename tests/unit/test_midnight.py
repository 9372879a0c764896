"""Deadlines are instants (24:00 of a working day = 00:00:00 of the next) and periods are
half-open: each comparison tested exactly at 00:00:00 and one microsecond either side."""

from __future__ import annotations

import pytest

from projections.engine import ScoringEngine
from projections.recompute import recompute_score
from projections.rulebook import load_rulebook
from projections.scores import UnitScore
from projections.synthetic import EventBuilder, local

pytestmark = pytest.mark.usefixtures("compiled_or_python")

BEFORE, EXACT, AFTER = "T23:59:59.999999", "T00:00:00", "T00:00:00.000001"


def score(b: EventBuilder, period: str, as_of: str, unit: str = "22.SXD") -> UnitScore:
    rulebook = load_rulebook("vn-766")
    engine = ScoringEngine([rulebook])
    engine.apply_all(b.events)
    live = engine.score(unit, period, local(as_of))
    scratch = recompute_score(b.events, unit, period, local(as_of), rulebook)
    assert scratch.to_json() == live.to_json()
    return live


def counts(s: UnitScore, code: str) -> tuple[int | None, int | None]:
    i = s.indicator(code)
    return i.numerator, i.denominator


def publication_ledger(published_at: str | None) -> EventBuilder:
    """A procedure decided on Mon 5 Oct: 5 working days after is Mon 12 Oct, so its
    publication deadline is 24:00 of 12 Oct = 2026-10-13T00:00:00+07:00."""
    b = EventBuilder()
    b.unit("22.SXD", "22")
    b.procedure("p1", "22.SXD", "2026-10-01T08:00", legal_basis_effective_on="2026-12-01")
    b.emit("procedure.decision_issued", "p1", "2026-10-05T09:00", decision_on="2026-10-05")
    if published_at is not None:
        b.emit("procedure.published", "p1", published_at, components_complete=True)
    return b


@pytest.mark.parametrize(("stamp", "on_time"), [
    ("2026-10-12" + BEFORE, True), ("2026-10-13" + EXACT, True),
    ("2026-10-13" + AFTER, False)])
def test_1_2_publication_at_the_deadline_instant_is_on_time(stamp: str, on_time: bool) -> None:
    s = score(publication_ledger(stamp), "2026-10", "2026-10-20T00:00")
    assert counts(s, "1.2") == (int(on_time), 1)


@pytest.mark.parametrize(("as_of", "on_time"), [
    ("2026-10-12" + BEFORE, True), ("2026-10-13" + EXACT, True),
    ("2026-10-13" + AFTER, False)])
def test_1_2_unpublished_procedure_is_late_only_after_the_same_instant(
        as_of: str, on_time: bool) -> None:
    s = score(publication_ledger(None), "2026-10", as_of)
    assert counts(s, "1.2") == (int(on_time), 1)


def test_1_2_both_branches_agree_at_the_deadline_instant() -> None:
    """The issue's reproduction: published at 00:00:00 and not yet published, both judged at
    that instant, are both in the numerator."""
    b = publication_ledger("2026-10-13" + EXACT)
    b.procedure("p2", "22.SXD", "2026-10-01T08:00", legal_basis_effective_on="2026-12-01")
    b.emit("procedure.decision_issued", "p2", "2026-10-05T09:00", decision_on="2026-10-05")
    assert counts(score(b, "2026-10", "2026-10-13" + EXACT), "1.2") == (2, 2)


@pytest.mark.parametrize(("decision_on", "on_time"), [("2026-10-08", True),
                                                       ("2026-10-09", False)])
def test_1_1_decision_on_the_last_allowed_day_is_on_time(decision_on: str,
                                                         on_time: bool) -> None:
    """5 working days before Thu 15 Oct is Thu 8 Oct (a date, compared as a date)."""
    b = EventBuilder()
    b.unit("22.SXD", "22")
    b.procedure("p1", "22.SXD", "2026-10-01T08:00", legal_basis_effective_on="2026-10-15")
    b.emit("procedure.decision_issued", "p1", decision_on + "T23:59:59.999999",
           decision_on=decision_on)
    assert counts(score(b, "2026-10", "2026-10-31T00:00"), "1.1") == (int(on_time), 1)


def dossier_ledger() -> EventBuilder:
    b = EventBuilder()
    b.unit("22.SXD", "22")
    b.procedure("p1", "22.SXD", "2026-01-01T09:00", statutory_days=5)
    b.submit("d1", "p1", "22.SXD", "2026-10-01T09:00")
    b.receive("d1", "2026-10-01T09:00", "2026-10-09T00:00")  # 24:00 of Thu 8 Oct
    return b


@pytest.mark.parametrize(("stamp", "on_time"), [
    ("2026-10-08" + BEFORE, True), ("2026-10-09" + EXACT, True),
    ("2026-10-09" + AFTER, False)])
def test_2_1_and_5_3_resolved_at_the_due_instant_is_on_time(stamp: str, on_time: bool) -> None:
    b = dossier_ledger()
    b.dossier("d1", "resolved", stamp, electronic_result=True, pushed_to_personal_store=False)
    s = score(b, "2026-10", "2026-10-31T00:00")
    assert counts(s, "2.1") == (int(on_time), 1)
    assert counts(s, "5.3") == (int(on_time), 1)


@pytest.mark.parametrize(("as_of", "on_time"), [
    ("2026-10-08" + BEFORE, True), ("2026-10-09" + EXACT, True),
    ("2026-10-09" + AFTER, False)])
def test_2_1_open_dossier_turns_late_one_microsecond_after_its_due_instant(
        as_of: str, on_time: bool) -> None:
    assert counts(score(dossier_ledger(), "2026-10", as_of), "2.1") == (int(on_time), 1)


def petition_ledger(answered_at: str | None) -> EventBuilder:
    """Received Thu 1 Oct: 15 working days after is Thu 22 Oct, deadline 23 Oct 00:00."""
    b = EventBuilder()
    b.unit("22.SXD", "22")
    b.emit("petition.received", "q1", "2026-10-01T09:00", unit="22.SXD", kind="staff_conduct")
    if answered_at is not None:
        b.emit("petition.answered", "q1", answered_at)
    return b


@pytest.mark.parametrize(("stamp", "on_time"), [
    ("2026-10-22" + BEFORE, True), ("2026-10-23" + EXACT, True),
    ("2026-10-23" + AFTER, False)])
def test_5_1_petition_answered_at_the_deadline_instant_is_on_time(stamp: str,
                                                                  on_time: bool) -> None:
    s = score(petition_ledger(stamp), "2026-10", "2026-10-31T00:00")
    assert counts(s, "5.1") == (int(on_time), 1)


@pytest.mark.parametrize(("as_of", "on_time"), [
    ("2026-10-23" + EXACT, True), ("2026-10-23" + AFTER, False)])
def test_5_1_open_petition_late_only_after_the_deadline_instant(as_of: str,
                                                                on_time: bool) -> None:
    assert counts(score(petition_ledger(None), "2026-10", as_of), "5.1") == (int(on_time), 1)


@pytest.mark.parametrize(("stamp", "october", "november"), [
    ("2026-10-31" + BEFORE, 1, 0), ("2026-11-01" + EXACT, 0, 1), ("2026-11-01" + AFTER, 0, 1)])
def test_a_reception_at_midnight_of_the_first_belongs_to_the_new_period_only(
        stamp: str, october: int, november: int) -> None:
    b = EventBuilder()
    b.unit("22.SXD", "22")
    b.procedure("p1", "22.SXD", "2026-01-01T09:00")
    b.submit("d1", "p1", "22.SXD", stamp)
    b.receive("d1", stamp, "2026-12-01T00:00")
    as_of = "2026-12-15T00:00"
    assert counts(score(b, "2026-10", as_of), "4.2")[1] == october
    assert counts(score(b, "2026-11", as_of), "4.2")[1] == november


@pytest.mark.parametrize(("stamp", "public"), [
    ("2026-10-19" + BEFORE, True), ("2026-10-20" + EXACT, False),
    ("2026-10-20" + AFTER, False)])
def test_a_procedure_abolished_at_t_is_gone_at_t(stamp: str, public: bool) -> None:
    """1.3 counts procedures not abolished at or before t."""
    b = EventBuilder()
    b.unit("22.SXD", "22")
    b.procedure("p1", "22.SXD", "2026-01-01T09:00")
    b.emit("procedure.published", "p1", "2026-09-01T09:00", components_complete=True)
    b.emit("procedure.abolished", "p1", "2026-10-20T00:00")
    assert counts(score(b, "2026-10", stamp), "1.3") == (int(public), int(public))
