"""Dossier fact rows turn late with no event: the runner rewrites them when the due passes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from projections.clickhouse import schema
from projections.clickhouse.rows import FACT_FIELDS
from projections.clickhouse.writer import Batch
from projections.synthetic import EventBuilder, local
from streams.projector import Projector

DUE = "2026-10-08T00:00"  # 24:00 of 7 October


def history() -> EventBuilder:
    b = EventBuilder()
    b.unit("22.SXD", "22", "2026-01-01T08:00")
    b.procedure("p1", "22.SXD", "2026-01-01T08:00")
    for dossier_id in ("d1", "d2"):
        b.submit(dossier_id, "p1", "22.SXD", "2026-10-01T09:00")
        b.receive(dossier_id, "2026-10-01T09:00", DUE)
    b.dossier("d2", "resolved", "2026-10-05T10:00")
    return b


def statuses(batch: Batch) -> dict[str, Any]:
    """dossier id -> status of the fact rows in a batch (tuples in column order)."""
    rows = batch.rows.get(schema.DOSSIER_FACTS, [])
    assert all(len(row) == len(schema.DOSSIER_FACTS_TABLE.columns) for row in rows)
    return {row[FACT_FIELDS.index("dossier_id")]: row[FACT_FIELDS.index("status")]
            for row in rows}


def at(text: str) -> datetime:
    return local(text)


def test_an_open_row_is_rewritten_late_once_its_due_passes() -> None:
    projector = Projector(b"k")
    _, dossiers = projector.fold(history().events)
    batch = Batch()
    projector.fact_rows(batch, dossiers, at("2026-10-06T12:00"))
    assert statuses(batch) == {"d1": "open", "d2": "on_time"}

    before = Batch()
    assert projector.turned_rows(before, at("2026-10-07T23:59")) == 0  # still on time
    after = Batch()
    assert projector.turned_rows(after, at("2026-10-08T00:00:01")) == 1
    assert statuses(after) == {"d1": "open_late"}
    again = Batch()
    assert projector.turned_rows(again, at("2026-10-20T00:00")) == 0  # written once


def test_an_event_before_the_due_cancels_the_turn() -> None:
    b = history()
    projector = Projector(b"k")
    _, dossiers = projector.fold(b.events)
    projector.fact_rows(Batch(), dossiers, at("2026-10-06T12:00"))
    resolved = b.dossier("d1", "resolved", "2026-10-07T10:00")
    _, changed = projector.fold([resolved])
    batch = Batch()
    projector.fact_rows(batch, changed, at("2026-10-07T11:00"))
    assert statuses(batch) == {"d1": "on_time"}
    assert projector.turned_rows(Batch(), at("2026-10-09T00:00")) == 0


def test_after_a_restart_open_dossiers_are_watched_again() -> None:
    projector = Projector(b"k")
    projector.fold(history().events)  # a resume refolds without writing rows
    projector.watch_open_dossiers(at("2026-10-06T12:00"))
    batch = Batch()
    assert projector.turned_rows(batch, at("2026-10-09T00:00")) == 1
    assert statuses(batch) == {"d1": "open_late"}
