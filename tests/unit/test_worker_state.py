"""The Kafka workers' projections without Kafka: a partition's state written to a table at a
mark and loaded, then the tail folded, writes the rows an uninterrupted one writes (its
dossiers written through at every mark, those ended dropped from memory between), also
when the worker went on past the snapshot before it was killed; the snapshot leaves the
dossiers out; a record newer than what a resumed state folded is not read back; snapshots
come back whole or not at all; the national ranking ranks a mark once every partition
reported it, a later complete mark superseding an unfinished one."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from projections.clickhouse import schema
from projections.clickhouse.writer import Batch
from projections.periods import to_datetime
from projections.scores import standard_competition_ranks
from projections.synthetic import random_history
from streams.routing import Mark
from streams.worker import NationalRanking, PartitionProjection, Report
from streams.worker_state import (
    CHUNK,
    DOSSIER,
    SNAPSHOT,
    TableCold,
    load_snapshot,
    save_snapshot,
)

pytestmark = pytest.mark.usefixtures("compiled_or_python")
KEY = b"test-key"
COMPUTED_AT = datetime(2027, 1, 1, tzinfo=UTC)


def comparable(batch: Batch) -> dict[str, list[str]]:
    batch.encode()
    found: dict[str, list[str]] = {}
    for table, lines in batch.lines.items():
        rows = [orjson.loads(row) for line in lines for row in line.split(b"\n")]
        if table in (schema.SCORE_HISTORY, schema.RANKINGS):  # computed_at: the wall clock
            rows = [row[:-1] for row in rows]
        found[table] = sorted(orjson.dumps(row).decode() for row in rows)
    return found


def run(projection: PartitionProjection, events: list[dict[str, Any]],
        marks: dict[int, Mark], cold: TableCold | None = None, write_every: int = 1
        ) -> list[Any]:
    """Fold the events, doing each mark after the event at its position; the rows and
    reports of each mark (with ``cold``: ended dossiers dropped from memory at each mark
    writing the dossiers changed at every ``write_every``-th, as a partition catching up
    writes them only before its snapshots)."""
    done: list[Any] = []
    for envelope in events:
        projection.fold(envelope)
        mark = marks.get(envelope["position"])
        if mark is None:
            continue
        write = (len(done) + 1) % write_every == 0
        result = projection.at_mark(mark, COMPUTED_AT, write=write)
        assert result is not None
        batch, report = result
        done.append((comparable(batch), report.scores))
        if cold is not None and write:
            projection.projector.take_out(cold, projection.projector.engine.facts.watermark)
    return done


def marked(events: list[dict[str, Any]], rng: random.Random) -> dict[int, Mark]:
    end = to_datetime(_watermark(events))
    last = events[-1]["position"]
    positions = sorted({*rng.sample([e["position"] for e in events[:-1]], 8), last})
    return {p: Mark(p, end + timedelta(hours=i), 4) for i, p in enumerate(positions)}


def _watermark(events: list[dict[str, Any]]) -> int:
    from projections.periods import parse_instant

    return max(parse_instant(e["at"]) for e in events)


@pytest.mark.parametrize(("seed", "went_on", "write_every"),
                         [(21, 0, 1), (22, 0, 2), (21, 3, 1), (23, 3, 3)])
def test_a_partition_resumed_from_its_table_writes_the_rows_of_one_never_stopped(
        seed: int, went_on: int, write_every: int) -> None:
    """``went_on``: marks the worker did after the snapshot before it was killed (their
    dossiers' newer versions are in the table, the state resumed is the snapshot's)."""
    events = random_history(seed, 60, petitions=6, departments=2, communes=3, procedures=4)
    rng = random.Random(seed)
    marks = marked(events, rng)
    whole = run(PartitionProjection(0, KEY), events, marks)
    assert any(rows.get(schema.RANKINGS) for rows, _ in whole)
    assert any(scores for _, scores in whole), "no province score reported"

    cut = sorted(marks)[3]
    table: dict[str, bytes] = {}
    first = PartitionProjection(0, KEY)
    cold = TableCold(table, lambda: first.position, 0)
    first.attach(cold)
    head = [e for e in events if e["position"] <= cut]
    before = run(first, head, marks, cold, write_every)
    first.write_dossiers()  # as before a snapshot
    engine = first.projector.engine
    assert engine.taken > 0, "no dossier dropped from memory"
    held = set(engine.facts.dossiers)
    assert held, "no dossier held in memory"
    save_snapshot(table, SNAPSHOT, first)
    cold.saved(cut)
    assert engine.write_through and set(engine.facts.dossiers) == held  # pickling kept them
    snapshot = pickle.loads(pickle.dumps(first))
    assert not snapshot.projector.engine.facts.dossiers, "the snapshot holds the dossiers"
    assert set(snapshot.projector.engine._held) == held
    if went_on:
        later = sorted(marks)[3 + went_on]
        run(first, [e for e in events if cut < e["position"] <= later], marks, cold,
            write_every)
        assert any(len(pickle.loads(v)) == 2 for k, v in table.items()
                   if k.startswith(DOSSIER)), \
            "no dossier has a version newer than the snapshot's"

    resumed = load_snapshot(table, SNAPSHOT)
    assert isinstance(resumed, PartitionProjection) and resumed.position == cut
    resumed_cold = TableCold(table, lambda: resumed.position, resumed.position)
    resumed.attach(resumed_cold)
    assert set(resumed.projector.engine.facts.dossiers) == held
    after = run(resumed, [e for e in events if e["position"] > cut], marks, resumed_cold,
                write_every)
    assert before + after == whole


def test_a_snapshot_naming_a_dossier_its_table_lost_is_refused() -> None:
    events = random_history(24, 30, departments=1, communes=2, procedures=2)
    table: dict[str, bytes] = {}
    projection = PartitionProjection(0, KEY)
    projection.attach(TableCold(table, lambda: projection.position, 0))
    last = events[-1]["position"]
    run(projection, events, {last: Mark(last, to_datetime(_watermark(events)), 4)})
    save_snapshot(table, SNAPSHOT, projection)
    lost = next(iter(projection.projector.engine.facts.dossiers))
    del table[DOSSIER + lost]
    resumed = load_snapshot(table, SNAPSHOT)
    with pytest.raises(LookupError, match=f"not in its store \\(first: {lost}\\)"):
        resumed.attach(TableCold(table, lambda: resumed.position, resumed.position))


def test_a_record_newer_than_the_state_folded_is_not_read_back() -> None:
    table: dict[str, bytes] = {}
    folded = 10
    cold = TableCold(table, lambda: folded, 0)
    record = pickle.dumps(("facts v1", 8, {}, None))
    cold.write([("D1", "22.SXD", 8, record)])
    cold.saved(10)
    newer = pickle.dumps(("facts v2", 14, {}, None))
    cold.write([("D1", "22.SXD", 14, newer)])  # after the snapshot at 10
    assert cold.recall("D1") == record  # the state resumed at 10 reads it as it was then
    folded = 15
    assert cold.recall("D1") == newer
    newest = pickle.dumps(("facts v3", 16, {}, None))
    cold.write([("D1", "22.SXD", 16, newest)])  # still none after 10: 8 is kept
    assert [v[0] for v in pickle.loads(table[DOSSIER + "D1"])] == [8, 16]
    cold.saved(20)
    cold.write([("D1", "22.SXD", 24, pickle.dumps(("facts v4", 24, {}, None)))])
    assert [v[0] for v in pickle.loads(table[DOSSIER + "D1"])] == [16, 24]  # older ones dropped
    folded = 24
    assert [u for u in cold.units()] == ["22.SXD"]


class NoWholeScans(dict[str, bytes]):
    """A table whose keys cannot be iterated (a worker's holds millions)."""

    def __iter__(self) -> Any:
        raise AssertionError("the whole table was scanned")


def test_a_units_dossiers_are_read_through_its_index_entries() -> None:
    table = NoWholeScans()
    prefixes: list[str] = []

    def scan(prefix: str) -> list[str]:
        prefixes.append(prefix)
        return [k[len(prefix):] for k in sorted(dict.keys(table)) if k.startswith(prefix)]

    def record(facts: str, position: int) -> bytes:
        return pickle.dumps((facts, position, {}, None))

    cold = TableCold(table, lambda: 100, 0, scan=scan)
    cold.stage([("D1", "22.A", record("a1", 5)), ("D2", "22.B", record("b2", 6)),
                ("D3", "22.A", record("a3", 7))])
    cold.commit()
    cold.saved(10)
    cold.stage([("D4", "22.A", record("a4", 12))])  # staged, not yet written
    assert list(cold.facts_of_unit("22.A")) == [("D1", "a1"), ("D3", "a3"), ("D4", "a4")]
    assert prefixes == ["~u/22.A/"]
    cold.stage([("D1", "22.B", record("a1, moved", 15))])  # its latest version: another unit
    cold.commit()
    assert list(cold.facts_of_unit("22.A")) == [("D3", "a3"), ("D4", "a4")]
    assert list(cold.facts_of_unit("22.B")) == [("D1", "a1, moved"), ("D2", "b2")]


def test_a_snapshot_comes_back_whole_or_not_at_all() -> None:
    table: dict[str, bytes] = {}
    big = {"payload": bytes(range(256)) * (3 * CHUNK // 256 + 7)}
    save_snapshot(table, "p1", big)
    save_snapshot(table, "p1", {"payload": b"second"})
    assert load_snapshot(table, "p1") == {"payload": b"second"}
    assert not any(k.startswith("p1/1/") for k in table), "the first generation was left"
    save_snapshot(table, "p1", big)
    assert load_snapshot(table, "p1") == big
    chunks = sorted(k for k in table if k.startswith("p1/3/"))
    assert len(chunks) >= 3
    del table[chunks[1]]
    with pytest.raises(ValueError, match="missing"):
        load_snapshot(table, "p1")
    assert load_snapshot(table, "p2") is None


def test_the_national_ranking_waits_for_every_partition_and_supersedes() -> None:
    events = random_history(31, 30, departments=1, communes=1, procedures=2)
    projection = PartitionProjection(0, KEY)
    for envelope in events:
        projection.fold(envelope)
    end = to_datetime(_watermark(events))
    last = events[-1]["position"]
    done = projection.at_mark(Mark(last, end, 2), COMPUTED_AT)
    assert done is not None
    scores = done[1].scores
    assert scores and {s.kind for s in scores} == {"province"}
    assert projection.at_mark(Mark(last, end, 2), COMPUTED_AT) is None  # a repeat

    ranking = NationalRanking()
    early, late = (last - 1, end), (last, end)
    # partition 1 never reports the early mark (it was behind: it wrote fewer marks); what
    # partition 0 reported there is taken with the later one, which says only what changed
    assert ranking.add(Report(early, 2, 0, scores)) == []
    assert ranking.add(Report(late, 2, 0, (), previous=early)) == []
    assert ranking.gap(Report(late, 2, 1, (), previous=early)) is None  # its first
    assert ranking.add(Report(late, 2, 1, ())) == [late]
    batch = ranking.rank(late, COMPUTED_AT)
    assert ranking.pending == {} and ranking.done == late
    rows = comparable(batch)[schema.RANKINGS]
    assert len(rows) == len(scores)
    groups: dict[tuple[str, str], dict[str, tuple[float, int]]] = {}
    for row in map(orjson.loads, rows):
        groups.setdefault((row[0], row[4]), {})[row[5]] = (row[7], row[10])
    assert len(max(groups.values(), key=len)) > 1, "one province: nothing ranked"
    for members in groups.values():
        assert standard_competition_ranks({u: t for u, (t, _) in members.items()}) == {
            u: rank for u, (_, rank) in members.items()}
    assert ranking.add(Report(early, 2, 1, ())) == []  # before what is done: dropped
    # partition 0 restarted from an older snapshot: a new chain, whole first, then changes
    older = (last - 2, end)
    assert ranking.gap(Report(older, 2, 0, scores, previous=None, full=True)) is None
    ranking.add(Report(older, 2, 0, scores, previous=None, full=True))
    assert ranking.gap(Report(late, 2, 0, (), previous=older)) is None
    assert ranking.gap(Report(late, 2, 0, (), previous=early)) == older  # one lost
