"""The ClickHouse schema: every table and column name, and the DDL that creates them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

EVENTS = "dossier_events"
DOSSIER_FACTS = "dossier_facts"
SCORE_HISTORY = "score_history"
RANKINGS = "rankings_current"
TRACKING = "runner_tracking"
CYCLES = "runner_cycles"

TIME = "DateTime64(6, 'UTC')"


@dataclass(frozen=True, slots=True)
class Table:
    """One table: its columns (name, type) in insert order, engine and sort key."""

    name: str
    columns: tuple[tuple[str, str], ...]
    engine: str
    order_by: tuple[str, ...]
    comment: str

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def ddl(self, suffix: str = "") -> str:
        """``CREATE TABLE IF NOT EXISTS`` for this table (``suffix`` names a rebuild copy)."""
        width = max(len(name) for name, _ in self.columns)
        cols = ",\n".join(f"    {name.ljust(width)} {kind}" for name, kind in self.columns)
        return (f"CREATE TABLE IF NOT EXISTS {self.name}{suffix}\n(\n{cols}\n)\n"
                f"ENGINE = {self.engine}\nORDER BY ({', '.join(self.order_by)})\n"
                f"COMMENT '{self.comment}'")


EVENTS_TABLE = Table(
    EVENTS,
    (("position", "UInt64"), ("stream", "LowCardinality(String)"), ("id", "String"),
     ("seq", "UInt32"), ("type", "LowCardinality(String)"), ("at", TIME),
     ("recorded_at", TIME), ("prev_hash", "String"), ("hash", "String"),
     ("data", "String")),
    "ReplacingMergeTree", ("position",),
    "Every ledger event; applicant_ref pseudonymised (HMAC-SHA256); data is JSON",
)

DOSSIER_FACTS_TABLE = Table(
    DOSSIER_FACTS,
    (("dossier_id", "String"), ("code", "String"), ("procedure", "String"),
     ("unit", "LowCardinality(String)"), ("province", "LowCardinality(String)"),
     ("channel", "LowCardinality(String)"), ("applicant_kind", "LowCardinality(String)"),
     ("submitted_at", f"Nullable({TIME})"), ("received_at", f"Nullable({TIME})"),
     ("refused", "Bool"), ("due_at", f"Nullable({TIME})"), ("end_at", f"Nullable({TIME})"),
     ("adjusted_end_at", f"Nullable({TIME})"), ("status", "LowCardinality(String)"),
     ("on_time", "Nullable(Bool)"), ("processing_working_days", "Nullable(Int32)"),
     ("statutory_days", "Nullable(Int32)"), ("paid_online", "Bool"), ("digitized", "Bool"),
     ("reused", "Bool"), ("personal_store", "Bool"), ("population_db", "Bool"),
     ("electronic_result", "Bool"), ("synced", "Bool"), ("rated_satisfied", "Nullable(Bool)"),
     ("named_by_petition", "Bool"), ("five_on_the_spot", "Bool"),
     ("evaluated_at", TIME), ("position", "UInt64")),
    "ReplacingMergeTree(position)", ("dossier_id",),
    "Current facts of each dossier at evaluated_at; latest ledger position wins",
)

SCORE_HISTORY_TABLE = Table(
    SCORE_HISTORY,
    (("rulebook_id", "LowCardinality(String)"), ("rulebook_version", "UInt32"),
     ("unit", "String"), ("kind", "LowCardinality(String)"), ("period", "String"),
     ("total", "Float64"), ("band", "LowCardinality(String)"), ("rank", "Nullable(UInt32)"),
     ("group_codes", "Array(LowCardinality(String))"), ("group_points", "Array(Float64)"),
     ("indicators", "Array(LowCardinality(String))"),
     ("indicator_groups", "Array(LowCardinality(String))"),
     ("applicable", "Array(Bool)"), ("numerators", "Array(Nullable(Int64))"),
     ("denominators", "Array(Nullable(Int64))"), ("ratios", "Array(Nullable(Float64))"),
     ("points", "Array(Nullable(Float64))"), ("max_points", "Array(Float64)"),
     ("position", "UInt64"), ("as_of", TIME), ("evaluated_at", TIME),
     ("computed_at", TIME)),
    "ReplacingMergeTree(computed_at)",
    ("rulebook_id", "unit", "period", "position", "as_of"),
    "One row per unit score written when the score itself changed (not its rank alone: "
    "rankings_current holds the current rank; this row the rank when the score changed), "
    "its indicators in parallel arrays; a re-run at the same position and as_of replaces, "
    "never duplicates",
)

INDICATOR_HISTORY = "score_history_indicators"
INDICATOR_HISTORY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("rulebook_id", "LowCardinality(String)"), ("rulebook_version", "UInt32"),
    ("unit", "String"), ("kind", "LowCardinality(String)"), ("period", "String"),
    ("group_code", "LowCardinality(String)"), ("indicator", "LowCardinality(String)"),
    ("applicable", "Bool"), ("numerator", "Nullable(Int64)"),
    ("denominator", "Nullable(Int64)"), ("ratio", "Nullable(Float64)"),
    ("points", "Nullable(Float64)"), ("max_points", "Float64"), ("group_points", "Float64"),
    ("total", "Float64"), ("band", "LowCardinality(String)"), ("rank", "Nullable(UInt32)"),
    ("position", "UInt64"), ("as_of", TIME), ("evaluated_at", TIME), ("computed_at", TIME))
"""One row per indicator of every ``score_history`` row (the view of that name, and what
``verify --scores`` compares)."""
EXPANDED = {  # an indicator row's column -> its expression over a score_history row (i: index)
    "group_code": "indicator_groups[i]", "indicator": "indicators[i]",
    "applicable": "applicable[i]", "numerator": "numerators[i]",
    "denominator": "denominators[i]", "ratio": "ratios[i]", "points": "points[i]",
    "max_points": "max_points[i]",
    "group_points": "group_points[indexOf(group_codes, indicator_groups[i])]",
}


def indicator_rows_sql(source: str, columns: list[str] | None = None,
                       final: bool = True) -> str:
    """A SELECT of :data:`INDICATOR_HISTORY_COLUMNS` (or ``columns`` of them, each an
    expression or a name) from the ``score_history`` table named ``source``: one row per
    indicator."""
    names = columns or [name for name, _ in INDICATOR_HISTORY_COLUMNS]
    select = ", ".join(f"{EXPANDED[n]} AS {n}" if n in EXPANDED else n for n in names)
    return (f"SELECT {select} FROM {source}{' FINAL' if final else ''} "
            "ARRAY JOIN arrayEnumerate(indicators) AS i")


def indicator_view_ddl(suffix: str = "") -> str:
    """The ``score_history_indicators`` view (dashboards read indicators from it)."""
    return (f"CREATE VIEW IF NOT EXISTS {INDICATOR_HISTORY}{suffix} AS\n"
            f"{indicator_rows_sql(SCORE_HISTORY + suffix)}")


RANKINGS_TABLE = Table(
    RANKINGS,
    (("rulebook_id", "LowCardinality(String)"), ("rulebook_version", "UInt32"),
     ("kind", "LowCardinality(String)"), ("peer_group", "LowCardinality(String)"),
     ("period", "String"), ("unit", "String"), ("unit_name", "String"), ("total", "Float64"),
     ("total_display", "Decimal(9, 2)"), ("band", "LowCardinality(String)"),
     ("rank", "Nullable(UInt32)"), ("score_json", "String"), ("position", "UInt64"),
     ("checkpoint", "UInt64"), ("as_of", TIME), ("evaluated_at", TIME), ("computed_at", TIME)),
    "ReplacingMergeTree(position)", ("rulebook_id", "kind", "period", "unit"),
    "Latest score and rank of each unit per rulebook, kind and period (read with FINAL); "
    "checkpoint: the size of the signed checkpoint of the ledger covering its position "
    "(0: none)",
)

TRACKING_TABLE = Table(
    TRACKING,
    (("runner", "LowCardinality(String)"), ("position", "UInt64"),
     ("written_at", TIME)),
    "ReplacingMergeTree(position)", ("runner",),
    "The last ledger position whose rows are all written; written after the data rows",
)

TABLES: tuple[Table, ...] = (EVENTS_TABLE, DOSSIER_FACTS_TABLE, SCORE_HISTORY_TABLE,
                             RANKINGS_TABLE, TRACKING_TABLE)
BY_NAME = {t.name: t for t in TABLES}

CYCLES_TABLE = Table(
    CYCLES,
    (("runner", "LowCardinality(String)"), ("started_at", TIME),
     ("first_position", "UInt64"), ("position", "UInt64"), ("ledger_head", "UInt64"),
     ("events", "UInt32"), ("scores", "UInt32"), ("rows", "UInt32"), ("seconds", "Float64"),
     ("refresh", "Bool"), ("error", "String")),
    "ReplacingMergeTree", ("runner", "started_at"),
    "One row per runner cycle (wall-clock start): what it covered and wrote, the ledger head "
    "it saw, how long it took, the error that ended it; read by the pipeline dashboard",
)
"""Operations, not analytics: never rebuilt by a replay (which swaps :data:`TABLES` only)."""
DEPLOYED: tuple[Table, ...] = (*TABLES, CYCLES_TABLE)
"""Every table a server needs (deploy/clickhouse)."""
SCHEMA_BY_NAME = {t.name: t for t in DEPLOYED}


def all_ddl(suffix: str = "") -> Iterator[str]:
    for table in TABLES:
        yield table.ddl(suffix)


def write_ddl_files(directory: Path) -> list[Path]:
    """Write one ``.sql`` file per table (deploy/clickhouse) and return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for index, table in enumerate(DEPLOYED, start=1):
        path = directory / f"{index:02d}_{table.name}.sql"
        path.write_text("-- generated from projections/clickhouse/schema.py; do not edit\n"
                        f"{table.ddl()};\n", encoding="utf-8")
        written.append(path)
    path = directory / f"{len(DEPLOYED) + 1:02d}_{INDICATOR_HISTORY}.sql"
    path.write_text("-- generated from projections/clickhouse/schema.py; do not edit\n"
                    f"{indicator_view_ddl()};\n", encoding="utf-8")
    written.append(path)
    return written
