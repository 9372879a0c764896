"""Hand-computed scenarios for every indicator of vn-766 but 2.1 (see test_scoring_timeliness)."""

from __future__ import annotations

from typing import Any

import pytest

from domain.units import UnitRegistry
from projections.engine import ScoringEngine
from projections.recompute import recompute_score
from projections.rulebook import RULEBOOK_DIR, Rulebook, load_rulebook, parse_rulebook
from projections.scores import UnitScore
from projections.synthetic import EventBuilder, local

pytestmark = pytest.mark.usefixtures("compiled_or_python")

AS_OF = "2026-12-15T00:00"  # October is closed: t = 31 Oct 24:00


def ledger() -> EventBuilder:
    b = EventBuilder()
    b.unit("22.SXD", "22", "2026-01-01T08:00")
    return b


def dossier(b: EventBuilder, dossier_id: str, procedure: str, at: str, *,
            due: str = "2026-11-30T00:00", channel: str = "direct", unit: str = "22.SXD",
            vneid_verified: bool = False, **flags: bool) -> None:
    b.submit(dossier_id, procedure, unit, at, channel=channel, vneid_verified=vneid_verified,
             **flags)
    b.receive(dossier_id, at, due)


def resolve(b: EventBuilder, dossier_id: str, at: str, electronic: bool = False,
            pushed: bool = False) -> None:
    b.dossier(dossier_id, "resolved", at, electronic_result=electronic,
              pushed_to_personal_store=pushed)


def score(b: EventBuilder, unit: str = "22.SXD", period: str = "2026-10", as_of: str = AS_OF,
          rulebook: Rulebook | None = None) -> UnitScore:
    rulebook = rulebook or load_rulebook("vn-766")
    engine = ScoringEngine([rulebook])
    engine.apply_all(b.events)
    live = engine.score(unit, period, local(as_of))
    scratch = recompute_score(b.events, unit, period, local(as_of), rulebook)
    assert scratch.to_json() == live.to_json()
    return live


def cell(s: UnitScore, code: str) -> tuple[Any, ...]:
    i = s.indicator(code)
    return i.numerator, i.denominator, i.points


def test_1_1_procedure_late_when_any_decision_in_period_is_late() -> None:
    b = ledger()
    for p in ("p1", "p2", "p3", "p4"):
        b.procedure(p, "22.SXD", legal_basis_effective_on="2026-10-15")
    # 5 working days before Thu 15 Oct is Thu 8 Oct
    b.emit("procedure.decision_issued", "p1", "2026-10-08T10:00", decision_on="2026-10-08")
    b.emit("procedure.decision_issued", "p2", "2026-10-05T10:00", decision_on="2026-10-05")
    b.emit("procedure.decision_issued", "p2", "2026-10-12T10:00", decision_on="2026-10-12")
    b.emit("procedure.decision_issued", "p3", "2026-09-30T10:00", decision_on="2026-09-30")
    b.emit("procedure.decision_issued", "p4", "2026-11-03T10:00", decision_on="2026-10-20")
    assert cell(score(b), "1.1") == (1, 2, 3.0)


def test_1_2_publication_within_five_working_days_of_first_decision() -> None:
    b = ledger()
    for p in ("p1", "p2", "p5", "p6"):
        b.procedure(p, "22.SXD")
    b.emit("procedure.decision_issued", "p1", "2026-10-08T10:00", decision_on="2026-10-08")
    b.emit("procedure.published", "p1", "2026-10-15T16:00", components_complete=True)
    b.emit("procedure.published", "p2", "2026-09-20T16:00", components_complete=True)
    b.emit("procedure.decision_issued", "p2", "2026-10-05T10:00", decision_on="2026-10-05")
    b.emit("procedure.decision_issued", "p2", "2026-10-12T10:00", decision_on="2026-10-12")
    b.emit("procedure.published", "p2", "2026-10-13T09:00", components_complete=True)
    b.emit("procedure.decision_issued", "p5", "2026-10-26T10:00", decision_on="2026-10-26")
    b.emit("procedure.decision_issued", "p6", "2026-10-01T10:00", decision_on="2026-10-01")
    # p1 on time (limit 15 Oct); p2 late (limit 12 Oct); p5 unpublished, limit 2 Nov not
    # passed at t = end of October; p6 unpublished, limit 8 Oct passed.
    assert cell(score(b), "1.2") == (2, 4, 2.0)


