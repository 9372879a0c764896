"""Facts folded from envelopes: per-dossier rows, 5 tại chỗ, robustness to surprising events."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from domain.calendar import WorkingCalendar
from projections.engine import ScoringEngine
from projections.facts import FactStore
from projections.periods import parse_instant
from projections.rows import dossier_row, five_on_the_spot
from projections.rulebook import Switches
from projections.synthetic import EventBuilder, local

pytestmark = pytest.mark.usefixtures("compiled_or_python")

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "example-events.jsonl"
LATE = parse_instant("2027-01-01T00:00:00+07:00")


def example_store() -> FactStore:
    return FactStore().fold(orjson.loads(line) for line in EXAMPLE.read_bytes().splitlines())


def test_example_file_folds_into_dossier_procedure_and_petition_facts() -> None:
    store = example_store()
    d1 = store.dossiers["d-0001"]
    assert d1.unit == "22.SXD" and d1.fee_bearing and d1.digitized and d1.reused
    assert d1.supplements == [[parse_instant("2026-10-02T10:00:00+07:00"),
                               parse_instant("2026-10-06T14:00:00+07:00")]]
    assert d1.named_at == parse_instant("2026-10-13T09:00:00+07:00")
    assert store.dossiers["d-0002"].received_at is None
    assert store.dossiers["d-0003"].ended_how == "withdrawn"
    assert "22.SXD" in store.units and store.units.get("22.SXD").parent == "22"
    assert store.procedures["p-xd-001"].online_paid


def test_dossier_row_reports_timeliness_and_data_use() -> None:
    store = example_store()
    row = dossier_row(store.dossiers["d-0001"], LATE, Switches(), WorkingCalendar())
    assert row["status"] == "on_time" and row["on_time"] is True
    assert row["paid_online"] and row["synced"] and row["named_by_petition"]
    assert row["statutory_days"] == 15
    # received Thu 1 Oct; resolved 9 Oct 15:00 minus a 4 day 4 hour supplement wait: 5 Oct 11:00
    assert row["processing_working_days"] == 2
    late = dossier_row(store.dossiers["d-0003"], LATE, Switches(), WorkingCalendar())
    assert late["status"] == "late"
    refused = dossier_row(store.dossiers["d-0002"], LATE, Switches(), WorkingCalendar())
    assert refused["status"] == "refused"


def five_on_the_spot_ledger(transfer: bool = False) -> EventBuilder:
    b = EventBuilder()
    b.unit("22.SXD", "22")
    b.procedure("p1", "22.SXD")
    b.submit("d1", "p1", "22.SXD", "2026-10-05T08:00")
    b.receive("d1", "2026-10-05T08:05")
    if transfer:
        b.dossier("d1", "transferred", "2026-10-05T08:30", to_unit="22", kind="internal")
    for step, at in (("appraised", "09:00"), ("approved", "10:00"), ("signed", "10:30")):
        b.dossier("d1", step, f"2026-10-05T{at}", by="staff-1")
    b.dossier("d1", "resolved", "2026-10-05T10:45", electronic_result=True,
              pushed_to_personal_store=False)
    b.dossier("d1", "result_returned", "2026-10-05T11:00", method="counter")
    return b


def test_five_on_the_spot_needs_the_same_day_and_no_transfer() -> None:
    same_day = FactStore().fold(five_on_the_spot_ledger().events)
    assert five_on_the_spot(same_day.dossiers["d1"], LATE)
    assert not five_on_the_spot(same_day.dossiers["d1"],
                                parse_instant("2026-10-05T10:50:00+07:00"))
    transferred = FactStore().fold(five_on_the_spot_ledger(transfer=True).events)
    assert not five_on_the_spot(transferred.dossiers["d1"], LATE)


def test_other_streams_are_ignored_and_surprising_sequences_do_not_crash() -> None:
    b = EventBuilder()
    b.unit("22.SXD", "22")
    b.procedure("p1", "22.SXD")
    b.submit("d1", "p1", "22.SXD", "2026-10-05T08:00")
    b.receive("d1", "2026-10-05T08:05")
    b.dossier("d1", "withdrawn", "2026-10-06T08:00")
    b.dossier("d1", "result_returned", "2026-10-07T08:00", method="counter")
    b.dossier("d1", "rated", "2026-10-08T08:00", satisfied=False)
    b.dossier("d9", "synced", "2026-10-08T08:00")  # a dossier the projection never saw
    request = {"type": "request.recorded", "stream": "request", "id": "k1", "seq": 1,
               "at": "2026-10-08T08:00:00+07:00", "data": {"fingerprint": "x"}, "position": 99}
    engine = ScoringEngine()
    engine.apply_all([*b.events, request])
    score = engine.score("22.SXD", "2026-10", local("2026-11-01T00:00"))
    assert score.indicator("2.1").denominator == 1
    assert score.indicator("5.3").numerator == 0
