"""Structural checks of generated dashboards that the SDK's ``from_json`` does not make:
panel types, the grid, data sources, descriptions and units, and that every query names
only columns the ClickHouse schema has."""

from __future__ import annotations

import re
from typing import Any

from dashboards.query import DATASOURCE_UID, PLUGIN
from projections.clickhouse import schema

PANEL_TYPES = frozenset({"table", "timeseries", "stat", "barchart", "bargauge", "gauge",
                         "text", "row"})
GRID_WIDTH = 24

_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|`[^`]*`")
_MACROS = re.compile(r"\$\{[^}]*\}|\$\w+")
_ALIASES = re.compile(r"\bAS\s+(\w+)")
_LAMBDA = re.compile(r"\b(\w+)\s*->")
_QUALIFIED = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)")
_WORD = re.compile(r"\b([A-Za-z_]\w*)\b(\s*\()?")
READABLE: dict[str, list[str]] = {
    **{t.name: t.column_names for t in schema.SCHEMA_BY_NAME.values()},
    schema.INDICATOR_HISTORY: [name for name, _ in schema.INDICATOR_HISTORY_COLUMNS],
}
"""What the dashboards may read: every table, and the view of one row per indicator."""
# Lower-case words that are SQL, not names (the queries write keywords in capitals).
_SQL_WORDS = frozenset({"second", "minute", "hour", "day"})


def unknown_columns(sql: str) -> set[str]:
    """Names in ``sql`` that are neither a column of a table it reads, an alias it defines,
    a lambda parameter, a function nor a keyword (keywords are written in capitals)."""
    text = _MACROS.sub(" ", _STRINGS.sub("''", sql))
    tables = [name for name in READABLE if re.search(rf"\b{name}\b", text)]
    known = {column for name in tables for column in READABLE[name]} | set(tables)
    known |= set(_ALIASES.findall(text)) | set(_LAMBDA.findall(text)) | _SQL_WORDS
    missing = {column for _, column in _QUALIFIED.findall(text) if column not in known}
    text = _QUALIFIED.sub(r" \2", text)
    for word, call in _WORD.findall(text):
        if call or word.isupper() or word[0].isdigit() or word in known:
            continue
        missing.add(word)
    return missing


def _overlaps(a: dict[str, int], b: dict[str, int]) -> bool:
    return (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
            and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])


def panel_problems(panel: dict[str, Any]) -> list[str]:
    where = f"panel {panel.get('id')} ({panel.get('title', '?')})"
    problems = []
    if panel.get("type") not in PANEL_TYPES:
        problems.append(f"{where}: unknown panel type {panel.get('type')!r}")
    grid = panel.get("gridPos") or {}
    if not all(isinstance(grid.get(k), int) for k in ("x", "y", "w", "h")):
        problems.append(f"{where}: gridPos incomplete: {grid}")
    elif (grid["x"] < 0 or grid["y"] < 0 or grid["w"] < 1 or grid["h"] < 1
          or grid["x"] + grid["w"] > GRID_WIDTH):
        problems.append(f"{where}: gridPos outside the 24-column grid: {grid}")
    if not panel.get("title") or not panel.get("description"):
        problems.append(f"{where}: a title and a description are required")
    if not (panel.get("fieldConfig") or {}).get("defaults", {}).get("unit"):
        problems.append(f"{where}: no unit")
    sources = [panel.get("datasource") or {}] + [
        t.get("datasource") or {} for t in panel.get("targets", [])]
    if any(s.get("uid") != DATASOURCE_UID or s.get("type") != PLUGIN for s in sources):
        problems.append(f"{where}: data source must be {PLUGIN} uid {DATASOURCE_UID}")
    if not panel.get("targets"):
        problems.append(f"{where}: no query")
    for target in panel.get("targets", []):
        sql = target.get("rawSql", "")
        if "$__timeFilter" not in sql and "$__toTime" not in sql and "${period}" not in sql:
            problems.append(f"{where}: query filtered by neither time range nor period")
        if unknown := unknown_columns(sql):
            problems.append(f"{where}: query names columns the schema lacks: "
                            f"{sorted(unknown)}")
    return problems


def dashboard_problems(dashboard: dict[str, Any]) -> list[str]:
    """Everything wrong with one dashboard's JSON (empty: fine)."""
    problems = []
    if not dashboard.get("uid") or len(dashboard["uid"]) > 40:
        problems.append("a fixed uid of at most 40 characters is required")
    panels = dashboard.get("panels", [])
    ids = [p.get("id") for p in panels]
    if len(set(ids)) != len(ids):
        problems.append(f"panel ids repeat: {ids}")
    for panel in panels:
        problems.extend(panel_problems(panel))
    grids = [p.get("gridPos") for p in panels if isinstance(p.get("gridPos"), dict)]
    for i, a in enumerate(grids):
        for b in grids[i + 1:]:
            if all(isinstance(a.get(k), int) and isinstance(b.get(k), int)
                   for k in "xywh") and _overlaps(a, b):
                problems.append(f"panels overlap: {a} and {b}")
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query" and (
                (variable.get("datasource") or {}).get("uid") != DATASOURCE_UID):
            problems.append(f"variable {variable.get('name')}: data source missing")
    return problems
