"""Batched, idempotent ClickHouse writes through clickhouse-connect (chDB or a server)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from projections.clickhouse import schema
from projections.clickhouse.rows import Row

Client = Any  # clickhouse_connect.driver.client.Client (imported lazily: no work at import)

# The order in which one cycle's rows are written: data first, the tracking row last, so a
# tracking position never names rows that are not all written.
WRITE_ORDER = (schema.EVENTS, schema.DOSSIER_FACTS, schema.SCORE_HISTORY, schema.RANKINGS)


class OlapError(RuntimeError):
    """The analytics store cannot be opened or written."""


class OlapLocked(OlapError):
    """Another process holds the chDB directory (chDB allows one process per directory)."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"the chDB directory {path} is in use by another process (a running `dossier "
            "follow` or `dossier demo`?). Stop that process, or point this command at another "
            "directory (DOSSIER_DATA_DIR) or at a ClickHouse server (DOSSIER_CLICKHOUSE_URL).")
        self.path = path


def open_client(url: str | None, olap_path: Path) -> Client:
    """A clickhouse-connect client: the server at ``url``, else chDB under ``olap_path``."""
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import ProgrammingError

    if url:
        return clickhouse_connect.get_client(dsn=url)
    path = olap_path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    try:
        return clickhouse_connect.get_client(dsn=f"chdb://{path}")
    except ProgrammingError as error:
        if "Unable to open the chdb engine" in str(error):
            raise OlapLocked(path) from None
        raise


JSON_SETTINGS = {
    "date_time_input_format": "best_effort",  # RFC 3339 with offsets and microseconds
    "input_format_json_read_objects_as_strings": 1,  # a JSON object into a String: its text
    "input_format_skip_unknown_fields": 0,
}
"""How JSON rows are read (the event archive copies the ledger's canonical JSON)."""

LINE_FORMATS = {schema.EVENTS: "JSONEachRow", schema.DOSSIER_FACTS: "JSONCompactEachRow",
                schema.SCORE_HISTORY: "JSONCompactEachRow", schema.RANKINGS: "JSONCompactEachRow",
                schema.TRACKING: "JSONCompactEachRow"}
"""Every table is inserted as JSON lines that ClickHouse parses itself, without holding the
interpreter (a writer thread overlaps with the fold): the event archive with named fields,
copied from the ledger's canonical JSON; the others as arrays in column order, encoded by
orjson (several times cheaper than clickhouse-connect's own Native encoding of nullable
times, and no first-use cost)."""


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Batch:
    """Rows of one write cycle, per table, as JSON lines (see :data:`LINE_FORMATS`), and the
    ledger position they complete."""

    lines: dict[str, list[bytes]] = field(default_factory=dict)
    position: int = 0

    def add(self, table: str, rows: Sequence[Row]) -> None:
        """Add rows given as tuples in the table's column order."""
        if rows:
            self.add_lines(table, [orjson.dumps(row, default=_json_value) for row in rows])

    def add_lines(self, table: str, lines: Sequence[bytes]) -> None:
        """Add rows already encoded in the table's line format."""
        self.lines.setdefault(table, []).extend(lines)

    def count(self, table: str) -> int:
        return len(self.lines.get(table, ()))

    def __len__(self) -> int:
        return sum(len(lines) for lines in self.lines.values())


class ClickHouseWriter:
    """Writes batches into the tables of :mod:`schema` (optionally a suffixed rebuild copy).

    Every table is a ReplacingMergeTree keyed on natural ids, so writing a batch again (after a
    crash, or by at-least-once delivery) adds no row that FINAL would show.
    """

    def __init__(self, client: Client, *, runner: str = "follower", suffix: str = "") -> None:
        self.client = client
        self.runner = runner
        self.suffix = suffix
        self.rows_written = 0
        self.inserts = 0

    def ensure_schema(self) -> None:
        """Create the tables that do not exist yet."""
        for ddl in schema.all_ddl(self.suffix):
            self.client.command(ddl)

    def table(self, name: str) -> str:
        return f"{name}{self.suffix}"

    def write(self, batch: Batch) -> None:
        """Insert the batch's rows table by table, then its tracking position."""
        for name in WRITE_ORDER:
            self._insert(name, batch.lines.get(name))
        if batch.position:
            self._insert(schema.TRACKING,
                         [orjson.dumps((self.runner, batch.position, utc_now()))])

    def _insert(self, name: str, lines: list[bytes] | None) -> None:
        if not lines:
            return
        fmt = LINE_FORMATS[name]
        columns = schema.BY_NAME[name].column_names if fmt == "JSONCompactEachRow" else None
        self.client.raw_insert(self.table(name), columns, b"\n".join(lines), fmt=fmt,
                               settings=JSON_SETTINGS)
        self.rows_written += len(lines)
        self.inserts += 1

    def tracked_position(self) -> int:
        """The last position whose rows are all written (0: nothing yet)."""
        result = self.client.query(
            f"SELECT max(position) FROM {self.table(schema.TRACKING)} "
            "WHERE runner = {runner:String}", parameters={"runner": self.runner})
        value = result.result_rows[0][0] if result.result_rows else 0
        return int(value or 0)

    def drop(self) -> None:
        """Drop this writer's (suffixed) tables."""
        for spec in schema.TABLES:
            self.client.command(f"DROP TABLE IF EXISTS {self.table(spec.name)}")

    def swap_into(self, live_suffix: str = "") -> None:
        """Make this writer's suffixed tables the live ones, table by table, atomically
        (EXCHANGE TABLES: readers see the old or the new table, never an empty one); the
        previous tables are dropped."""
        if not self.suffix:
            raise OlapError("only a suffixed rebuild copy can be swapped in")
        for spec in schema.TABLES:
            live, built = f"{spec.name}{live_suffix}", self.table(spec.name)
            if self._exists(live):
                self.client.command(f"EXCHANGE TABLES {live} AND {built}")
                self.client.command(f"DROP TABLE IF EXISTS {built}")
            else:
                self.client.command(f"RENAME TABLE {built} TO {live}")

    def _exists(self, table: str) -> bool:
        result = self.client.query(
            "SELECT count() FROM system.tables WHERE database = currentDatabase() "
            "AND name = {name:String}", parameters={"name": table})
        return bool(result.result_rows[0][0])
