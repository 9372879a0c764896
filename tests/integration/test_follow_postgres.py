"""The runner on the production ledger store: PostgreSQL in, chDB out, equal to a replay."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.simulator.runner import Simulation
from ledger.application import DossierLedger
from ledger.config import StoreConfig
from projections.clickhouse.moments import moment_suffix
from tests.conftest import WORKLOAD_AS_OF, WORKLOAD_START
from tests.integration.test_clickhouse_live import CLI, QUERY, ROOT

pytestmark = pytest.mark.postgres


def run(data_dir: Path, dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DOSSIER_DATA_DIR": str(data_dir), "DOSSIER_STORE": "postgres",
                        "DOSSIER_PG_DSN": dsn, "DOSSIER_PSEUDONYM_KEY": "test-key",
                        "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", CLI, *args], env=env, capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


def rows(data_dir: Path, sql: str) -> str:
    result = subprocess.run([sys.executable, "-c", QUERY, str(data_dir / "olap"), sql],
                            capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_follow_on_a_postgres_ledger_matches_a_replay(tmp_path: Path, pg_dsn: str) -> None:
    recorded_at = WORKLOAD_START + timedelta(days=2)
    ledger = DossierLedger(StoreConfig("postgres", pg_dsn=pg_dsn), clock=lambda: recorded_at)
    try:
        summary = Simulation(ledger, seed=3, days=1, scale=0.002, provinces=["22"],
                             start=WORKLOAD_START, clock=lambda: recorded_at).run()
        assert summary.events_rejected == 0, summary.errors[:3]
        head = ledger.max_position()
    finally:
        ledger.close()
    as_of = WORKLOAD_AS_OF
    run(tmp_path, pg_dsn, "follow", "--once", "--quiet", "--as-of", as_of)
    assert rows(tmp_path, "SELECT max(position) FROM runner_tracking").strip() == f"[[{head}]]"
    assert "OK:" in run(tmp_path, pg_dsn, "verify", "--scores").stdout
    query = ("SELECT * EXCEPT (position, computed_at) FROM rankings_current FINAL "
             "ORDER BY rulebook_id, kind, period, unit")
    facts = "SELECT * FROM dossier_facts FINAL ORDER BY dossier_id"
    live = rows(tmp_path, query), rows(tmp_path, facts)
    assert '"22"' in live[0]
    run(tmp_path, pg_dsn, "replay", "--as-of", as_of)  # every event had happened by then
    suffix = moment_suffix("asof", datetime.fromisoformat(as_of))
    rebuilt = (rows(tmp_path, query.replace("rankings_current", "rankings_current" + suffix)),
               rows(tmp_path, facts.replace("dossier_facts", "dossier_facts" + suffix)))
    assert rebuilt == live
