"""The writer leaves out the fact and score rows equal to the stored ones (bookkeeping aside),
and those older than the stored ones; each stored row is consulted once."""

from __future__ import annotations

from datetime import datetime

from projections.clickhouse import schema
from projections.clickhouse.rows import Row
from projections.clickhouse.writer import (
    FACTS,
    SCORES,
    Batch,
    StoredRows,
    fact_digest,
    score_digest,
)
from projections.synthetic import EventBuilder, local
from streams.projector import Group, Projector

SCORED_AT = local("2026-10-06T12:00")
COMPUTED_AT = local("2026-10-06T12:00:05")


def history() -> EventBuilder:
    b = EventBuilder()
    b.unit("22.SXD", "22", "2026-01-01T08:00")
    b.procedure("p1", "22.SXD", "2026-01-01T08:00")
    for dossier_id in ("d1", "d2"):
        b.submit(dossier_id, "p1", "22.SXD", "2026-10-01T09:00")
        b.receive(dossier_id, "2026-10-01T09:00", "2026-10-08T00:00")
    b.dossier("d2", "resolved", "2026-10-05T10:00")
    return b


def folded() -> tuple[Projector, set[Group], set[str]]:
    projector = Projector(b"k")
    groups, dossiers = projector.fold(history().events)
    return projector, groups, dossiers


def rows_of(projector: Projector, groups: set[Group], dossiers: set[str], as_of: datetime,
            computed_at: datetime = COMPUTED_AT) -> Batch:
    batch = Batch()
    projector.fact_rows(batch, dossiers, as_of)
    projector.score_rows(batch, groups, as_of, computed_at, only_changed=False)
    return batch


def stored(batch: Batch) -> StoredRows:
    """What the tables would hold after ``batch`` was written."""
    return StoredRows({
        table: {spec.key(row): (row[spec.version], digest(row)) for row in batch.rows[table]}
        for table, spec, digest in ((schema.DOSSIER_FACTS, FACTS, fact_digest),
                                    (schema.RANKINGS, SCORES, score_digest))})


def of(batch: Batch, table: str) -> list[Row]:
    return batch.rows.get(table, [])


def unit_score(row: Row, table: str) -> tuple[str, ...]:
    columns = schema.BY_NAME[table].column_names
    return tuple(row[columns.index(c)] for c in ("rulebook_id", "unit", "period"))


def test_rows_evaluated_again_but_unchanged_are_left_out_with_their_history() -> None:
    projector, groups, dossiers = folded()
    first = rows_of(projector, groups, dossiers, SCORED_AT)
    store = stored(first)
    assert of(first, schema.RANKINGS) and of(first, schema.SCORE_HISTORY)

    # an hour later nothing has changed (d1 is due on 8 October): only bookkeeping differs
    again = rows_of(projector, groups, dossiers, local("2026-10-06T13:00"),
                    local("2026-10-06T13:00:05"))
    store.leave_out_unchanged(again)
    assert len(again) == 0
    assert len(store) == 0, "every stored row was consulted, then forgotten"


def test_rows_that_changed_are_kept_with_their_history() -> None:
    projector, groups, dossiers = folded()
    store = stored(rows_of(projector, groups, dossiers, SCORED_AT))

    late = rows_of(projector, groups, dossiers, local("2026-10-09T12:00"))  # d1 is late now
    scores = len(of(late, schema.RANKINGS))
    store.leave_out_unchanged(late)
    facts = {row[0]: row[schema.DOSSIER_FACTS_TABLE.column_names.index("status")]
             for row in of(late, schema.DOSSIER_FACTS)}
    assert facts == {"d1": "open_late"}
    kept = of(late, schema.RANKINGS)
    assert 0 < len(kept) < scores
    assert {unit_score(row, schema.RANKINGS) for row in kept} == {
        unit_score(row, schema.SCORE_HISTORY) for row in of(late, schema.SCORE_HISTORY)}


def test_a_row_older_than_the_stored_one_waits_for_it() -> None:
    projector, groups, dossiers = folded()
    early = rows_of(projector, groups, dossiers, SCORED_AT)
    resolved = history().dossier("d1", "resolved", "2026-10-07T10:00")
    groups_later, changed = projector.fold([resolved])
    store = stored(rows_of(projector, groups | groups_later, dossiers | changed, SCORED_AT))

    store.leave_out_unchanged(early)  # what a restart that folds the log again writes first
    assert len(early) == 0
    assert len(store) > 0, "the newer stored rows still wait for rows of their version"


def test_each_stored_row_is_consulted_once() -> None:
    projector, groups, dossiers = folded()
    store = stored(rows_of(projector, groups, dossiers, SCORED_AT))
    store.leave_out_unchanged(rows_of(projector, groups, dossiers, SCORED_AT))

    later = rows_of(projector, groups, dossiers, SCORED_AT)
    written = len(later)
    store.leave_out_unchanged(later)
    assert len(later) == written, "once compared, the runner decides what to write"


def test_a_resumed_projector_builds_no_rows_for_the_scores_as_stored() -> None:
    projector, groups, dossiers = folded()
    store = stored(rows_of(projector, groups, dossiers, SCORED_AT))
    resumed, _, _ = folded()  # a restart folds the log again and knows no score
    resumed.stored = store

    batch = Batch()
    assert resumed.score_rows(batch, groups, local("2026-10-06T13:00"), COMPUTED_AT) == 0
    assert len(batch) == 0
    late = Batch()
    assert resumed.score_rows(late, groups, local("2026-10-09T12:00"), COMPUTED_AT) > 0
