"""Small panel builders: every panel has a Vietnamese title, an English description, a unit,
thresholds where a value has a meaning, and one ClickHouse query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import barchart, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as build
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from dashboards.query import (
    FORMAT_TABLE,
    FORMAT_TIME_SERIES,
    ClickHouseQueryBuilder,
    datasource_ref,
)

# The five bands of docs/index.md, as thresholds on a 100-point total and as colours of the
# band's name (Xuất sắc ≥ 90, Tốt ≥ 80, Khá ≥ 70, Trung bình ≥ 50, Yếu < 50).
BANDS: tuple[tuple[str, float | None, str], ...] = (
    ("Yếu", None, "red"), ("Trung bình", 50.0, "orange"), ("Khá", 70.0, "yellow"),
    ("Tốt", 80.0, "light-green"), ("Xuất sắc", 90.0, "dark-green"))
GROUPS = ("G1", "G2", "G3a", "G3b", "G4", "G5")

PanelBuilder = cogbuilder.Builder[model.Panel]


def band_thresholds() -> build.ThresholdsConfig:
    return build.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps([
        model.Threshold(value=value, color=color) for _, value, color in BANDS])


def plain_thresholds(warn: float | None = None, alarm: float | None = None
                     ) -> build.ThresholdsConfig:
    """Green, then orange from ``warn``, red from ``alarm`` (higher is worse)."""
    steps = [model.Threshold(value=None, color="green")]
    if warn is not None:
        steps.append(model.Threshold(value=warn, color="orange"))
    if alarm is not None:
        steps.append(model.Threshold(value=alarm, color="red"))
    return build.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps)


def link(title: str, url: str) -> dict[str, Any]:
    """A Grafana data link (opened in the same tab; ``url`` may use ``${__data.fields.x}``,
    ``${__value.raw}``, ``${__url_time_range}`` and the dashboard's variables)."""
    return {"title": title, "url": url}


def column(name: str, *, unit: str | None = None, links: Sequence[dict[str, Any]] = (),
           band_colours: bool = False, background: bool = False,
           display_name: str | None = None, fixed_colour: str | None = None,
           decimals: int | None = None) -> tuple[str, list[model.DynamicConfigValue]]:
    """Field overrides for one column of a table or value of a stat (by its name)."""
    properties: list[model.DynamicConfigValue] = []
    if fixed_colour:
        properties.append(model.DynamicConfigValue(
            id_val="color", value={"mode": "fixed", "fixedColor": fixed_colour}))
    if decimals is not None:
        properties.append(model.DynamicConfigValue(id_val="decimals", value=decimals))
    if display_name:
        properties.append(model.DynamicConfigValue(id_val="displayName", value=display_name))
    if unit:
        properties.append(model.DynamicConfigValue(id_val="unit", value=unit))
    if links:
        properties.append(model.DynamicConfigValue(id_val="links", value=list(links)))
    if band_colours:
        properties.append(model.DynamicConfigValue(id_val="mappings", value=[{
            "type": "value", "options": {
                name: {"color": colour, "index": index, "text": name}
                for index, (name, _, colour) in enumerate(BANDS)}}]))
    if background or band_colours:
        properties.append(model.DynamicConfigValue(
            id_val="custom.cellOptions", value={"type": "color-background"}))
    return name, properties


def _common(panel: Any, title: str, description: str, unit: str, sql: str, fmt: int,
            span: int, height: int, thresholds: build.ThresholdsConfig | None,
            decimals: int | None) -> Any:
    panel = (panel.title(title).description(description).unit(unit)
             .datasource(datasource_ref()).span(span).height(height)
             .with_target(ClickHouseQueryBuilder(sql, format=fmt)))
    if thresholds is not None:
        panel = panel.thresholds(thresholds)
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


def table_panel(title: str, description: str, sql: str, *, unit: str = "none",
                span: int = 24, height: int = 10,
                columns: Sequence[tuple[str, list[model.DynamicConfigValue]]] = (),
                thresholds: build.ThresholdsConfig | None = None,
                decimals: int | None = None) -> table.Panel:
    panel: table.Panel = _common(table.Panel(), title, description, unit, sql, FORMAT_TABLE,
                                 span, height, thresholds, decimals)
    panel = panel.filterable(True)
    for name, properties in columns:
        if properties:
            panel = panel.override_by_name(name, properties)
    return panel


def time_series_panel(title: str, description: str, sql: str, *, unit: str,
                      span: int = 12, height: int = 8,
                      thresholds: build.ThresholdsConfig | None = None,
                      decimals: int | None = None) -> timeseries.Panel:
    panel: timeseries.Panel = _common(timeseries.Panel(), title, description, unit, sql,
                                      FORMAT_TIME_SERIES, span, height, thresholds, decimals)
    return panel


def stat_panel(title: str, description: str, sql: str, *, unit: str, span: int = 4,
               height: int = 4, thresholds: build.ThresholdsConfig | None = None,
               decimals: int | None = None,
               columns: Sequence[tuple[str, list[model.DynamicConfigValue]]] = ()
               ) -> stat.Panel:
    panel: stat.Panel = _common(stat.Panel(), title, description, unit, sql, FORMAT_TABLE,
                                span, height, thresholds, decimals)
    for name, properties in columns:
        panel = panel.override_by_name(name, properties)
    return panel


def bar_chart_panel(title: str, description: str, sql: str, *, unit: str, span: int = 24,
                    height: int = 9, thresholds: build.ThresholdsConfig | None = None,
                    decimals: int | None = None) -> barchart.Panel:
    panel: barchart.Panel = _common(barchart.Panel(), title, description, unit, sql,
                                    FORMAT_TABLE, span, height, thresholds, decimals)
    return panel.color_scheme(build.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
