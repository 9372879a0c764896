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
    """Rows of one write cycle, per table, and the ledger position they complete: tuples in
    the table's column order, and JSON lines (encoded tuples, or the event archive's)."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    lines: dict[str, list[bytes]] = field(default_factory=dict)
    line_rows: dict[str, int] = field(default_factory=dict)  # rows held in ``lines``
    position: int = 0

    def add(self, table: str, rows: Sequence[Row]) -> None:
        """Add rows given as flat tuples in the table's column order."""
        if rows:
            self.rows.setdefault(table, []).extend(rows)

    def add_lines(self, table: str, lines: Sequence[bytes]) -> None:
        """Add rows already encoded in the table's line format, one per line."""
        self._add_lines(table, lines, len(lines))

    def _add_lines(self, table: str, lines: Sequence[bytes], rows: int) -> None:
        self.lines.setdefault(table, []).extend(lines)
        self.line_rows[table] = self.line_rows.get(table, 0) + rows

    def count(self, table: str) -> int:
        return len(self.rows.get(table, ())) + self.line_rows.get(table, 0)

    def __len__(self) -> int:
        return sum(self.count(table) for table in {*self.rows, *self.lines})

    def encode(self) -> None:
        """Turn the tuples into JSON lines now, in the calling thread (so that a writer thread
        only hands text to ClickHouse)."""
        for table, rows in self.rows.items():
            # One orjson call for all the rows, cut into lines: a tenth of the cost of one
            # call per row. Flat tuples meet only at "],[" — unless a text holds it: then
            # row by row.
            chunk = orjson.dumps(rows, default=_json_value)
            if chunk.count(b"],[") == len(rows) - 1:
                self._add_lines(table, [chunk[1:-1].replace(b"],[", b"]\n[")], len(rows))
            else:
                self.add_lines(table, [orjson.dumps(row, default=_json_value) for row in rows])
        self.rows.clear()

    def encoded(self, table: str) -> bytes:
        """The table's rows as JSON lines (empty: none)."""
        if table in self.rows:
            self.encode()
        return b"\n".join(self.lines.get(table, ()))


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
            self._insert(name, batch.encoded(name), batch.count(name))
        if batch.position:
            self._insert(schema.TRACKING,
                         orjson.dumps((self.runner, batch.position, utc_now())), 1)

    def _insert(self, name: str, data: bytes, rows: int) -> None:
        if not rows:
            return
        fmt = LINE_FORMATS[name]
        columns = schema.BY_NAME[name].column_names if fmt == "JSONCompactEachRow" else None
        self.client.raw_insert(self.table(name), columns, data, fmt=fmt, settings=JSON_SETTINGS)
        self.rows_written += rows
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
