"""``dossier rank/score/explain`` start from the live runner's latest snapshot and fold only
the events after it; the answers equal a fold of the whole ledger (``--recompute``), now, as of
an earlier moment and as recorded then; a snapshot of another ledger is passed over."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from tests.conftest import WORKLOAD_AS_OF, WORKLOAD_START
from tests.integration import forgery
from tests.integration.test_clickhouse_live import ROOT, dossier, env_for, simulate

FULL_CLI = "import sys; from app.cli import cli; cli(sys.argv[1:], prog_name='dossier')"


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-c", FULL_CLI, *args], env=env_for(data_dir),
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def both(data_dir: Path, *args: str) -> tuple[object, object, str]:
    """(answer from the snapshot, answer from a whole fold, what the first said on stderr)."""
    fast = cli(data_dir, *args, "--json")
    slow = cli(data_dir, *args, "--json", "--recompute")
    return json.loads(fast.stdout), json.loads(slow.stdout), " ".join(fast.stderr.split())


def test_queries_from_the_runners_snapshot_equal_a_whole_fold(tmp_path: Path) -> None:
    head = simulate(tmp_path)
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF)
    simulate(tmp_path, days=1, start=WORKLOAD_START + timedelta(days=2, hours=1))
    later = WORKLOAD_START + timedelta(days=3, hours=6)
    earlier = (WORKLOAD_START + timedelta(days=1, hours=3)).isoformat()
    fast, slow, said = both(tmp_path, "rank", "--period", "2026-10", "--kind", "commune",
                            "--as-of", later.isoformat())
    assert fast == slow and fast
    assert f"tại vị trí {head:,}" in said, said
    fast, slow, _ = both(tmp_path, "score", "--unit", "22", "--period", "2026-10",
                         "--as-of", earlier)
    assert fast == slow
    fast, slow, _ = both(tmp_path, "explain", "--unit", "22", "--period", "2026-10",
                         "--indicator", "2.1", "--as-recorded", later.isoformat())
    assert fast == slow


def test_a_snapshot_of_another_ledger_is_passed_over(tmp_path: Path) -> None:
    simulate(tmp_path)
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF)
    # the log rewritten under the snapshot: same length, another history
    forgery.forge_sqlite(tmp_path / "ledger.sqlite", forgery.swapped(5))
    fast, slow, said = both(tmp_path, "rank", "--period", "2026-10", "--as-of",
                            WORKLOAD_AS_OF)
    assert "tại vị trí" not in said, said
    assert fast == slow
