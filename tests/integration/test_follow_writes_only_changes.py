"""A restarted `dossier follow` writes only the rows that differ from the stored ones: nothing on
a caught-up directory, the rows of what changed after new events or as time passed."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.application import DossierLedger
from ledger.config import StoreConfig
from projections.clickhouse.moments import moment_suffix
from projections.clickhouse.schema import TABLES
from projections.clickhouse.writer import AS_OF_FIELD
from tests.conftest import WORKLOAD_AS_OF, WORKLOAD_START
from tests.integration.test_clickhouse_live import (
    dossier,
    olap,
    olap_command,
    simulate,
    snapshot,
)
from tests.unit.helpers import step, submitted

LATER = "2026-10-20T12:00:00+07:00"  # a week after WORKLOAD_AS_OF, in the same periods
APPENDED_AT = WORKLOAD_START.replace(day=8, hour=9)  # when the test records its own events
SCORE_KEY = "rulebook_id, kind, period, unit"


@pytest.fixture(scope="module")
def followed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """A workload followed once into chDB at WORKLOAD_AS_OF; each test works on a copy."""
    data_dir = tmp_path_factory.mktemp("followed")
    head = simulate(data_dir)
    dossier(data_dir, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF)
    yield data_dir, head


def copy_of(followed: tuple[Path, int], tmp_path: Path) -> tuple[Path, int]:
    source, head = followed
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir, symlinks=True)  # chDB links tables to its store
    return data_dir, head


def inserts_and_rows(data_dir: Path) -> dict[str, tuple[int, int]]:
    """Per table: the last insert's block number (every insert takes new ones, merges keep
    them) and the rows held (no FINAL)."""
    names = ", ".join(f"'{t.name}'" for t in TABLES)
    found = olap(data_dir, "SELECT table, max(max_block_number), sum(rows) FROM system.parts "
                 f"WHERE active AND database = currentDatabase() AND table IN ({names}) "
                 "GROUP BY table")
    return {table: (int(block), int(rows)) for table, block, rows in found}


def reported_rows(stderr: str) -> int:
    """The rows the runner says it wrote (its per-cycle lines: "…, N rows in S s")."""
    counts = re.findall(r"(\d+) rows in", " ".join(stderr.split()))
    return sum(int(n) for n in counts)


def scores(data_dir: Path, *, with_time: bool = True) -> dict[tuple[str, ...], list[Any]]:
    """The current score rows (FINAL) by key, without bookkeeping (position, computed_at; and
    without as_of and evaluation time unless ``with_time``)."""
    kept = "total, band, rank, unit_name, peer_group"
    score_json = ("score_json" if with_time
                  else f"replaceRegexpOne(score_json, '{AS_OF_FIELD}', '')")
    timed = ", as_of, evaluated_at" if with_time else ""
    rows = olap(data_dir, f"SELECT {SCORE_KEY}, {kept}, {score_json}{timed} "
                "FROM rankings_current FINAL")
    return {tuple(row[:4]): row[4:] for row in rows}


def facts(data_dir: Path, suffix: str = "") -> dict[str, list[Any]]:
    """The fact rows (FINAL) by dossier, without their evaluation time."""
    rows = olap(data_dir, f"SELECT * EXCEPT (evaluated_at) FROM dossier_facts{suffix} FINAL")
    return {row[0]: row for row in rows}


def test_a_restart_on_a_caught_up_directory_writes_nothing(
        followed: tuple[Path, int], tmp_path: Path) -> None:
    data_dir, head = copy_of(followed, tmp_path)
    before = inserts_and_rows(data_dir)
    assert set(before) == {t.name for t in TABLES}

    again = dossier(data_dir, "follow", "--once", "--as-of", WORKLOAD_AS_OF)

    assert inserts_and_rows(data_dir) == before, "a caught-up restart inserted rows"
    assert reported_rows(again.stderr) == 0, again.stderr
    assert olap(data_dir, "SELECT max(position) FROM runner_tracking") == [[head]]


def test_a_restart_after_a_cycle_killed_before_its_tracking_row_writes_only_positions(
        followed: tuple[Path, int], tmp_path: Path) -> None:
    data_dir, head = copy_of(followed, tmp_path)
    # As if the follower had been killed after writing its data rows, before its position:
    # the restart folds the whole log again, in smaller cycles than the rows were written in.
    olap_command(data_dir, "TRUNCATE TABLE runner_tracking")
    live, before = snapshot(data_dir), inserts_and_rows(data_dir)

    dossier(data_dir, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF,
            "--batch", "400", "--catch-up", "400")

    after = inserts_and_rows(data_dir)
    assert {t: after[t] for t in before} == before, "rows were written again"
    assert snapshot(data_dir) == live | {"tracking": [["follower", head]]}


def record_new_events(data_dir: Path, head: int) -> tuple[str, int]:
    """Events after the followed ones: an open dossier synced, a new dossier submitted and
    received in its unit. Returns the open dossier's id and how many were recorded."""
    (open_id, procedure, unit), *_ = olap(
        data_dir, "SELECT dossier_id, procedure, unit FROM dossier_facts FINAL "
        "WHERE status = 'open' AND NOT synced ORDER BY dossier_id LIMIT 1")
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data_dir / "ledger.sqlite"),
                           clock=lambda: APPENDED_AT)
    try:
        ledger.record(step("synced", open_id, day=7, hour=10))
        ledger.record(submitted("restart-new", unit=unit, procedure=procedure,
                                at="2026-10-07T10:30:00"))
        ledger.record(step("received", "restart-new", day=7, hour=11))
        return str(open_id), ledger.max_position() - head
    finally:
        ledger.close()


