"""Vận hành: the health of the pipeline from the ledger into ClickHouse."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as build

from dashboards import variables as var
from dashboards.panels import (
    PanelBuilder,
    plain_thresholds,
    stat_panel,
    table_panel,
    time_series_panel,
)
from projections.clickhouse import schema

EVENTS, CYCLES, TRACKING = schema.EVENTS, schema.CYCLES, schema.TRACKING
IN_RANGE = "$__timeFilter(started_at)"
# Seconds since the runner last finished a cycle caught up with the ledger's head (cycles
# also run on a timer when idle, so this grows only when the runner falls behind or stops).
LAG_SECONDS = ("dateDiff('second', maxIf(started_at, position >= ledger_head), "
               "least(now64(6), $__toTime))")


def ledger_rate() -> PanelBuilder:
    return time_series_panel(
        "Sự kiện/giây vào sổ cái",
        "Events recorded by the ledger per second (by their recorded_at), from the archive.",
        f"""
SELECT $__timeInterval(recorded_at) AS time, count() / $__interval_s AS ledger
FROM {EVENTS} FINAL WHERE $__timeFilter(recorded_at)
GROUP BY time ORDER BY time""", unit="ops")


def clickhouse_rate() -> PanelBuilder:
    return time_series_panel(
        "Sự kiện/giây vào ClickHouse",
        "Events folded and rows written into ClickHouse per second by the runners.",
        f"""
SELECT $__timeInterval(started_at) AS time, sum(events) / $__interval_s AS events,
       sum(rows) / $__interval_s AS rows
FROM {CYCLES} WHERE {IN_RANGE}
GROUP BY time ORDER BY time""", unit="ops")


def lag_over_time() -> PanelBuilder:
    return time_series_panel(
        "Độ trễ so với đầu sổ cái",
        "Events between the ledger's head and the position the tables reflect, at the end "
        "of each cycle (highest in each interval).",
        f"""
SELECT $__timeInterval(started_at) AS time, max(ledger_head - position) AS behind
FROM {CYCLES} WHERE {IN_RANGE}
GROUP BY time ORDER BY time""", unit="short", thresholds=plain_thresholds(5000, 50000))


def cycle_durations() -> PanelBuilder:
    return time_series_panel(
        "Thời lượng chu kỳ",
        "Duration of the runners' write cycles: mean and longest in each interval.",
        f"""
SELECT $__timeInterval(started_at) AS time, avg(seconds) AS mean, max(seconds) AS longest
FROM {CYCLES} WHERE {IN_RANGE}
GROUP BY time ORDER BY time""", unit="s", thresholds=plain_thresholds(5, 30))


def runner_status() -> PanelBuilder:
    return stat_panel(
        "Trạng thái runner",
        "Now (or at the end of the range): events behind the ledger's head, lag in seconds "
        "since the last cycle caught up, staleness in seconds since the last cycle, and "
        "cycle errors in the range.",
        f"""
SELECT argMax(ledger_head - position, started_at) AS behind,
       {LAG_SECONDS} AS lag_seconds,
       dateDiff('second', max(started_at), least(now64(6), $__toTime)) AS staleness_seconds,
       countIf(error != '') AS errors
FROM {CYCLES} WHERE {IN_RANGE}""", unit="short", span=24, height=5,
        thresholds=plain_thresholds(1, 60))


def tracking() -> PanelBuilder:
    return table_panel(
        "Vị trí đã ghi theo runner",
        "Per runner (the embedded follower, or each Kafka partition and the ranking): the "
        "last ledger position whose rows are all written, when, and how far behind the "
        "ledger's head (the highest any runner saw in the range) it is.",
        f"""
SELECT t.runner AS runner, t.tracked AS tracked, t.last_written AS last_written,
       c.head AS ledger_head, greatest(c.head, t.tracked) - t.tracked AS behind
FROM (SELECT runner, max(position) AS tracked, max(written_at) AS last_written
      FROM {TRACKING} FINAL WHERE written_at <= $__toTime GROUP BY runner) AS t
CROSS JOIN (SELECT max(ledger_head) AS head FROM {CYCLES} WHERE {IN_RANGE}) AS c
ORDER BY runner""", span=12, height=8)


def errors() -> PanelBuilder:
    return table_panel(
        "Lỗi",
        "Cycles that failed in the time range, latest first, with the error they raised.",
        f"""
SELECT started_at, runner, first_position, position, error
FROM {CYCLES} WHERE {IN_RANGE} AND error != ''
ORDER BY started_at DESC LIMIT 100""", span=12, height=8)


def pipeline_dashboard() -> build.Dashboard:
    return (build.Dashboard("Vận hành").uid(var.PIPELINE_UID)
            .description("Pipeline health: throughput into the ledger and into ClickHouse, "
                         "lag, staleness, cycle durations and errors of the runners.")
            .tags(["dossier", "operations"]).timezone("Asia/Ho_Chi_Minh")
            .time("now-6h", "now").refresh("10s").readonly()
            .with_panel(runner_status())
            .with_panel(ledger_rate()).with_panel(clickhouse_rate())
            .with_panel(lag_over_time()).with_panel(cycle_durations())
            .with_panel(tracking()).with_panel(errors()))
