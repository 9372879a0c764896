"""The generated dashboards: stable bytes, a round trip through the SDK's models, and the
structural checks from_json does not make (panel types, grid, data source, columns)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards.alerts import RULES, api_rules, provisioning_file
from dashboards.build import DASHBOARDS, all_files, dashboard_json
from dashboards.checks import dashboard_problems, unknown_columns
from dashboards.query import DATASOURCE_UID, Expansion, expand, register, variables_used

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "deploy" / "grafana" / "generated"


def dashboards() -> dict[str, dict[str, Any]]:
    return {name: dashboard_json(make) for name, make in DASHBOARDS}


def targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for p in dashboard["panels"] for t in p["targets"]]


def test_building_twice_gives_the_same_bytes() -> None:
    assert all_files() == all_files()


def test_the_committed_files_are_what_the_code_generates() -> None:
    committed = {str(p.relative_to(GENERATED)): p.read_bytes()
                 for p in GENERATED.rglob("*.json")}
    assert committed == all_files(), "run: dossier dashboards build"


@pytest.mark.parametrize("name", [name for name, _ in DASHBOARDS])
def test_a_dashboard_round_trips_through_the_sdk_models_unchanged(name: str) -> None:
    register()
    data = dashboards()[name]
    back = json.loads(json.dumps(Dashboard.from_json(data), cls=JSONEncoder))
    assert back == data


@pytest.mark.parametrize("name", [name for name, _ in DASHBOARDS])
def test_a_dashboard_passes_the_structural_checks(name: str) -> None:
    assert dashboard_problems(dashboards()[name]) == []


def test_uids_are_fixed_and_titles_vietnamese() -> None:
    found = {d["uid"]: d["title"] for d in dashboards().values()}
    assert found == {"dossier-national": "Xếp hạng toàn quốc", "dossier-province": "Tỉnh",
                     "dossier-audit": "Kiểm toán", "dossier-pipeline": "Vận hành"}


def test_the_checks_catch_what_from_json_lets_through() -> None:
    good = dashboards()["national"]
    cases = {
        "unknown panel type": lambda d: d["panels"][0].update(type="graph-old"),
        "outside the 24-column grid": lambda d: d["panels"][1]["gridPos"].update(x=20),
        "data source must be": lambda d: d["panels"][0]["targets"][0].pop("datasource"),
        "columns the schema lacks": lambda d: d["panels"][1]["targets"][0].update(
            rawSql="SELECT unit_name, totl FROM rankings_current WHERE period = '${period}'"),
        "no unit": lambda d: d["panels"][2]["fieldConfig"]["defaults"].pop("unit"),
        "neither time range nor period": lambda d: d["panels"][1]["targets"][0].update(
            rawSql="SELECT unit_name, total FROM rankings_current"),
        "panels overlap": lambda d: d["panels"][2]["gridPos"].update(y=0),
    }
    for expected, mutate in cases.items():
        broken = copy.deepcopy(good)
        mutate(broken)
        assert any(expected in p for p in dashboard_problems(broken)), expected


def test_column_check_sees_qualified_names_and_allows_aliases() -> None:
    assert unknown_columns("SELECT f.unit AS u, u FROM dossier_facts AS f "
                           "WHERE f.nope = 1") == {"nope"}
    assert unknown_columns("SELECT count() AS n FROM runner_cycles WHERE error != ''") == set()


def test_every_panel_queries_the_clickhouse_source_with_a_unit_and_a_description() -> None:
    for dashboard in dashboards().values():
        for panel in dashboard["panels"]:
            assert panel["description"] and panel["fieldConfig"]["defaults"]["unit"]
            assert panel["datasource"]["uid"] == DATASOURCE_UID
            assert all(t["datasource"]["uid"] == DATASOURCE_UID for t in panel["targets"])


def test_every_variable_a_query_uses_is_defined_on_its_dashboard() -> None:
    for dashboard in dashboards().values():
        defined = {v["name"] for v in dashboard.get("templating", {}).get("list", [])}
        for target in targets(dashboard):
            assert variables_used(target["rawSql"]) <= defined, target["rawSql"][:80]


def links_of(panel: dict[str, Any], column: str) -> list[str]:
    for override in panel["fieldConfig"].get("overrides", []):
        if override["matcher"]["options"] == column:
            for prop in override["properties"]:
                if prop["id"] == "links":
                    return [link["url"] for link in prop["value"]]
    return []


def test_score_cells_drill_down_and_codes_open_their_timeline() -> None:
    panels = {p["title"]: p for d in dashboards().values() for p in d["panels"]}
    ranking = panels["Xếp hạng 34 tỉnh, thành phố"]
    assert links_of(ranking, "total")[0].startswith(
        "/d/dossier-province/tinh?var-province=${__data.fields.unit}")
    for group in ("G1", "G2", "G3a", "G3b", "G4", "G5"):
        assert (f"var-indicator={group}" in links_of(ranking, group)[0]
                and "/d/dossier-audit/" in links_of(ranking, group)[0])
    assert "var-indicator=${__data.fields.indicator}" in links_of(
        panels["Điểm theo chỉ số"], "points")[0]
    assert links_of(panels["Hồ sơ sắp đến hạn và quá hạn"], "code")[0].startswith(
        "/d/dossier-audit/kiem-toan?var-code=${__data.fields.code}")


def test_macros_expand_as_the_clickhouse_plugin_expands_them() -> None:
    state = Expansion(1000, 2000, 60, {"province": "22"})
    assert expand("SELECT $__timeInterval(at) AS time FROM t WHERE $__timeFilter(at) "
                  "AND p = '${province}' AND x < $__toTime AND y > $__fromTime "
                  "AND n = $__interval_s", state) == (
        "SELECT toStartOfInterval(toDateTime(at), INTERVAL 60 second) AS time FROM t "
        "WHERE (at >= toDateTime(1000) AND at <= toDateTime(2000)) AND p = '22' "
        "AND x < toDateTime(2000) AND y > toDateTime(1000) AND n = 60")
    with pytest.raises(KeyError):
        expand("SELECT '${period}'", state)


def test_three_alert_rules_from_one_definition() -> None:
    assert [r.uid for r in RULES] == ["dossier-unit-overdue", "dossier-province-drop",
                                      "dossier-pipeline-lag"]
    provisioned = provisioning_file()["groups"][0]["rules"]
    assert [r["uid"] for r in provisioned] == [r["uid"] for r in api_rules()]
    for rule in provisioned:
        assert rule["condition"] == "C"
        assert rule["data"][0]["datasourceUid"] == DATASOURCE_UID
        assert unknown_columns(rule["data"][0]["model"]["rawSql"]) == set()
    lag = next(r for r in provisioned if r["uid"] == "dossier-pipeline-lag")
    assert lag["data"][1]["model"]["conditions"][0]["evaluator"] == {"type": "gt",
                                                                     "params": [60]}
