"""``dossier verify --scores`` names every altered column of every table it checks: the table,
the row's key and the column, whatever column of whatever current row is altered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import WORKLOAD_AS_OF
from tests.integration.test_clickhouse_live import ROOT, dossier, env_for, simulate

SEED = int(os.environ.get("DOSSIER_TEST_SEED", "766"))


def alter_rows(data_dir: Path, seed: int) -> list[dict[str, Any]]:
    """Rounds of alterations and what the check named after each (in a subprocess: chDB
    allows one directory per process)."""
    result = subprocess.run([sys.executable, "-m", "tests.integration.alterations",
                             str(data_dir), str(seed)], env=env_for(data_dir),
                            capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    rounds: list[dict[str, Any]] = json.loads(result.stdout)
    return rounds


def named(alteration: dict[str, Any], differences: list[list[str]]) -> bool:
    return any(table == alteration["table"] and alteration["key"] in key
               and (column == alteration["column"]
                    or column.startswith(alteration["column"] + ".")
                    or column.startswith(alteration["column"] + "["))
               for table, key, column, _ in differences)


def test_each_altered_column_of_a_current_row_is_named_by_table_key_and_column(
        tmp_path: Path) -> None:
    simulate(tmp_path)
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF)
    assert "OK:" in dossier(tmp_path, "verify", "--scores").stdout

    print(f"\nalterations seeded with {SEED} (DOSSIER_TEST_SEED)")
    rounds = alter_rows(tmp_path, SEED)
    made = [alteration for r in rounds for alteration in r["made"]]
    assert {a["table"] for a in made} == {"rankings_current", "score_history",
                                          "dossier_facts", "dossier_events"}
    assert len(made) >= 80  # every column of the four tables, and leaves of score_json
    for number, r in enumerate(rounds, start=1):
        for alteration in r["made"]:
            assert named(alteration, r["named"]), (
                f"round {number}: {alteration} not named among:\n"
                + "\n".join(d[3] for d in r["named"]))

    # The command prints them all, and fails.
    result = dossier(tmp_path, "verify", "--scores", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for alteration in made:
        table, key, column = alteration["table"], alteration["key"], alteration["column"]
        assert any(line.startswith(f"{table} ") and key in line and f": {column}" in line
                   for line in lines), f"{alteration} not in the output"
