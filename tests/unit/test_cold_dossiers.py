"""Dossiers taken out of memory into the cold store (and brought back by their next event)
change nothing: at random cut points, the rows, the counts at past moments and the
explanations equal those of a state that kept every dossier in memory; a snapshot with its
cold records, loaded and folded on, gives the same; the records of a snapshot that was never
finished are deleted by the runner that resumes from the one before."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from projections.clickhouse import schema
from projections.clickhouse.writer import Batch
from projections.periods import parse_period, periods_containing, to_datetime, to_instant
from projections.synthetic import random_history
from streams.coldstore import ColdStore
from streams.projector import Projector
from streams.snapshots import Snapshots

pytestmark = pytest.mark.usefixtures("compiled_or_python")
KEY = b"test-key"
COMPUTED_AT = datetime(2027, 1, 1, tzinfo=UTC)
DAY = 86_400_000_000


def every_dossier(projector: Projector) -> set[str]:
    cold = projector.engine.cold
    held = set(projector.engine.facts.dossiers)
    if isinstance(cold, ColdStore):
        for unit in cold.units():
            held.update(dossier_id for dossier_id, _ in cold.facts_of_unit(unit))
    return held


def rows_of(projector: Projector, as_of: datetime) -> dict[str, Any]:
    """Every fact row and every score row (not only changed ones) the projector gives."""
    batch = Batch()
    projector.fact_rows(batch, every_dossier(projector), as_of)
    projector.score_rows(batch, projector.groups, as_of, COMPUTED_AT, only_changed=False)
    return {table: sorted(repr(tuple(orjson.dumps(v) if isinstance(v, orjson.Fragment) else v
                                     for v in row)) for row in rows)
            for table, rows in batch.rows.items()}


def answers(projector: Projector, moments: list[datetime]) -> list[Any]:
    """Counts at past moments inside a period (read from the facts, not the counters) and
    explanations, for every unit with dossiers."""
    engine = projector.engine
    found: list[Any] = []
    units = sorted(u.code for u in engine.facts.units if u.code.startswith("22"))
    for moment in moments:
        for period in periods_containing(to_instant(moment)):
            for unit in units:
                found.append((unit, period.key, sorted(
                    engine.counts(unit, period, moment).items())))
                explanation = engine.explain(unit, period, "2.1", moment)
                found.append(sorted(repr(e) for e in explanation.entries))
    return found


def folded(events: list[dict[str, Any]], batch: int = 17) -> Projector:
    projector = Projector(KEY)
    fold_into(projector, events, batch)
    return projector


def fold_into(projector: Projector, events: list[dict[str, Any]], batch: int = 17) -> None:
    for first in range(0, len(events), batch):
        projector.fold(events[first:first + batch])


def take_out(projector: Projector, cold: ColdStore, grace: int, *, commit: bool) -> int:
    taken = projector.take_out(cold, projector.engine.facts.watermark - grace)
    if commit:
        cold.commit(projector.engine.facts.position, cold.begin_flush())
        cold.end_flush(True)
    return taken


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_dossiers_taken_out_at_random_cut_points_change_nothing(seed: int,
                                                                 tmp_path: Path) -> None:
    events = random_history(seed, 90, petitions=12, departments=2, communes=3, procedures=5)
    rng = random.Random(seed)
    whole = Projector(KEY)  # the same batches (which groups a pool change touches
    projector = Projector(KEY)  # depends on the batches)
    cold = ColdStore(tmp_path / "cold.sqlite")
    projector.engine.attach(cold)
    taken = 0
    cuts = sorted(rng.sample(range(1, len(events)), 6))
    for first, cut in zip([0, *cuts], cuts, strict=False):
        fold_into(whole, events[first:cut])
        fold_into(projector, events[first:cut])
        taken += take_out(projector, cold, rng.choice([0, DAY, 5 * DAY]),
                          commit=rng.random() < 0.7)
    fold_into(whole, events[cuts[-1]:])
    fold_into(projector, events[cuts[-1]:])
    end = to_datetime(whole.engine.facts.watermark)
    assert taken and cold.recalls, "the history must take dossiers out and bring some back"
    assert projector.engine.taken == taken
    as_of = end + timedelta(hours=rng.randint(1, 200))
    expected = rows_of(whole, as_of)
    assert expected[schema.RANKINGS] and expected[schema.DOSSIER_FACTS]
    assert rows_of(projector, as_of) == expected
    # past moments inside their periods, and explanations, scan the facts: cold ones too
    start = to_datetime(whole.engine.facts.watermark) - timedelta(days=3)
    moments = [start, start + timedelta(hours=30)]
    take_out(projector, cold, 0, commit=True)
    assert answers(projector, moments) == answers(whole, moments)


def test_a_snapshot_with_its_cold_records_resumes_exactly(tmp_path: Path) -> None:
    events = random_history(31, 90, petitions=8, departments=2, communes=2, procedures=4)
    snapshots = Snapshots(tmp_path / "state")
    first_cut, second_cut = len(events) // 3, 2 * len(events) // 3
    whole = folded(events[:first_cut])
    fold_into(whole, events[first_cut:])

    runner = Projector(KEY)
    cold = ColdStore(snapshots.cold_path)
    runner.engine.attach(cold)
    fold_into(runner, events[:first_cut])
    assert runner.take_out(cold, runner.engine.facts.watermark) > 0
    cold.begin_flush()
    snapshots.save(runner, first_cut, "hash")  # commits the records, then the snapshot
    cold.end_flush(True)
    # a later snapshot that never finished: its records are written, the snapshot is not
    fold_into(runner, events[first_cut:second_cut])
    assert runner.take_out(cold, runner.engine.facts.watermark) > 0
    cold.commit(second_cut, cold.begin_flush())

    (snapshot,) = snapshots.listed()
    reader = snapshots.load(snapshot)  # a reader of the snapshot: versions ≤ its position
    resumed = snapshots.load(snapshot)
    runner_cold = ColdStore(snapshots.cold_path)
    assert runner_cold.truncate_after(snapshot.position) > 0  # the unfinished one's records
    resumed.engine.attach(runner_cold)
    fold_into(resumed, events[first_cut:])
    as_of = to_datetime(whole.engine.facts.watermark) + timedelta(hours=5)
    assert rows_of(resumed, as_of) == rows_of(whole, as_of)

    head = folded(events[:first_cut])
    as_of = to_datetime(head.engine.facts.watermark) + timedelta(hours=1)
    assert rows_of(reader, as_of) == rows_of(head, as_of)


def test_a_snapshot_whose_cold_store_is_gone_is_refused(tmp_path: Path) -> None:
    events = random_history(32, 40, departments=1, communes=1, procedures=3)
    snapshots = Snapshots(tmp_path / "state")
    projector = Projector(KEY)
    cold = ColdStore(snapshots.cold_path)
    projector.engine.attach(cold)
    fold_into(projector, events)
    assert projector.take_out(cold, projector.engine.facts.watermark) > 0
    cold.begin_flush()
    snapshots.save(projector, len(events), "hash")
    cold.close()
    snapshots.cold_path.unlink()
    (snapshot,) = snapshots.listed()
    with pytest.raises(Exception, match="not there"):
        snapshots.load(snapshot)


def test_the_activity_of_a_procedure_is_kept_per_month() -> None:
    """One entry per procedure and local month however many dossiers: bounded state."""
    events = random_history(33, 150, departments=1, communes=1, procedures=2)
    projector = folded(events)
    for procedure in projector.engine.facts.procedures.values():
        for times in (procedure.online_received, procedure.online_paid,
                      procedure.population_db_received):
            months = [parse_period_month(t) for t in times]
            assert months == sorted(set(months))


def parse_period_month(t: int) -> int:
    (month,) = [p for p in periods_containing(t) if p.months == 1]
    return parse_period(month.key).first_month
