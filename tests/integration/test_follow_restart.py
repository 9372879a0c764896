"""`dossier follow` killed (SIGKILL) at arbitrary moments and restarted ends with exactly the
rows a clean `dossier replay` produces."""

from __future__ import annotations

import queue
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

from projections.clickhouse.moments import moment_suffix
from streams.coldstore import COLD
from tests.conftest import WORKLOAD_AS_OF
from tests.integration.test_clickhouse_live import (
    CLI,
    ROOT,
    dossier,
    env_for,
    history_agrees_with_rankings,
    olap,
    simulate,
    snapshot,
)


def kill_after_cycles(data_dir: Path, cycles: int, *args: str) -> int:
    """Run a follower, SIGKILL it after it reported ``cycles`` written cycles (or once it is
    idle); return the last position it reported written."""
    follower = subprocess.Popen([sys.executable, "-c", CLI, "follow", *args],
                                env=env_for(data_dir), cwd=ROOT, text=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert follower.stderr is not None
        for line in follower.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen, last = 0, 0
    try:
        while seen < cycles:
            line = lines.get(timeout=60)  # idle (caught up) when nothing comes for a minute
            if line is None:
                break
            written = re.match(r"events (\d+)–(\d+):", line)
            if written:
                seen, last = seen + 1, int(written.group(2))
    except queue.Empty:
        pass
    finally:
        follower.send_signal(signal.SIGKILL)
        follower.wait()
    return last


def test_killed_follower_resumes_to_the_same_rows_as_a_clean_replay(tmp_path: Path) -> None:
    head = simulate(tmp_path, scale=0.003)
    # A fixed evaluation time makes the live rows and the replayed ones comparable.
    as_of = WORKLOAD_AS_OF
    rng = random.Random(7)
    tracked: list[int] = []
    while len(tracked) < 6:
        # Killed after a random number of written cycles (not after a fixed time: on a
        # loaded machine a follower may not have written anything in a few seconds).
        # Snapshots every 50 ms, written by forked children: a kill lands before,
        # during or after one, and a restart resumes from the latest whole one.
        killed_at = kill_after_cycles(tmp_path, rng.randint(4, 30), "--as-of", as_of,
                                      "--batch", "10", "--catch-up", "10",
                                      "--snapshot-every", "0.05", "--keep-ended", "0")
        # (a follower killed before it created its tables has tracked nothing yet)
        made = olap(tmp_path, "SELECT count() FROM system.tables "
                    "WHERE database = currentDatabase() AND name = 'runner_tracking'")
        rows = olap(tmp_path, "SELECT max(position) FROM runner_tracking") \
            if made[0][0] else [[0]]
        tracked.append(rows[0][0] or 0 if rows else 0)
        assert tracked[-1] >= killed_at, "a cycle reported written was not tracked"
        if tracked[-1] >= head:
            break
    print(f"\ntracking position after each kill: {tracked} (head {head})")
    assert tracked == sorted(tracked)
    assert sum(0 < p < head for p in tracked) >= 3, "too few kills landed mid-run"
    assert list((tmp_path / "runner-state").glob("state-*.snapshot")), "no snapshot written"
    last = dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", as_of,
                   "--keep-ended", "0")
    assert "from the snapshot at" in " ".join(last.stderr.split()), last.stderr
    cold = sqlite3.connect(tmp_path / "runner-state" / COLD)
    (taken,) = cold.execute("SELECT count(DISTINCT id) FROM dossiers").fetchone()
    cold.close()
    assert taken > 0, "no dossier was taken out of memory"
    live = snapshot(tmp_path)
    assert live["tracking"] == [["follower", head]]
    history_agrees_with_rankings(tmp_path)
    assert "OK:" in dossier(tmp_path, "verify", "--scores").stdout

    dossier(tmp_path, "replay", "--as-of", as_of)  # every event had happened by then
    rebuilt = snapshot(tmp_path, moment_suffix("asof", datetime.fromisoformat(as_of)))
    for table in live:
        assert live[table] == rebuilt[table], table
    assert olap(tmp_path, "SELECT count() FROM system.tables WHERE name LIKE '%__rebuild'") \
        == [[0]]
