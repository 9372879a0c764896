"""The ClickHouse query model the SDK lacks (grafana-clickhouse-datasource), and its macros."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.runtime import DataqueryConfig, register_dataquery_variant
from grafana_foundation_sdk.models.common import DataSourceRef

PLUGIN = "grafana-clickhouse-datasource"
DATASOURCE_UID = "dossier-clickhouse"
DATASOURCE_NAME = "ClickHouse (dossier ledger)"

# The plugin's query formats (its ``Format`` enum).
FORMAT_TIME_SERIES = 0
FORMAT_TABLE = 1


def datasource_ref() -> DataSourceRef:
    return DataSourceRef(type_val=PLUGIN, uid=DATASOURCE_UID)


@dataclass
class ClickHouseQuery(cogvariants.Dataquery):
    """One SQL query of the ClickHouse plugin (editor type ``sql``)."""

    ref_id: str
    raw_sql: str
    format: int = FORMAT_TABLE

    def to_json(self) -> dict[str, object]:
        return {
            "datasource": {"type": PLUGIN, "uid": DATASOURCE_UID},
            "editorType": "sql",
            "format": self.format,
            "queryType": "timeseries" if self.format == FORMAT_TIME_SERIES else "table",
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(ref_id=data.get("refId", "A"), raw_sql=data.get("rawSql", ""),
                   format=int(data.get("format", FORMAT_TABLE)))


class ClickHouseQueryBuilder(cogbuilder.Builder[ClickHouseQuery]):
    """Builds a :class:`ClickHouseQuery` (what ``with_target`` takes)."""

    def __init__(self, sql: str, *, ref_id: str = "A", format: int = FORMAT_TABLE) -> None:
        self._internal = ClickHouseQuery(ref_id, sql.strip(), format)

    def build(self) -> ClickHouseQuery:
        return self._internal


def register() -> None:
    """Teach the SDK's ``from_json`` to read queries of the ClickHouse plugin as
    :class:`ClickHouseQuery` (called before reading a dashboard back)."""
    register_dataquery_variant(DataqueryConfig(identifier=PLUGIN,
                                               from_json_hook=ClickHouseQuery.from_json))


# -- macros of the plugin, expanded as it expands them (for checks on chDB) --------------

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_TIME_FILTER = re.compile(r"\$__timeFilter\(([^)]+)\)")
_TIME_INTERVAL = re.compile(r"\$__timeInterval\(([^)]+)\)")


@dataclass(frozen=True, slots=True)
class Expansion:
    """A concrete dashboard state: the time range (seconds since the epoch), the interval,
    and the template variables' values."""

    start: int
    end: int
    interval_s: int
    variables: dict[str, str]


def expand(sql: str, state: Expansion) -> str:
    """``sql`` with the plugin's macros and the template variables replaced."""
    sql = _TIME_FILTER.sub(lambda m: f"({m.group(1)} >= toDateTime({state.start}) AND "
                                     f"{m.group(1)} <= toDateTime({state.end}))", sql)
    sql = _TIME_INTERVAL.sub(lambda m: f"toStartOfInterval(toDateTime({m.group(1)}), "
                                       f"INTERVAL {state.interval_s} second)", sql)
    sql = (sql.replace("$__fromTime", f"toDateTime({state.start})")
              .replace("$__toTime", f"toDateTime({state.end})")
              .replace("$__interval_s", str(state.interval_s)))

    def variable(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in state.variables:
            raise KeyError(f"template variable ${name} has no value")
        return state.variables[name]

    return _VARIABLE.sub(variable, sql)


def variables_used(sql: str) -> set[str]:
    """The template variables ``sql`` refers to (macros left out)."""
    return {m.group(1) or m.group(2) for m in _VARIABLE.finditer(sql)
            if not (m.group(2) or "").startswith("__")}
