"""Rebuilds as of a moment go into tables of their own; only a full replay replaces the live
tables. ``--as-recorded T`` reproduces exactly what the live runner showed at T."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.conftest import WORKLOAD_AS_OF, WORKLOAD_START
from tests.integration.test_clickhouse_live import dossier, olap, simulate, snapshot

FIRST_RECORDED = WORKLOAD_START + timedelta(days=3)  # the first workload is recorded then
SHOWN_AT = (WORKLOAD_START + timedelta(days=4)).isoformat()  # what the runner showed then
SECOND_RECORDED = WORKLOAD_START + timedelta(days=5)


def moment_tables(data_dir: Path) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(
        dossier(data_dir, "replay", "--list", "--json").stdout)
    return listed


def test_replay_as_recorded_equals_the_live_rows_shown_then_and_leaves_live_tables(
        tmp_path: Path) -> None:
    first_head = simulate(tmp_path, days=2, recorded_at=FIRST_RECORDED)
    # The live runner evaluates at SHOWN_AT (its clock fixed there for the test).
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", SHOWN_AT)
    shown = snapshot(tmp_path)
    assert shown["tracking"] == [["follower", first_head]]

    head = simulate(tmp_path, days=1, recorded_at=SECOND_RECORDED)  # recorded after SHOWN_AT
    assert head > first_head
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF)
    live = snapshot(tmp_path)
    assert live != shown

    out = dossier(tmp_path, "replay", "--as-recorded", SHOWN_AT)
    assert "--as-recorded" in out.stderr
    assert snapshot(tmp_path) == live, "an as-recorded rebuild must not touch the live tables"
    (listed,) = moment_tables(tmp_path)
    assert listed["option"] == "--as-recorded" and listed["position"] == first_head
    assert snapshot(tmp_path, listed["suffix"]) == shown
    assert "OK:" in dossier(tmp_path, "verify", "--scores").stdout

    # the live runner carries on from its own position, not the rebuilt one
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF)
    assert olap(tmp_path, "SELECT max(position) FROM runner_tracking FINAL") == [[head]]

    dossier(tmp_path, "replay", "--remove", "--as-recorded", SHOWN_AT)
    assert moment_tables(tmp_path) == []


def test_replay_as_of_counts_what_had_happened_by_then_in_tables_of_its_own(
        tmp_path: Path) -> None:
    head = simulate(tmp_path, days=2)
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF)
    live = snapshot(tmp_path)
    midway = (WORKLOAD_START + timedelta(days=1)).isoformat()
    happened = olap(tmp_path, "SELECT count() FROM dossier_events FINAL "
                    f"WHERE at <= parseDateTime64BestEffort('{midway}', 6)")[0][0]
    assert 0 < happened < head

    dossier(tmp_path, "replay", "--as-of", midway)
    assert snapshot(tmp_path) == live
    (listed,) = moment_tables(tmp_path)
    assert listed["option"] == "--as-of"
    suffix = listed["suffix"]
    assert olap(tmp_path, f"SELECT count() FROM dossier_events{suffix} FINAL") == [[happened]]

    ranked = json.loads(dossier(tmp_path, "live-rank", "-p", "2026-10", "--as-of", midway,
                                "--json").stdout)
    assert len(ranked) == 34
    assert all(row["as_of"] == midway for row in ranked)
    missing = dossier(tmp_path, "live-rank", "-p", "2026-10", "--as-of", "2026-10-06",
                      check=False)
    assert missing.returncode == 2 and "replay --as-of" in missing.stderr

    # A full replay still replaces the live tables, and leaves the as-of ones.
    dossier(tmp_path, "replay")
    assert snapshot(tmp_path)["tracking"] == [["follower", head]]
    assert len(moment_tables(tmp_path)) == 1