def test_1_3_uses_the_last_publication_of_procedures_public_at_t() -> None:
    b = ledger()
    for p in ("p1", "p2", "p3", "p4"):
        b.procedure(p, "22.SXD")
    b.emit("procedure.published", "p1", "2026-09-01T09:00", components_complete=True)
    b.emit("procedure.published", "p1", "2026-10-10T09:00", components_complete=False)
    b.emit("procedure.published", "p2", "2026-10-10T09:00", components_complete=True)
    b.emit("procedure.published", "p4", "2026-09-01T09:00", components_complete=True)
    b.emit("procedure.abolished", "p4", "2026-10-20T09:00")
    assert cell(score(b), "1.3") == (1, 2, 1.0)


def test_1_4_sync_must_happen_by_the_evaluation_time() -> None:
    b = ledger()
    b.procedure("p1", "22.SXD")
    dossier(b, "d3", "p1", "2026-09-29T09:00")
    dossier(b, "d1", "p1", "2026-10-02T09:00")
    dossier(b, "d2", "p1", "2026-10-03T09:00")
    b.dossier("d3", "synced", "2026-10-04T09:00")
    b.dossier("d1", "synced", "2026-10-10T09:00")
    b.dossier("d2", "synced", "2026-11-02T09:00")
    assert cell(score(b), "1.4") == (1, 2, 3.0)
    assert cell(score(b, period="2026-Q4"), "1.4") == (2, 2, 6.0)


def test_3_1_and_3_2_online_procedures_and_their_use() -> None:
    b = ledger()
    for p in ("p1", "p2", "p3", "p4", "p5"):
        b.procedure(p, "22.SXD")
    b.emit("procedure.online_level_set", "p1", "2026-09-01T09:00", level="partial")
    b.emit("procedure.online_level_set", "p2", "2026-09-01T09:00", level="full")
    b.emit("procedure.online_level_set", "p3", "2026-09-01T09:00", level="none")
    b.emit("procedure.online_level_set", "p5", "2026-09-01T09:00", level="full")
    b.emit("procedure.abolished", "p5", "2026-10-01T09:00")
    dossier(b, "d1", "p1", "2026-10-05T09:00", channel="online")
    dossier(b, "d2", "p2", "2026-10-05T09:00", channel="direct")
    dossier(b, "d3", "p2", "2026-09-05T09:00", channel="online")
    s = score(b)
    assert cell(s, "3.1") == (2, 4, 2 * 0.5 / 0.8)
    assert cell(s, "3.2") == (1, 2, 2.0)


def test_3_3_online_share_is_weighted_by_the_synchronised_share() -> None:
    b = ledger()
    b.procedure("p1", "22.SXD")
    for i, channel in enumerate(("online", "online", "direct", "postal")):
        dossier(b, f"d{i}", "p1", "2026-10-05T09:00", channel=channel)
        if i < 3:
            b.dossier(f"d{i}", "synced", "2026-10-06T09:00")
    i33 = score(b).indicator("3.3")
    assert (i33.numerator, i33.denominator, i33.ratio) == (2, 4, 0.375)
    assert i33.points == pytest.approx(6 * 0.375 / 0.5)


def test_3_4_to_3_6_online_payments_of_fee_bearing_procedures() -> None:
    b = ledger()
    b.procedure("pf", "22.SXD", fee_vnd=50000)
    b.procedure("pg", "22.SXD", fee_vnd=20000)
    b.procedure("pz", "22.SXD", fee_vnd=0)
    b.emit("procedure.payment_integrated", "pf", "2026-09-01T09:00", integrated=True)
    b.emit("procedure.payment_integrated", "pf", "2026-10-20T09:00", integrated=False)
    b.emit("procedure.payment_integrated", "pg", "2026-09-01T09:00", integrated=True)
    dossier(b, "g1", "pg", "2026-09-10T09:00")
    b.dossier("g1", "fee_paid", "2026-09-11T09:00", amount_vnd=20000, method="national_portal")
    for d, method, at in (("d1", "national_portal", "2026-10-06T09:00"),
                          ("d2", "cash", "2026-10-06T09:00"),
                          ("d3", "local_gateway", "2026-11-05T09:00")):
        dossier(b, d, "pf", "2026-10-05T09:00")
        b.dossier(d, "fee_paid", at, amount_vnd=50000, method=method)
    dossier(b, "d4", "pz", "2026-10-05T09:00")
    s = score(b)
    assert cell(s, "3.4") == (1, 3, 2.0)
    assert cell(s, "3.5") == (1, 2, 1.25)
    assert cell(s, "3.6") == (1, 2, 1.25)


