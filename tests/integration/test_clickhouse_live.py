"""ClickHouse rows on chDB after a simulated workload equal scores recomputed from the ledger.

chDB allows one data directory per process, so everything that opens chDB runs in a
subprocess (the ``dossier`` commands, or a short ``python -c`` query) with its own data dir.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from app.simulator.runner import Simulation
from ledger.application import DossierLedger
from ledger.config import StoreConfig
from projections.clickhouse.schema import DEPLOYED, INDICATOR_HISTORY, indicator_view_ddl
from tests.conftest import WORKLOAD_AS_OF, WORKLOAD_START

ROOT = Path(__file__).resolve().parents[2]
# The live commands on their own Typer app (independent of what app/cli.py registers).
CLI = ("import sys, typer; from app.commands import ledger_cmds, live_cmds; "
       "app = typer.Typer(pretty_exceptions_enable=False); ledger_cmds.register(app); "
       "live_cmds.register(app); app(sys.argv[1:], prog_name='dossier')")
QUERY = ("import json, sys; from projections.clickhouse.writer import open_client; "
         "from pathlib import Path; c = open_client(None, Path(sys.argv[1])); "
         "r = c.query(sys.argv[2]).result_rows; c.close(); "
         "print(json.dumps([list(x) for x in r], default=str))")
COMMAND = ("import sys; from projections.clickhouse.writer import open_client; "
           "from pathlib import Path; c = open_client(None, Path(sys.argv[1])); "
           "c.command(sys.argv[2]); c.close()")


def env_for(data_dir: Path) -> dict[str, str]:
    return os.environ | {"DOSSIER_DATA_DIR": str(data_dir), "DOSSIER_STORE": "sqlite",
                         "DOSSIER_PSEUDONYM_KEY": "test-key", "PYTHONPATH": str(ROOT)}


def dossier(data_dir: Path, *args: str, check: bool = True,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a ``dossier`` command on ``data_dir`` in a subprocess."""
    result = subprocess.run([sys.executable, "-c", CLI, *args], env=env_for(data_dir),
                            capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if check and result.returncode != 0:
        raise AssertionError(f"dossier {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def spawn_follow(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CLI, "follow", "--quiet", *args],
                            env=env_for(data_dir), cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def olap(data_dir: Path, sql: str) -> list[list[Any]]:
    """Rows of a query on the chDB directory of ``data_dir`` (in a subprocess)."""
    result = subprocess.run([sys.executable, "-c", QUERY, str(data_dir / "olap"), sql],
                            capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env=env_for(data_dir))
    assert result.returncode == 0, result.stderr
    rows: list[list[Any]] = json.loads(result.stdout)
    return rows


def olap_command(data_dir: Path, sql: str) -> None:
    result = subprocess.run([sys.executable, "-c", COMMAND, str(data_dir / "olap"), sql],
                            capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env=env_for(data_dir))
    assert result.returncode == 0, result.stderr


def simulate(data_dir: Path, *, days: float = 2, start: datetime = WORKLOAD_START,
             scale: float = 0.002, recorded_at: datetime | None = None) -> int:
    """A small realistic workload in the SQLite ledger under ``data_dir``; returns the head.

    Nothing reads the real clock: the workload starts at a fixed moment and the ledger
    records it at ``recorded_at`` (default: a day after the workload's end)."""
    clock_at = recorded_at or start + timedelta(days=days + 1)
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data_dir / "ledger.sqlite"),
                           clock=lambda: clock_at)
    try:
        summary = Simulation(ledger, seed=0, days=days, start=start, scale=scale,
                             provinces=["22", "01"], clock=lambda: clock_at).run()
        assert summary.events_rejected == 0, summary.errors[:3]
        return ledger.max_position()
    finally:
        ledger.close()


