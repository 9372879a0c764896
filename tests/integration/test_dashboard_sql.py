"""Every panel's SQL (and every alert rule's), with the Grafana macros and template variables
expanded for a concrete range, runs on chDB against a simulated workload and returns the
columns and types its panel's format expects, and rows where the workload makes some.

The queries are enumerated from the generated JSON: a new panel is checked with no new test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

import pytest

from dashboards.build import write
from tests.conftest import WORKLOAD_AS_OF, WORKLOAD_START
from tests.integration.test_clickhouse_live import ROOT, dossier, env_for, olap, simulate

pytestmark = pytest.mark.slow

NUMERIC = re.compile(r"^(Nullable\()?(U?Int\d+|Float\d+|Decimal.*)\)?$")
TIME = re.compile(r"^(Nullable\()?DateTime(64)?(\(.*\))?\)?$")
# Panels whose rows the workload does not make: the runner raised no error.
MAY_BE_EMPTY = {"Lỗi"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    data = tmp_path_factory.mktemp("dashboards")
    simulate(data, days=2)
    dossier(data, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF)
    generated = data / "grafana"
    write(generated)
    code = olap(data, "SELECT code FROM dossier_facts FINAL WHERE province = '22' "
                "AND received_at IS NOT NULL ORDER BY code LIMIT 1")[0][0]
    start = int((WORKLOAD_START - timedelta(days=4)).timestamp())
    end = int(datetime.fromisoformat(WORKLOAD_AS_OF).timestamp())
    # The runner's cycles carry wall-clock times: their range is read from the table.
    first, last = olap(data, "SELECT toUnixTimestamp(min(started_at)), "
                       "toUnixTimestamp(max(started_at)) FROM runner_cycles")[0]
    scored = {"start": start, "end": end, "interval_s": 3600}
    states = {
        "dossier-national": scored,
        "dossier-province": scored | {"variables": {"province": "22"}},
        "dossier-audit": scored | {"variables": {"code": code, "unit": "22"}},
        "dossier-pipeline": {"start": min(start, int(first)) - 60, "end": int(last) + 60,
                             "interval_s": 60},
        "alerts": {"start": start, "end": end, "interval_s": 60},
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "integration" / "panel_sql.py"),
         str(data / "olap"), str(generated), json.dumps(states)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=env_for(data))
    assert result.returncode == 0, result.stderr
    answers: list[dict[str, Any]] = json.loads(result.stdout)
    return answers


def label(result: dict[str, Any]) -> str:
    return f"{result['dashboard']} / {result['panel']}"


def test_every_query_runs_on_chdb(results: list[dict[str, Any]]) -> None:
    failed = {label(r): r["error"] for r in results if "error" in r}
    assert failed == {}
    dashboards = {r["dashboard"] for r in results}
    assert dashboards == {"dossier-national", "dossier-province", "dossier-audit",
                          "dossier-pipeline", "alerts"}


def test_time_series_panels_return_a_time_column_and_numbers(
        results: list[dict[str, Any]]) -> None:
    for r in results:
        if r["type"] == "timeseries":
            assert r["format"] == 0, label(r)
            assert r["columns"][0] == "time" and TIME.match(r["types"][0]), label(r)
            assert any(NUMERIC.match(t) for t in r["types"][1:]), label(r)


def test_stat_panels_and_alerts_return_numbers(results: list[dict[str, Any]]) -> None:
    for r in results:
        if r["type"] == "stat":
            assert all(NUMERIC.match(t) for t in r["types"]), (label(r), r["types"])
        if r["type"] == "alert":  # labels are strings, the value is the last column
            assert NUMERIC.match(r["types"][-1]), (label(r), r["types"])
            assert all(t.startswith(("String", "LowCardinality")) for t in r["types"][:-1])


def test_bar_charts_name_each_bar(results: list[dict[str, Any]]) -> None:
    for r in results:
        if r["type"] == "barchart":
            assert r["types"][0] == "String", label(r)
            assert all(NUMERIC.match(t) for t in r["types"][1:]), label(r)


def test_panels_show_rows_where_the_workload_made_them(results: list[dict[str, Any]]) -> None:
    empty = {label(r) for r in results
             if r["type"] != "alert" and r["rows"] == 0 and r["panel"] not in MAY_BE_EMPTY}
    assert empty == set()


def test_the_national_ranking_lists_the_34_provinces_with_their_groups(
        results: list[dict[str, Any]]) -> None:
    ranking = next(r for r in results if r["panel"] == "Xếp hạng 34 tỉnh, thành phố")
    assert ranking["rows"] == 34
    assert ranking["columns"] == ["rank", "unit", "name", "total", "band", "G1", "G2",
                                  "G3a", "G3b", "G4", "G5", "change_period", "change_day"]


def test_the_audit_timeline_shows_the_chain_of_the_dossier(
        results: list[dict[str, Any]]) -> None:
    timeline = next(r for r in results if r["panel"] == "Dòng thời gian hồ sơ")
    assert timeline["rows"] >= 2
    assert {"position", "type", "at", "recorded_at", "prev_hash", "hash"} <= set(
        timeline["columns"])