def test_4_1_electronic_results_of_dossiers_resolved_in_the_period() -> None:
    b = ledger()
    b.procedure("p1", "22.SXD", requires_result_document=True)
    b.procedure("p0", "22.SXD", requires_result_document=False)
    dossier(b, "d4", "p1", "2026-09-28T09:00")
    for d, proc in (("d1", "p1"), ("d2", "p1"), ("d3", "p0")):
        dossier(b, d, proc, "2026-10-05T09:00")
    resolve(b, "d1", "2026-10-06T09:00", electronic=True)
    resolve(b, "d2", "2026-10-06T09:00", electronic=False)
    resolve(b, "d3", "2026-10-06T09:00", electronic=False)
    resolve(b, "d4", "2026-10-02T09:00", electronic=True)
    assert cell(score(b), "4.1") == (2, 3, 4.0)


def test_4_2_4_4_4_5_4_7_component_and_result_data_use() -> None:
    b = ledger()
    b.procedure("p1", "22.SXD")
    dossier(b, "d1", "p1", "2026-10-05T09:00", digitized=True, reused=True,
            from_personal_store=True, vneid_verified=True)
    dossier(b, "d2", "p1", "2026-10-05T09:00", reused=True, from_population_db=True)
    dossier(b, "d3", "p1", "2026-10-05T09:00", reused=True)
    dossier(b, "d4", "p1", "2026-10-05T09:00")
    resolve(b, "d2", "2026-10-20T09:00", pushed=True)
    resolve(b, "d4", "2026-11-03T09:00", pushed=True)  # after t: not counted for October
    s = score(b)
    assert cell(s, "4.2") == (1, 4, 1.0)
    assert cell(s, "4.4") == (3, 4, 2 * 0.75 / 0.8)
    assert cell(s, "4.5") == (2, 4, 2.0)
    assert cell(s, "4.7") == (2, 4, 1.0)
    online12 = score(b, rulebook=load_rulebook("vn-766-online12"))
    assert cell(online12, "4.2") == (1, 4, 4 * 0.25 / 0.8)


def test_4_3_communes_with_electronic_certified_copies_for_provinces_only() -> None:
    b = ledger()
    communes = [u.code for u in UnitRegistry().children("22") if u.kind == "commune"]
    b.emit("unit.capability_set", communes[0], "2026-09-01T09:00",
           capability="e_certified_copy", enabled=True)
    b.emit("unit.capability_set", communes[1], "2026-09-01T09:00",
           capability="e_certified_copy", enabled=True)
    b.emit("unit.capability_set", communes[1], "2026-10-10T09:00",
           capability="e_certified_copy", enabled=False)
    province = score(b, unit="22")
    assert cell(province, "4.3") == (1, len(communes), 2 / len(communes))
    department = score(b).indicator("4.3")
    assert department.applicable is False
    assert (department.numerator, department.denominator, department.ratio,
            department.points) == (None, None, None, None)
    assert next(g for g in score(b).groups if g.code == "G4").max == 20


def test_4_6_procedures_for_citizens_using_the_population_database() -> None:
    b = ledger()
    b.procedure("c1", "22.SXD", citizen_target=True)
    b.procedure("c2", "22.SXD", citizen_target=True)
    b.procedure("c3", "22.SXD", citizen_target=False)
    dossier(b, "d1", "c1", "2026-10-05T09:00", vneid_verified=True)
    dossier(b, "d2", "c2", "2026-09-05T09:00", from_population_db=True)
    dossier(b, "d3", "c3", "2026-10-05T09:00", vneid_verified=True)
    assert cell(score(b), "4.6") == (1, 2, 1.0)


def petitions_ledger() -> EventBuilder:
    b = ledger()

    def petition(pid: str, at: str, answered: str | None = None) -> None:
        b.emit("petition.received", pid, at, unit="22.SXD", kind="procedure_rule")
        if answered:
            b.emit("petition.answered", pid, answered)

    petition("q1", "2026-10-01T09:00", "2026-10-20T09:00")  # deadline 22 Oct: on time
    b.emit("petition.rated", "q1", "2026-10-21T09:00", likes=3, dislikes=1)
    petition("q2", "2026-10-01T09:00", "2026-10-23T09:00")  # late
    petition("q3", "2026-09-25T09:00", "2026-10-05T09:00")  # carried over, deadline 16 Oct
    petition("q4", "2026-10-20T09:00")  # open, deadline 10 Nov not passed at t
    petition("q5", "2026-09-01T09:00", "2026-09-10T09:00")  # finished before October
    petition("q6", "2026-10-02T09:00", "2026-10-05T09:00")
    b.emit("petition.rated", "q6", "2026-10-06T09:00", likes=1, dislikes=4)
    petition("q7", "2026-10-02T09:00", "2026-10-05T09:00")
    b.emit("petition.recomplained", "q7", "2026-10-07T09:00")
    return b


