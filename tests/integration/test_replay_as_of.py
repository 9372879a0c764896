"""`dossier replay --as-of T` rebuilds the rows that the live runner showed at T."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.integration.test_clickhouse_live import dossier, olap, simulate, snapshot


def test_replay_as_of_equals_the_live_rows_captured_then(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    first_head = simulate(tmp_path, start=now - timedelta(days=3), days=2)
    time.sleep(0.05)
    captured_at = datetime.now(UTC).isoformat()
    # The live runner evaluates at T = captured_at (its clock fixed there for the test).
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", captured_at)
    live = snapshot(tmp_path)
    assert live["tracking"] == [["follower", first_head]]

    time.sleep(0.05)
    head = simulate(tmp_path, days=1)  # recorded after T: its events must not show
    assert head > first_head
    dossier(tmp_path, "follow", "--once", "--quiet")
    assert olap(tmp_path, "SELECT max(position) FROM runner_tracking") == [[head]]

    dossier(tmp_path, "replay", "--as-of", captured_at)
    assert snapshot(tmp_path) == live
    assert "OK:" in dossier(tmp_path, "verify", "--scores").stdout
    # a follower started after the replay continues from the replayed position
    dossier(tmp_path, "follow", "--once", "--quiet")
    assert olap(tmp_path, "SELECT max(position) FROM runner_tracking FINAL") == [[head]]
