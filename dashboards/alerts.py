"""Grafana alert rules as code: overdue dossiers per unit, a province's fall within a day,
and pipeline lag. One definition gives the provisioning file and the HTTP API payloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboards.pipeline import LAG_SECONDS
from dashboards.query import DATASOURCE_UID, FORMAT_TABLE, ClickHouseQuery
from projections.clickhouse import schema

FOLDER_UID = "dossier-ledger"
FOLDER_TITLE = "Sổ cái hồ sơ (dossier ledger)"
GROUP = "dossier-service-quality"
INTERVAL_SECONDS = 60

OVERDUE_OPEN_DOSSIERS = 20
"""A unit alerts when more of its open dossiers than this are past their due date."""
TOTAL_DROP_POINTS = 5.0
"""A province alerts when its total falls by more than this within 24 hours."""
PIPELINE_LAG_SECONDS = 60
"""The pipeline alerts when the runner has not caught up with the ledger for this long."""


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One rule: a ClickHouse query returning one numeric value per series (labelled by its
    string columns), alerting when the value exceeds ``threshold`` for ``pending``."""

    uid: str
    title: str
    sql: str
    threshold: float
    window_seconds: int
    pending: str
    summary: str
    description: str
    severity: str
    no_data: str = "OK"
    """State when the query returns no row (the pipeline's: a runner that stopped writing)."""


RULES = (
    AlertRule(
        "dossier-unit-overdue", "Đơn vị có nhiều hồ sơ quá hạn",
        f"SELECT unit, province, countIf(due_at < $__toTime) AS overdue "
        f"FROM {schema.DOSSIER_FACTS} FINAL "
        "WHERE status IN ('open', 'open_late') AND received_at <= $__toTime "
        "GROUP BY unit, province",
        OVERDUE_OPEN_DOSSIERS, 3600, "15m",
        "Unit {{ $labels.unit }} has {{ $values.A }} open dossiers past their due date",
        f"More than {OVERDUE_OPEN_DOSSIERS} open dossiers of one unit are overdue.",
        "warning"),
    AlertRule(
        "dossier-province-drop", "Tổng điểm tỉnh giảm mạnh trong ngày",
        f"""SELECT unit, period,
       argMaxIf(total, (evaluated_at, position), evaluated_at <= $__toTime - INTERVAL 1 DAY)
       - argMax(total, (evaluated_at, position)) AS drop
FROM {schema.SCORE_HISTORY}
WHERE rulebook_id = 'vn-766' AND kind = 'province' AND length(period) = 7
  AND evaluated_at >= $__toTime - INTERVAL 2 DAY AND evaluated_at <= $__toTime
GROUP BY unit, period
HAVING countIf(evaluated_at <= $__toTime - INTERVAL 1 DAY) > 0""",
        TOTAL_DROP_POINTS, 2 * 86400, "0s",
        "Province {{ $labels.unit }} fell {{ $values.A }} points within a day",
        f"A province's monthly total fell by more than {TOTAL_DROP_POINTS:g} points within "
        "24 hours.", "warning"),
    AlertRule(
        "dossier-pipeline-lag", "Độ trễ pipeline quá 60 giây",
        f"SELECT runner, {LAG_SECONDS} AS lag_seconds FROM {schema.CYCLES} "
        "WHERE $__timeFilter(started_at) GROUP BY runner",
        PIPELINE_LAG_SECONDS, 3600, "1m",
        "Runner {{ $labels.runner }} is {{ $values.A }} s behind the ledger",
        f"The tables have not caught up with the ledger for more than "
        f"{PIPELINE_LAG_SECONDS} s.", "critical", no_data="Alerting"),
)


def _data(rule: AlertRule) -> list[dict[str, Any]]:
    query = ClickHouseQuery("A", rule.sql, FORMAT_TABLE).to_json()
    return [
        {"refId": "A", "relativeTimeRange": {"from": rule.window_seconds, "to": 0},
         "datasourceUid": DATASOURCE_UID, "model": query},
        {"refId": "C", "relativeTimeRange": {"from": 0, "to": 0},
         "datasourceUid": "__expr__",
         "model": {"refId": "C", "type": "threshold", "expression": "A",
                   "datasource": {"type": "__expr__", "uid": "__expr__"},
                   "conditions": [{"evaluator": {"type": "gt",
                                                 "params": [rule.threshold]}}]}},
    ]


def _common(rule: AlertRule) -> dict[str, Any]:
    return {"uid": rule.uid, "title": rule.title, "condition": "C", "data": _data(rule),
            "noDataState": rule.no_data, "execErrState": "Error", "for": rule.pending,
            "annotations": {"summary": rule.summary, "description": rule.description,
                            "__dashboardUid__": "dossier-pipeline"
                            if rule.uid == "dossier-pipeline-lag" else "dossier-province"},
            "labels": {"severity": rule.severity, "project": "dossier-ledger"},
            "isPaused": False}


def provisioning_file() -> dict[str, Any]:
    """The file Grafana provisions alert rules from (provisioning/alerting/)."""
    return {"apiVersion": 1, "groups": [{
        "orgId": 1, "name": GROUP, "folder": FOLDER_TITLE,
        "interval": f"{INTERVAL_SECONDS}s", "rules": [_common(rule) for rule in RULES]}]}


def api_rules() -> list[dict[str, Any]]:
    """The rules as the provisioning HTTP API takes them (/api/v1/provisioning/alert-rules)."""
    return [_common(rule) | {"folderUID": FOLDER_UID, "ruleGroup": GROUP, "orgID": 1}
            for rule in RULES]
