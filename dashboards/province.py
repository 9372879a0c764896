"""Tỉnh: one province — its scores over time, its departments and communes, its dossiers."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as build
from grafana_foundation_sdk.models import dashboard as model

from dashboards import variables as var
from dashboards.national import LATEST, ranking_columns, ranking_sql
from dashboards.panels import (
    GROUPS,
    PanelBuilder,
    band_thresholds,
    column,
    link,
    plain_thresholds,
    stat_panel,
    table_panel,
    time_series_panel,
)
from projections.clickhouse import schema

FACTS, HISTORY, RANKINGS = schema.DOSSIER_FACTS, schema.SCORE_HISTORY, schema.RANKINGS
INDICATORS = schema.INDICATOR_HISTORY  # one row per indicator of each score_history row
OPEN = "('open', 'open_late')"
LOCAL = "'Asia/Ho_Chi_Minh'"
# The end of the second working day after the range's end (Monday–Friday; public holidays
# are not known to SQL, so a holiday week shows a dossier as near its due date later).
NEAR_DUE = (f"toDateTime(addDays(toDate($__toTime, {LOCAL}), "
            f"[2, 2, 2, 4, 4, 3, 2][toDayOfWeek(toDate($__toTime, {LOCAL}))] + 1), {LOCAL})")
IN_PROVINCE = "province = '${province}'"


def scores_over_time() -> PanelBuilder:
    groups = ",\n       ".join(
        f"argMax(group_points[indexOf(group_codes, '{code}')], {LATEST}) AS {code}"
        for code in GROUPS)
    return time_series_panel(
        "Tổng điểm và điểm nhóm theo thời gian",
        "The province's total and its six group scores for the period, as recomputed over "
        "the time range (latest recomputation in each interval).",
        f"""
SELECT $__timeInterval(evaluated_at) AS time, argMax(total, {LATEST}) AS total,
       {groups}
FROM {HISTORY}
WHERE rulebook_id = '${{rulebook}}' AND unit = '${{province}}' AND period = '${{period}}'
  AND $__timeFilter(evaluated_at)
GROUP BY time ORDER BY time""", unit="none", span=16, height=9, decimals=2)


def current_total() -> PanelBuilder:
    return stat_panel(
        "Tổng điểm hiện tại",
        "The province's current total out of 100 and its national rank for the period, "
        "coloured by band.",
        f"SELECT round(total, 2) AS total, rank FROM {RANKINGS} FINAL "
        "WHERE rulebook_id = '${rulebook}' AND kind = 'province' AND period = '${period}' "
        "AND unit = '${province}'",
        unit="none", span=8, height=9, thresholds=band_thresholds(), decimals=2,
        columns=[column("total", display_name="Tổng điểm"),
                 column("rank", display_name="Hạng toàn quốc", fixed_colour="blue",
                        decimals=0)])


def units_ranking(kind: str, title: str, what: str) -> PanelBuilder:
    return table_panel(
        title,
        f"Ranking of the province's {what} for the period: rank among them, total, band, "
        "group scores, change since the previous period and since 24 hours before the end "
        "of the range. Click a group score for its audit trail.",
        ranking_sql(kind, "'${province}'"), span=12, height=12, decimals=2,
        thresholds=band_thresholds(), columns=unit_columns())


def unit_columns() -> list[tuple[str, list[model.DynamicConfigValue]]]:
    """The ranking's columns, the total linking to the unit's own score history."""
    columns = ranking_columns()
    columns[2] = column("total", display_name="Tổng điểm", background=True, links=[
        link("Lịch sử điểm ${__data.fields.name}", var.to_audit_score("G1"))])
    return columns


def shares() -> PanelBuilder:
    return stat_panel(
        "Tỷ lệ hồ sơ",
        "Shares of the province's dossiers submitted in the time range: resolved on time "
        "(of those finished), overdue (of those still open), filed online, digitised (of "
        "those received), fees paid online.",
        f"""
SELECT countIf(status = 'on_time') / nullIf(countIf(status IN ('on_time', 'late')), 0)
           AS `Đúng hạn`,
       countIf(status = 'open_late') / nullIf(countIf(status IN {OPEN}), 0) AS `Quá hạn`,
       countIf(channel = 'online') / nullIf(count(), 0) AS `Trực tuyến`,
       countIf(digitized) / nullIf(countIf(received_at IS NOT NULL), 0) AS `Số hóa`,
       countIf(paid_online) / nullIf(count(), 0) AS `Thanh toán trực tuyến`
FROM {FACTS} FINAL WHERE {IN_PROVINCE} AND $__timeFilter(submitted_at)""",
        unit="percentunit", span=18, height=5, decimals=1)


def five_on_the_spot() -> PanelBuilder:
    return stat_panel(
        "Giải quyết \"5 tại chỗ\"",
        "Share of the province's dossiers received in the time range that were received, "
        "appraised, approved, resulted and returned on the spot (5 tại chỗ).",
        f"SELECT countIf(five_on_the_spot) / nullIf(count(), 0) AS `5 tại chỗ` "
        f"FROM {FACTS} FINAL WHERE {IN_PROVINCE} AND $__timeFilter(received_at)",
        unit="percentunit", span=6, height=5, decimals=1)


def open_per_unit() -> PanelBuilder:
    return table_panel(
        "Hồ sơ đang giải quyết theo đơn vị",
        "Per department or commune (variable 'Cấp đơn vị'): dossiers open at the end of the "
        "time range, those due within 2 working days (holidays not counted) and those past "
        "their due date.",
        f"""