def snapshot(data_dir: Path, suffix: str = "") -> dict[str, list[list[Any]]]:
    """The tables (or those of ``suffix``) as FINAL shows them, minus what legitimately
    differs between a live run and a rebuild (when a score was computed, and at which
    position an unchanged score was last written); score history is compared through its
    latest row per key instead."""
    return {
        "events": olap(data_dir, f"SELECT * FROM dossier_events{suffix} FINAL "
                       "ORDER BY position"),
        "facts": olap(data_dir, f"SELECT * FROM dossier_facts{suffix} FINAL "
                      "ORDER BY dossier_id"),
        "rankings": olap(data_dir, "SELECT * EXCEPT (position, computed_at) "
                         f"FROM rankings_current{suffix} FINAL "
                         "ORDER BY rulebook_id, kind, period, unit"),
        "tracking": olap(data_dir, "SELECT runner, position FROM "
                         f"runner_tracking{suffix} FINAL"),
    }


def history_agrees_with_rankings(data_dir: Path) -> None:
    rows = olap(data_dir, """
        SELECT r.rulebook_id, r.unit, r.period, r.total, h.total
        FROM rankings_current AS r FINAL
        LEFT JOIN (SELECT rulebook_id, unit, period,
                          argMax(total, (position, as_of, computed_at)) AS total
                   FROM score_history GROUP BY rulebook_id, unit, period) AS h
          ON h.rulebook_id = r.rulebook_id AND h.unit = r.unit AND h.period = r.period
        WHERE abs(r.total - h.total) > 1e-9""")
    assert rows == []


def test_verify_scores_passes_after_a_workload_and_names_an_altered_row(
        tmp_path: Path) -> None:
    head = simulate(tmp_path)
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF)
    assert olap(tmp_path, "SELECT max(position) FROM runner_tracking") == [[head]]
    assert olap(tmp_path, "SELECT count() FROM dossier_events FINAL") == [[head]]
    # personal references never reach ClickHouse in clear
    assert olap(tmp_path, "SELECT count() FROM dossier_events "
                "WHERE type = 'dossier.submitted' AND length(JSONExtractString(data, "
                "'applicant_ref')) != 64") == [[0]]
    facts = olap(tmp_path, "SELECT count() FROM dossier_facts FINAL")[0][0]
    assert facts > 0
    ok = dossier(tmp_path, "verify", "--scores")
    assert "OK:" in ok.stdout
    history_agrees_with_rankings(tmp_path)

    # One current row altered (same key, same version: the later insert wins under FINAL).
    olap_command(tmp_path, """
        INSERT INTO rankings_current
        SELECT * REPLACE (total + 1.5 AS total,
            replaceRegexpOne(score_json, '"total":[0-9.e-]+', concat('"total":',
                toString(total + 1.5))) AS score_json)
        FROM rankings_current FINAL WHERE kind = 'province' AND unit = '22'
          AND rulebook_id = 'vn-766' AND period = (SELECT max(period) FROM rankings_current
                                                     WHERE length(period) = 7)""")
    bad = dossier(tmp_path, "verify", "--scores", check=False)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "vn-766 province 22" in bad.stdout and "total stored" in bad.stdout


def test_a_held_chdb_directory_is_named_in_the_error(tmp_path: Path) -> None:
    simulate(tmp_path, scale=0.001)
    follower = spawn_follow(tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "olap" / "status").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        result = dossier(tmp_path, "verify", "--scores", check=False)
    finally:
        follower.kill()
        follower.wait()
    assert result.returncode == 2
    assert str((tmp_path / "olap").resolve()) in " ".join(result.stderr.split())
    assert "in use by another process" in " ".join(result.stderr.split())


def test_deploy_ddl_matches_the_schema_module() -> None:
    files = sorted((ROOT / "deploy" / "clickhouse").glob("*.sql"))
    assert [f.name.split("_", 1)[1][:-4] for f in files] == [
        *(t.name for t in DEPLOYED), INDICATOR_HISTORY]
    for path, table in zip(files, DEPLOYED, strict=False):
        assert table.ddl() in path.read_text(encoding="utf-8")
    assert indicator_view_ddl() in files[-1].read_text(encoding="utf-8")