def test_after_new_events_a_restart_writes_only_the_rows_that_changed(
        followed: tuple[Path, int], tmp_path: Path) -> None:
    data_dir, head = copy_of(followed, tmp_path)
    scores_before, facts_before = scores(data_dir), facts(data_dir)
    blocks_before = inserts_and_rows(data_dir)
    open_id, appended = record_new_events(data_dir, head)
    assert appended == 3
    began = datetime.now(UTC).isoformat()

    third = dossier(data_dir, "follow", "--once", "--as-of", WORKLOAD_AS_OF)

    assert olap(data_dir, f"SELECT count() FROM dossier_events WHERE position > {head}") \
        == [[appended]]
    facts_after = facts(data_dir)
    changed_facts = {d for d, row in facts_after.items() if row != facts_before.get(d)}
    assert changed_facts == {open_id, "restart-new"}
    new_positions = olap(data_dir, "SELECT dossier_id FROM dossier_facts "
                         f"WHERE position > {head} ORDER BY dossier_id")
    assert sorted(row[0] for row in new_positions) == sorted(changed_facts)

    scores_after = scores(data_dir)
    changed_scores = {k for k, row in scores_after.items() if row != scores_before.get(k)}
    assert changed_scores, "the new events changed no score"
    since = f"computed_at > parseDateTime64BestEffort('{began}', 6)"
    written = olap(data_dir, f"SELECT {SCORE_KEY} FROM rankings_current WHERE {since}")
    assert sorted(map(tuple, written)) == sorted(changed_scores), \
        "a score was written that did not change, or a changed one was not written"
    history = olap(data_dir, f"SELECT {SCORE_KEY}, count(), uniqExact(computed_at) "
                   f"FROM score_history WHERE {since} GROUP BY {SCORE_KEY}")
    moved = {k for k in changed_scores if score_moved(scores_before.get(k), scores_after[k])}
    assert moved, "the new events moved no score"
    assert {tuple(row[:4]) for row in history} == moved, \
        "a history row was written for a score whose rank alone moved, or none for one that moved"
    assert all(row[5] == 1 for row in history)
    history_rows = sum(row[4] for row in history)

    # everything the runner wrote is accounted for: no unchanged fact row was written again
    assert reported_rows(third.stderr) == (appended + len(changed_facts) + len(written)
                                           + history_rows), third.stderr
    blocks_after = inserts_and_rows(data_dir)
    assert all(blocks_after[t][0] > blocks_before[t][0] for t in blocks_before), \
        "every table takes the new rows"