SELECT f.unit AS unit, any(r.unit_name) AS name,
       countIf(f.status IN {OPEN}) AS open,
       countIf(f.status IN {OPEN} AND f.due_at >= $__toTime AND f.due_at < {NEAR_DUE})
           AS near_due,
       countIf(f.status IN {OPEN} AND f.due_at < $__toTime) AS overdue
FROM {FACTS} AS f FINAL
INNER JOIN (SELECT DISTINCT unit, unit_name FROM {RANKINGS}
            WHERE rulebook_id = '${{rulebook}}' AND kind = '${{kind}}'
              AND peer_group = '${{province}}') AS r ON r.unit = f.unit
WHERE f.{IN_PROVINCE} AND f.received_at <= $__toTime
GROUP BY f.unit ORDER BY overdue DESC, near_due DESC, unit""",
        unit="short", span=12, height=12, thresholds=plain_thresholds(1, 10),
        columns=[column("name", display_name="Đơn vị"),
                 column("open", display_name="Đang giải quyết"),
                 column("near_due", display_name="Sắp đến hạn (≤ 2 ngày)", background=True),
                 column("overdue", display_name="Quá hạn", background=True)])


def due_dossiers() -> PanelBuilder:
    return table_panel(
        "Hồ sơ sắp đến hạn và quá hạn",
        "Open dossiers of the province past their due date or due within 2 working days at "
        "the end of the time range, most overdue first. Click a code for its timeline.",
        f"""
SELECT code, unit, procedure, received_at, due_at,
       if(due_at < $__toTime, 'quá hạn', 'sắp đến hạn') AS state,
       round(dateDiff('hour', due_at, $__toTime) / 24, 1) AS days_past_due
FROM {FACTS} FINAL
WHERE {IN_PROVINCE} AND status IN {OPEN} AND received_at <= $__toTime
  AND due_at < {NEAR_DUE}
ORDER BY due_at, code LIMIT 500""",
        span=12, height=12,
        columns=[column("code", display_name="Mã hồ sơ",
                        links=[link("Dòng thời gian ${__data.fields.code}",
                                    var.to_timeline())]),
                 column("days_past_due", display_name="Số ngày quá hạn", unit="d")])


def processing_time() -> PanelBuilder:
    return table_panel(
        "Thời gian xử lý so với quy định",
        "Per procedure, for the province's dossiers finished in the time range: average "
        "processing time in working days beside the statutory time, and their ratio "
        "(above 1: slower than the law allows on average).",
        f"""
SELECT procedure, count() AS dossiers,
       round(avg(processing_working_days), 2) AS average_days,
       max(statutory_days) AS statutory_limit,
       round(average_days / nullIf(statutory_limit, 0), 2) AS ratio
FROM {FACTS} FINAL
WHERE {IN_PROVINCE} AND status IN ('on_time', 'late') AND $__timeFilter(end_at)
GROUP BY procedure ORDER BY ratio DESC NULLS LAST, procedure""",
        span=12, height=10, thresholds=plain_thresholds(0.8, 1.0),
        columns=[column("procedure", display_name="Thủ tục"),
                 column("average_days", display_name="TB (ngày làm việc)", unit="d"),
                 column("statutory_limit", display_name="Quy định (ngày)", unit="d"),
                 column("ratio", display_name="Tỷ lệ", background=True)])


def indicators() -> PanelBuilder:
    return table_panel(
        "Điểm theo chỉ số",
        "The province's latest score per indicator in the time range: numerator, "
        "denominator, ratio, points out of the maximum. Click the points for the "
        "indicator's score history.",
        f"""
SELECT group_code, indicator, numerator, denominator, ratio, points, max_points,
       evaluated_at, position, '${{province}}' AS unit
FROM {INDICATORS}
WHERE rulebook_id = '${{rulebook}}' AND unit = '${{province}}' AND period = '${{period}}'
  AND $__timeFilter(evaluated_at)
ORDER BY group_code, indicator, evaluated_at DESC, position DESC, computed_at DESC
LIMIT 1 BY indicator""",
        span=12, height=10,
        columns=[column("points", display_name="Điểm", links=[link(
            "Lịch sử điểm ${__data.fields.indicator}",
            var.to_audit_score("${__data.fields.indicator}"))]),
                 column("ratio", unit="percentunit")])


def province_dashboard() -> build.Dashboard:
    return (build.Dashboard("Tỉnh").uid(var.PROVINCE_UID)
            .description("One province: its score over time, its departments' and communes' "
                         "rankings, its dossiers' shares, deadlines and processing times.")
            .tags(["dossier", "766"]).timezone("Asia/Ho_Chi_Minh").time("now-30d", "now")
            .refresh("1m").readonly()
            .with_variable(var.rulebook()).with_variable(var.period())
            .with_variable(var.province()).with_variable(var.unit_kind())
            .with_panel(scores_over_time()).with_panel(current_total())
            .with_panel(shares()).with_panel(five_on_the_spot())
            .with_panel(units_ranking("department", "Xếp hạng sở, ngành", "departments"))
            .with_panel(units_ranking("commune", "Xếp hạng xã, phường", "communes"))
            .with_panel(open_per_unit()).with_panel(due_dossiers())
            .with_panel(processing_time()).with_panel(indicators()))
