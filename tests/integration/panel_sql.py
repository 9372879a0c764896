"""Run every panel's SQL of generated dashboards on a chDB directory (run as a script in its
own process: chDB allows one data directory per process).

``python panel_sql.py OLAP_DIR DASHBOARD_DIR STATE_JSON`` prints a JSON list with, per query,
the dashboard, panel, panel type, query format, the variables' values, columns and types of
the result, its row count, and the error if it failed. ``STATE_JSON`` maps a dashboard uid to
its time range (``start``, ``end`` in seconds, ``interval_s``) and fixed variable values; the
other query variables take the first value their own query returns."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from dashboards.query import Expansion, expand
from projections.clickhouse.writer import open_client


def variable_values(client: Any, dashboard: dict[str, Any], state: dict[str, Any]
                    ) -> dict[str, str]:
    values: dict[str, str] = dict(state.get("variables", {}))
    for variable in dashboard.get("templating", {}).get("list", []):
        name = variable["name"]
        if name in values:
            continue
        if variable["type"] == "query":
            sql = expand(variable["query"], Expansion(state["start"], state["end"],
                                                      state["interval_s"], values))
            rows = client.query(sql).result_rows
            values[name] = str(rows[0][0]) if rows else ""
        elif variable["type"] == "custom":
            values[name] = variable["current"]["value"]
        else:
            values[name] = variable.get("current", {}).get("value", "")
    return values


def query(client: Any, sql: str, expansion: Expansion) -> dict[str, Any]:
    """Columns and types (from DESCRIBE, so an empty result has them too) and row count."""
    try:
        expanded = expand(sql, expansion)
        described = client.query(f"DESCRIBE TABLE ({expanded})").result_rows
        rows = client.query(expanded).result_rows
    except Exception as error:  # reported per query, the test names it
        return {"error": str(error)[:2000]}
    return {"columns": [r[0] for r in described], "types": [r[1] for r in described],
            "rows": len(rows)}


def queries(directory: Path, states: dict[str, Any]
            ) -> list[tuple[dict[str, Any], str, dict[str, Any] | None]]:
    """(what, sql, dashboard) of every panel target and alert rule query under
    ``directory``."""
    found: list[tuple[dict[str, Any], str, dict[str, Any] | None]] = []
    for path in sorted((directory / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                found.append(({"dashboard": dashboard["uid"], "panel": panel["title"],
                               "type": panel["type"], "format": target["format"]},
                              target["rawSql"], dashboard))
    for path in sorted((directory / "alerting").glob("*.json")):
        for group in json.loads(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                for data in rule["data"]:
                    if "rawSql" in data["model"]:
                        found.append(({"dashboard": "alerts", "panel": rule["title"],
                                       "type": "alert", "format": data["model"]["format"]},
                                      data["model"]["rawSql"], None))
    return found


def run(olap: Path, directory: Path, states: dict[str, Any]) -> list[dict[str, Any]]:
    client = open_client(None, olap)
    results = []
    try:
        values_of: dict[str, dict[str, str]] = {}
        for what, sql, dashboard in queries(directory, states):
            state = states[what["dashboard"]]
            if dashboard is not None and dashboard["uid"] not in values_of:
                values_of[dashboard["uid"]] = variable_values(client, dashboard, state)
            values = values_of.get(what["dashboard"], state.get("variables", {}))
            expansion = Expansion(state["start"], state["end"], state["interval_s"], values)
            results.append(what | {"variables": values} | query(client, sql, expansion))
    finally:
        client.close()
    return results


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]), Path(sys.argv[2]),
                         json.loads(sys.argv[3])), ensure_ascii=False))