def test_verify_accepts_a_history_row_older_than_its_rank_and_names_its_altered_score(
        followed: tuple[Path, int], tmp_path: Path) -> None:
    """A score whose rank alone moved keeps its latest history row from an earlier cycle:
    verify --scores accepts it, and still names what differs in it from the score."""
    data_dir, head = copy_of(followed, tmp_path)
    before = scores(data_dir)
    record_new_events(data_dir, head)
    dossier(data_dir, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF)
    after = scores(data_dir)
    rank_only = sorted(k for k, row in after.items()
                       if row != before.get(k) and not score_moved(before.get(k), row))
    assert rank_only, "no rank moved alone"
    assert "OK:" in dossier(data_dir, "verify", "--scores").stdout

    rulebook, _, period, unit = rank_only[0]
    olap_command(data_dir, f"""
        INSERT INTO score_history SELECT * REPLACE (total + 1.5 AS total)
        FROM score_history FINAL WHERE rulebook_id = '{rulebook}' AND unit = '{unit}'
          AND period = '{period}' AND position <= {head}
        ORDER BY position DESC, as_of DESC LIMIT 1""")
    bad = dossier(data_dir, "verify", "--scores", check=False)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert any(line.startswith("score_history ") and f"{rulebook} {unit} {period}" in line
               and ": total" in line for line in bad.stdout.splitlines()), bad.stdout


def score_moved(before: list[Any] | None, after: list[Any]) -> bool:
    """Whether a current score row (as :func:`scores` reads it) differs from the earlier one
    in more than its rank and times: only then is a ``score_history`` row written."""
    def score(row: list[Any]) -> tuple[Any, ...]:
        return row[0], row[1], json.loads(row[5])["groups"]
    return before is None or score(before) != score(after)


OPEN_STATUSES = {"submitted", "open", "open_late", "waiting_supplement",
                 "waiting_supplement_late"}


def test_a_restart_later_writes_what_time_changed_and_ends_as_a_replay_would(
        followed: tuple[Path, int], tmp_path: Path) -> None:
    data_dir, head = copy_of(followed, tmp_path)
    facts_before, scores_before = facts(data_dir), scores(data_dir, with_time=False)
    assert sum(row[13] == "open" for row in facts_before.values()) > 0

    dossier(data_dir, "follow", "--once", "--quiet", "--as-of", LATER)

    later = f"parseDateTime64BestEffort('{LATER}', 6)"
    rewritten = {row[0] for row in olap(
        data_dir, f"SELECT dossier_id FROM dossier_facts WHERE evaluated_at = {later}")}
    facts_after = facts(data_dir)
    changed = {d for d, row in facts_after.items() if row != facts_before[d]}
    assert changed, "no open dossier moved in a week (working days, deadlines)"
    # on another day, the rows of the open dossiers are written again (read back from the
    # table, they would cost a read of every dossier's row); closed ones are not
    still_open = {d for d, row in facts_before.items() if row[13] in OPEN_STATUSES}
    assert changed <= rewritten <= changed | still_open
    assert len(rewritten) < len(facts_after), "closed dossiers were written again"
    rescored = {tuple(row) for row in olap(
        data_dir, f"SELECT {SCORE_KEY} FROM rankings_current WHERE as_of = {later}")}
    scores_after = scores(data_dir, with_time=False)
    assert rescored == {k for k, row in scores_after.items() if row != scores_before[k]}
    assert 0 < len(rescored) < len(scores_after)
    assert "OK:" in dossier(data_dir, "verify", "--scores").stdout

    # the same content as a clean replay at that moment (rows that did not change keep the
    # moment they were evaluated at)
    dossier(data_dir, "replay", "--as-of", LATER)
    suffix = moment_suffix("asof", datetime.fromisoformat(LATER))
    rebuilt = facts(data_dir, suffix)
    assert rebuilt == facts_after
    rebuilt_scores = olap(data_dir, f"SELECT {SCORE_KEY}, total, band, rank, "
                          f"replaceRegexpOne(score_json, '{AS_OF_FIELD}', '') "
                          f"FROM rankings_current{suffix} FINAL")
    assert {tuple(row[:4]): [row[4], row[5], row[6], row[7]] for row in rebuilt_scores} == {
        key: [row[0], row[1], row[2], row[5]] for key, row in scores_after.items()}
    assert olap(data_dir, "SELECT max(position) FROM runner_tracking") == [[head]]
