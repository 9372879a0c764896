"""Kiểm toán: one dossier's timeline by its code, and one unit's score history."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as build

from dashboards import variables as var
from dashboards.panels import PanelBuilder, column, table_panel, time_series_panel
from projections.clickhouse import schema

EVENTS, FACTS = schema.EVENTS, schema.DOSSIER_FACTS
HISTORY = schema.INDICATOR_HISTORY  # one row per indicator, latest version of each (FINAL)
THE_DOSSIER = (f"(SELECT dossier_id FROM {FACTS} FINAL "
               "WHERE code = '${code}' OR dossier_id = '${code}')")
SELECTED = "(indicator = '${indicator}' OR group_code = '${indicator}')"
THE_SCORE = ("rulebook_id = '${rulebook}' AND unit = '${unit}' AND period = '${period}' "
             "AND $__timeFilter(evaluated_at)")


def timeline() -> PanelBuilder:
    return table_panel(
        "Dòng thời gian hồ sơ",
        "Every ledger event of the dossier (by its code, mã hồ sơ, or id) recorded by the "
        "end of the time range: position in the global log, sequence number, type, when it "
        "happened and when the ledger recorded it, and the hash chain (prev_hash → hash).",
        f"""
SELECT position, seq, type, at, recorded_at, prev_hash, hash
FROM {EVENTS} FINAL
WHERE stream = 'dossier' AND id IN {THE_DOSSIER} AND recorded_at <= $__toTime
ORDER BY position""", height=12)


def facts() -> PanelBuilder:
    return table_panel(
        "Trạng thái hồ sơ",
        "The dossier's current facts as the runner evaluated them (status, due date, "
        "on time, processing days), with the ledger position and evaluation time they "
        "reflect.",
        f"""
SELECT code, dossier_id, procedure, unit, channel, status, received_at, due_at, end_at,
       on_time, processing_working_days, statutory_days, position, evaluated_at
FROM {FACTS} FINAL
WHERE dossier_id IN {THE_DOSSIER} AND evaluated_at <= $__toTime""", height=5)


def score_history() -> PanelBuilder:
    return table_panel(
        "Lịch sử điểm theo chỉ số",
        "Each recomputation of the unit's score for the indicator (or group) in the time "
        "range: the ledger position and evaluation time it reflects, the rulebook version, "
        "the indicator's ratio and points, the unit's total and band.",
        f"""
SELECT evaluated_at, as_of, position, any(rulebook_version) AS rulebook_version,
       anyIf(numerator, indicator = '${{indicator}}') AS numerator,
       anyIf(denominator, indicator = '${{indicator}}') AS denominator,
       anyIf(ratio, indicator = '${{indicator}}') AS ratio,
       sumIf(points, {SELECTED}) AS points, sumIf(max_points, {SELECTED}) AS max_points,
       any(total) AS total, any(band) AS band, max(computed_at) AS computed_at
FROM {HISTORY}
WHERE {THE_SCORE}
GROUP BY evaluated_at, as_of, position
ORDER BY evaluated_at DESC, position DESC""", height=10,
        columns=[column("ratio", unit="percentunit"),
                 column("position", display_name="Vị trí sổ cái")])


def points_over_time() -> PanelBuilder:
    return time_series_panel(
        "Điểm chỉ số theo thời gian",
        "The indicator's (or group's) points for the unit over the time range (latest "
        "recomputation in each interval).",
        f"""
SELECT time, argMax(points, version) AS points FROM (
    SELECT $__timeInterval(evaluated_at) AS time, (evaluated_at, position) AS version,
           sumIf(points, {SELECTED}) AS points
    FROM {HISTORY} WHERE {THE_SCORE}
    GROUP BY time, evaluated_at, position)
GROUP BY time ORDER BY time""", unit="none", span=24, height=8, decimals=2)


def audit_dashboard() -> build.Dashboard:
    return (build.Dashboard("Kiểm toán").uid(var.AUDIT_UID)
            .description("For auditors: a dossier's ledger events with their hashes, and a "
                         "unit's score history with the ledger position each row reflects.")
            .tags(["dossier", "audit"]).timezone("Asia/Ho_Chi_Minh").time("now-90d", "now")
            .readonly()
            .with_variable(var.rulebook()).with_variable(var.period())
            .with_variable(var.text("code", "Mã hồ sơ", "Dossier code (mã hồ sơ) or id", ""))
            .with_variable(var.text("unit", "Đơn vị", "Unit code: 22, 22.SXD, a commune", "22"))
            .with_variable(var.indicator())
            .with_panel(timeline()).with_panel(facts())
            .with_panel(score_history()).with_panel(points_over_time()))