def test_5_1_and_5_2_petitions_on_time_and_satisfaction() -> None:
    s = score(petitions_ledger())
    assert cell(s, "5.1") == (5, 6, 5.0)
    assert cell(s, "5.2") == (2, 5, pytest.approx(6 * 2 / 5))


def test_petition_open_past_its_deadline_is_late() -> None:
    s = score(petitions_ledger(), period="2026-Q4")
    # q4 is still open at the end of the quarter and its deadline (10 Nov) has passed
    assert cell(s, "5.1") == (4, 6, 4.0)


def test_no_petitions_gives_full_points_or_the_group_share_when_split() -> None:
    b = ledger()
    b.procedure("p1", "22.SXD")
    dossier(b, "d1", "p1", "2026-10-05T09:00")
    dossier(b, "d2", "p1", "2026-10-05T09:00")
    b.dossier("d2", "rated", "2026-10-06T09:00", satisfied=False)
    full = score(b)
    assert cell(full, "5.1") == (0, 0, 6.0)
    assert full.indicator("5.1").ratio is None
    assert cell(full, "5.3") == (1, 2, 6 * 0.5 / 0.9)
    text = (load_rulebook_text().replace('on_empty = "full"', 'on_empty = "split"'))
    split = score(b, rulebook=parse_rulebook(text))
    share = (6 * 0.5 / 0.9) / 6
    assert split.indicator("5.1").points == pytest.approx(6 * share)
    assert split.indicator("5.2").points == pytest.approx(6 * share)
    group = next(g for g in split.groups if g.code == "G5")
    assert group.points == pytest.approx(18 * share)


def load_rulebook_text() -> str:
    return (RULEBOOK_DIR / "vn-766.toml").read_text("utf-8")


def test_5_3_late_petitioned_or_unsatisfied_dossiers_are_not_satisfied() -> None:
    b = ledger()
    b.procedure("p1", "22.SXD")
    for d in ("d1", "d2", "d3", "d4", "d5"):
        dossier(b, d, "p1", "2026-10-05T09:00", due="2026-10-13T00:00")
    dossier(b, "d6", "p1", "2026-10-30T09:00", due="2026-11-07T00:00")
    for d in ("d1", "d3", "d4", "d5"):
        resolve(b, d, "2026-10-09T09:00")
    resolve(b, "d2", "2026-10-14T09:00")  # late
    b.dossier("d1", "rated", "2026-10-10T09:00", satisfied=True)
    b.dossier("d4", "rated", "2026-10-10T09:00", satisfied=False)
    b.emit("petition.received", "q1", "2026-10-15T09:00", unit="22.SXD", kind="staff_conduct",
           dossier="d3")
    b.emit("petition.received", "q2", "2026-11-05T09:00", unit="22.SXD", kind="staff_conduct",
           dossier="d5")  # after t: does not count for October
    s = score(b)
    assert cell(s, "5.3") == (3, 6, 6 * 0.5 / 0.9)
    # at t = 15 Dec: d5 has been named by a petition and d6 (due 7 Nov) is still open, late
    assert cell(score(b, period="2026-Q4"), "5.3") == (1, 6, pytest.approx(6 * (1 / 6) / 0.9))


def test_single_12_point_online_tab_counts_online_dossiers_of_eligible_procedures() -> None:
    b = ledger()
    b.procedure("e1", "22.SXD", full_online_eligible=True)
    b.procedure("n1", "22.SXD", full_online_eligible=False)
    dossier(b, "d1", "e1", "2026-10-05T09:00", channel="online")
    dossier(b, "d2", "e1", "2026-10-05T09:00", channel="online")
    dossier(b, "d3", "e1", "2026-10-05T09:00", channel="direct")
    dossier(b, "d4", "n1", "2026-10-05T09:00", channel="online")
    s = score(b, rulebook=load_rulebook("vn-766-online12"))
    group = next(g for g in s.groups if g.code == "G3a")
    assert [i.code for i in group.indicators] == ["3.1"]
    assert cell(s, "3.1") == (2, 3, 8.0)
    assert s.rulebook_id == "vn-766-online12"
