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


def run(olap: Path, directory: Path, states: dict[str, Any]) -> list[dict[str, Any]]:
    client = open_client(None, olap)
    results = []
    try:
        for path in sorted(directory.glob("*.json")):
            dashboard = json.loads(path.read_text(encoding="utf-8"))
            state = states[dashboard["uid"]]
            values = variable_values(client, dashboard, state)
            expansion = Expansion(state["start"], state["end"], state["interval_s"], values)
            for panel in dashboard["panels"]:
                for target in panel.get("targets", []):
                    result: dict[str, Any] = {
                        "dashboard": dashboard["uid"], "panel": panel["title"],
                        "type": panel["type"], "format": target["format"],
                        "variables": values}
                    try:
                        answer = client.query(expand(target["rawSql"], expansion))
                        result |= {"columns": list(answer.column_names),
                                   "types": [t.name for t in answer.column_types],
                                   "rows": len(answer.result_rows)}
                    except Exception as error:  # reported per panel, the test names it
                        result["error"] = str(error)[:2000]
                    results.append(result)
    finally:
        client.close()
    return results


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]), Path(sys.argv[2]),
                         json.loads(sys.argv[3])), ensure_ascii=False))
