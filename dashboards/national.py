"""Xếp hạng toàn quốc: the 34 provinces as the national portal ranks them."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as build
from grafana_foundation_sdk.models import dashboard as model

from dashboards import variables as var
from dashboards.panels import (
    GROUPS,
    PanelBuilder,
    band_thresholds,
    bar_chart_panel,
    column,
    link,
    stat_panel,
    table_panel,
    time_series_panel,
)
from projections.clickhouse import schema

RANKINGS, HISTORY = schema.RANKINGS, schema.SCORE_HISTORY
LATEST = "(evaluated_at, position, computed_at)"


def group_points(json_column: str) -> str:
    """The six group scores out of a ``score_json`` column, one column each."""
    return ",\n       ".join(
        f"JSONExtractFloat(arrayFirst(g -> JSONExtractString(g, 'code') = '{code}', "
        f"JSONExtractArrayRaw({json_column}, 'groups')), 'points') AS {code}"
        for code in GROUPS)


def scope(kind: str, peer_group: str | None = None, period: str = "'${period}'") -> str:
    where = f"rulebook_id = '${{rulebook}}' AND kind = '{kind}' AND period = {period}"
    return where + (f" AND peer_group = {peer_group}" if peer_group else "")


def ranking_sql(kind: str, peer_group: str | None = None) -> str:
    """Rank, total, band, the six groups, and the change since the previous period of the
    same length (2026-09 before 2026-10) and since 24 hours before the range's end."""
    previous = (f"(SELECT max(period) FROM {RANKINGS} WHERE rulebook_id = '${{rulebook}}' "
                f"AND kind = '{kind}' AND length(period) = length('${{period}}') "
                "AND period < '${period}')")
    return f"""
SELECT cur.rank AS rank, cur.unit AS unit, cur.unit_name AS name,
       round(cur.total, 2) AS total, cur.band AS band,
       {group_points('cur.score_json')},
       if(prev.unit = '', NULL, round(cur.total - prev.total, 2)) AS change_period,
       if(day.unit = '', NULL, round(cur.total - day.total, 2)) AS change_day
FROM (SELECT unit, unit_name, rank, total, band, score_json FROM {RANKINGS} FINAL
      WHERE {scope(kind, peer_group)}) AS cur
LEFT JOIN (SELECT unit, total FROM {RANKINGS} FINAL
           WHERE {scope(kind, peer_group, previous)}) AS prev ON prev.unit = cur.unit
LEFT JOIN (SELECT unit, argMax(total, {LATEST}) AS total FROM {HISTORY}
           WHERE {scope(kind)} AND evaluated_at <= $__toTime - INTERVAL 1 DAY
           GROUP BY unit) AS day ON day.unit = cur.unit
ORDER BY rank, unit"""


def ranking_columns() -> list[tuple[str, list[model.DynamicConfigValue]]]:
    """Band colours, and a drill-down from every score cell: the total to the unit's
    province dashboard, a group score to the audit of that unit and group."""
    return [
        column("rank", display_name="Hạng"),
        column("name", display_name="Đơn vị"),
        column("total", display_name="Tổng điểm", background=True,
               links=[link("Xem tỉnh ${__data.fields.name}", var.to_province())]),
        column("band", display_name="Xếp loại", band_colours=True),
        *(column(code, links=[link(f"Kiểm toán {code} của ${{__data.fields.name}}",
                                   var.to_audit_score(code))]) for code in GROUPS),
        column("change_period", display_name="± kỳ trước"),
        column("change_day", display_name="± hôm qua"),
    ]


def ranking_table() -> PanelBuilder:
    return table_panel(
        "Xếp hạng 34 tỉnh, thành phố",
        "National ranking of the provinces for the period: standard competition rank, total "
        "out of 100, band (Xuất sắc ≥ 90, Tốt ≥ 80, Khá ≥ 70, Trung bình ≥ 50, Yếu < 50), "
        "the six group scores, and the change since the previous period and since 24 hours "
        "before the end of the time range. Click a total for the province, a group score "
        "for its audit trail.",
        ranking_sql("province"), unit="none", height=20, decimals=2,
        thresholds=band_thresholds(), columns=ranking_columns())


def totals_bar_chart() -> PanelBuilder:
    return bar_chart_panel(
        "Tổng điểm theo tỉnh",
        "Total score of each province for the period, coloured by band, in rank order.",
        f"SELECT unit_name AS name, round(total, 2) AS total FROM {RANKINGS} FINAL "
        f"WHERE {scope('province')} ORDER BY rank, unit",
        unit="none", thresholds=band_thresholds(), decimals=2)


def distribution_over_time() -> PanelBuilder:
    return time_series_panel(
        "Phân bố điểm toàn quốc theo thời gian",
        "Lowest, median, mean and highest province total over the time range (each "
        "province's latest recomputation in each interval).",
        f"""
SELECT time, min(total) AS lowest, quantileExact(0.5)(total) AS median,
       avg(total) AS mean, max(total) AS highest
FROM (SELECT $__timeInterval(evaluated_at) AS time, unit,
             argMax(total, {LATEST}) AS total
      FROM {HISTORY}
      WHERE {scope('province')} AND $__timeFilter(evaluated_at)
      GROUP BY time, unit)
GROUP BY time ORDER BY time""", unit="none", span=16, height=9,
        thresholds=band_thresholds(), decimals=2)


def band_counts() -> PanelBuilder:
    return stat_panel(
        "Số tỉnh theo xếp loại",
        "How many provinces stand in each band for the period.",
        "SELECT " + ", ".join(
            f"countIf(band = '{name}') AS `{name}`"
            for name in ("Xuất sắc", "Tốt", "Khá", "Trung bình", "Yếu"))
        + f" FROM {RANKINGS} FINAL WHERE {scope('province')}",
        unit="short", span=8, height=9)


def national_dashboard() -> build.Dashboard:
    return (build.Dashboard("Xếp hạng toàn quốc").uid(var.NATIONAL_UID)
            .description("National service-quality index (Decision 766/QĐ-TTg) of the 34 "
                         "provinces, as the national public-service portal ranks them.")
            .tags(["dossier", "766"]).timezone("Asia/Ho_Chi_Minh").time("now-30d", "now")
            .refresh("1m").readonly()
            .with_variable(var.rulebook()).with_variable(var.period())
            .with_panel(ranking_table()).with_panel(totals_bar_chart())
            .with_panel(distribution_over_time()).with_panel(band_counts()))
