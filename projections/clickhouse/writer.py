"""Batched, idempotent ClickHouse writes through clickhouse-connect (chDB or a server)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from operator import itemgetter
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
        self.stored: StoredRows | None = None

    def ensure_schema(self) -> None:
        """Create the tables (and the indicator view) that do not exist yet; refuse tables
        of an older layout (a replay rebuilds them from the ledger)."""
        for spec in schema.TABLES:
            self._check_layout(spec)
        for ddl in schema.all_ddl(self.suffix):
            self.client.command(ddl)
        self.client.command(schema.indicator_view_ddl(self.suffix))

    def _check_layout(self, spec: schema.Table) -> None:
        columns = [name for name, in self.client.query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() "
            "AND table = {table:String} ORDER BY position",
            parameters={"table": self.table(spec.name)}).result_rows]
        if columns and columns != spec.column_names:
            raise OlapError(
                f"the table {self.table(spec.name)} has an older layout "
                f"({len(columns)} columns, this version writes {len(spec.column_names)}): "
                "rebuild the tables from the ledger with `dossier replay`")

    def table(self, name: str) -> str:
        return f"{name}{self.suffix}"

    def load_stored(self, dossiers: Collection[str] | None = None) -> int:
        """Read what the tables hold of the rows that later rows replace (each dossier's fact
        row, each unit's current score; ``dossiers``: only these dossiers' fact rows); from
        then on :meth:`write` leaves out the rows equal to them. A runner calls this when it
        resumes. Returns how many rows were read."""
        self.stored = StoredRows.load(self.client, self.suffix, dossiers)
        return len(self.stored)

    def write(self, batch: Batch) -> int:
        """Insert the batch's rows table by table, then its tracking position. After
        :meth:`load_stored`, the rows equal to the stored ones are first taken out of the batch
        (rows still held as tuples; encoded lines are written as they are). Returns the number
        of rows written, the tracking row aside."""
        return self.write_together([(self.runner, batch)])

    def write_together(self, batches: Sequence[tuple[str, Batch]]) -> int:
        """Several runners' batches (in their order) as one: each table's rows of them all
        in one insert, then one insert of the tracking rows (each runner's latest
        position), after all the rows as in :meth:`write`. A worker holding several
        partitions writes their cycles so: fewer, larger inserts, as ClickHouse wants."""
        if self.stored is not None:
            for _, batch in batches:
                self.stored.leave_out_unchanged(batch)
        for name in WRITE_ORDER:
            held = [batch for _, batch in batches if batch.count(name)]
            self._insert(name, b"\n".join(batch.encoded(name) for batch in held),
                         sum(batch.count(name) for batch in held))
        now = utc_now()
        tracked = {runner: batch.position for runner, batch in batches if batch.position}
        self._insert(schema.TRACKING, b"\n".join(
            orjson.dumps((runner, position, now)) for runner, position in tracked.items()),
            len(tracked))
        return sum(len(batch) for _, batch in batches)

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

    def archived_position(self) -> int:
        """The last position in the event archive (0: none). Every position up to it is there:
        a cycle's events go in one insert, cycles in order, before their tracking row."""
        result = self.client.query(f"SELECT max(position) FROM {self.table(schema.EVENTS)}")
        value = result.result_rows[0][0] if result.result_rows else 0
        return int(value or 0)

    def drop(self) -> None:
        """Drop this writer's (suffixed) tables."""
        self.client.command(f"DROP VIEW IF EXISTS {self.table(schema.INDICATOR_HISTORY)}")
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
        self.client.command(f"DROP VIEW IF EXISTS {self.table(schema.INDICATOR_HISTORY)}")
        self.client.command(schema.indicator_view_ddl(live_suffix))

    def _exists(self, table: str) -> bool:
        result = self.client.query(
            "SELECT count() FROM system.tables WHERE database = currentDatabase() "
            "AND name = {name:String}", parameters={"name": table})
        return bool(result.result_rows[0][0])


# -- rows that replace earlier ones: what the tables hold, so that equal rows are left out --

Key = tuple[Any, ...]

AS_OF_FIELD = '"as_of":"[^"]*",'
"""A score's evaluation time in its JSON (``UnitScore.to_json``): bookkeeping like position and
computed_at (a score that has not changed keeps the row it has). The same pattern for
ClickHouse's re2 and Python's re; a quote inside a text is escaped, so only the field matches."""
_AS_OF_FIELD = re.compile(AS_OF_FIELD.encode())
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def _column(table: str, name: str) -> int:
    return schema.BY_NAME[table].column_names.index(name)


def _columns(table: str, names: tuple[str, ...]) -> Callable[[Row], Key]:
    """The named columns of a row of ``table``, as a tuple."""
    get = itemgetter(*(_column(table, name) for name in names))
    return get if len(names) > 1 else lambda row: (get(row),)


@dataclass(frozen=True, slots=True)
class Replacing:
    """A table whose rows replace the earlier rows of their key (``ReplacingMergeTree(version)``:
    the highest version stays, the last written among equals), and how a row's content is
    compared with the stored one's: a digest that leaves out bookkeeping, made the same way
    from a new row's tuple (``digest``) and from what ``stored_sql`` reads (the key columns,
    the version, then the columns ``stored_digest`` turns into the digest)."""

    table: str
    width: int  # how many key columns
    key: Callable[[Row], Key]  # the key columns of a row, as a tuple
    version: int  # index of the version column
    stored_sql: str  # "{table}" stands for the (suffixed) table
    digest: Callable[[Row], bytes]
    stored_digest: Callable[[tuple[Any, ...]], bytes]

    @classmethod
    def of(cls, table: str, key: tuple[str, ...], version: str, content_sql: str,
           digest: Callable[[Row], bytes], stored_digest: Callable[[tuple[Any, ...]], bytes]
           ) -> Replacing:
        sql = f"SELECT {', '.join(key)}, {version}, {content_sql} FROM {{table}} FINAL"
        return cls(table, len(key), _columns(table, key), _column(table, version), sql,
                   digest, stored_digest)


_PEER_GROUP = _column(schema.RANKINGS, "peer_group")
_SCORE_JSON = _column(schema.RANKINGS, "score_json")


def score_digest(row: Row) -> bytes:
    """A ``rankings_current`` row's content: its score's JSON without the evaluation time, and
    its peer group (every other column is in the JSON, or follows from it or from the key)."""
    text = row[_SCORE_JSON]
    data = orjson.dumps(text) if isinstance(text, orjson.Fragment) else (
        text.encode() if isinstance(text, str) else text)
    return _md5(row[_PEER_GROUP].encode() + _AS_OF_FIELD.sub(b"", data, count=1))


SCORES = Replacing.of(
    schema.RANKINGS, ("rulebook_id", "kind", "period", "unit"), "position",
    f"hex(MD5(concat(peer_group, replaceRegexpOne(score_json, '{AS_OF_FIELD}', ''))))",
    score_digest, lambda stored: bytes.fromhex(stored[0]))

FACT_BOOKKEEPING = ("evaluated_at",)
"""When a fact row was evaluated; its position (the dossier's last event) is content."""
_FACT_CONTENT = tuple((index, name, kind) for index, (name, kind)
                      in enumerate(schema.DOSSIER_FACTS_TABLE.columns)
                      if name not in FACT_BOOKKEEPING)


def _fact_value(value: Any, kind: str) -> Any:
    """A fact row's value as ClickHouse reads it back for :data:`FACTS` (times in µs)."""
    if value is None:
        return None
    if "DateTime64" in kind:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return (moment - _EPOCH) // _MICROSECOND
    return bool(value) if kind in ("Bool", "Nullable(Bool)") else value


def fact_digest(row: Row) -> bytes:
    """A ``dossier_facts`` row's content: every column but :data:`FACT_BOOKKEEPING`."""
    return _md5(orjson.dumps([_fact_value(row[i], kind) for i, _, kind in _FACT_CONTENT]))


FACTS = Replacing.of(
    schema.DOSSIER_FACTS, ("dossier_id",), "position",
    ", ".join(f"toUnixTimestamp64Micro({name})" if "DateTime64" in kind else name
              for _, name, kind in _FACT_CONTENT),
    fact_digest, lambda stored: _md5(orjson.dumps(stored)))

REPLACING = (FACTS, SCORES)

_SCORE_OF_ROW = {table: _columns(table, ("rulebook_id", "kind", "period", "unit", "position",
                                           "as_of"))
                 for table in (schema.RANKINGS, schema.SCORE_HISTORY)}
"""The columns that tie a unit score's ``score_history`` rows to its ``rankings_current`` row."""


class StoredRows:
    """What the tables hold of the rows that later rows replace: per table and key, the stored
    row's version and content digest. Each entry is consulted by the first row written for
    its key with at least its version, then forgotten: from there on the runner itself
    writes a row only when something changed (an event, a passing deadline, a score that
    differs from the one it last wrote)."""

    def __init__(self, entries: dict[str, dict[Key, tuple[int, bytes]]]) -> None:
        self.entries = entries

    @classmethod
    def load(cls, client: Client, suffix: str = "",
             dossiers: Collection[str] | None = None) -> StoredRows:
        """Read the latest row of every key of the :data:`REPLACING` tables (as FINAL);
        ``dossiers``: of the fact rows, only those of these dossiers."""
        entries: dict[str, dict[Key, tuple[int, bytes]]] = {}
        for spec in REPLACING:
            found = entries[spec.table] = {}
            width = spec.width
            sql = spec.stored_sql.format(table=f"{spec.table}{suffix}")
            # (the rows are read whole and filtered here: a WHERE … IN of tens of thousands
            # of ids took minutes on a FINAL read in chDB, the whole read seconds)
            wanted = dossiers if spec.table == schema.DOSSIER_FACTS else None
            if wanted is not None and not wanted:
                continue
            for row in _rows(client, sql):
                if wanted is None or row[0] in wanted:
                    found[tuple(row[:width])] = (int(row[width]),
                                                 spec.stored_digest(tuple(row[width + 1:])))
        return cls(entries)

    def __len__(self) -> int:
        return sum(len(found) for found in self.entries.values())

    def unchanged(self, spec: Replacing, row: Row) -> bool:
        """Whether ``row`` need not be written: equal to the stored row of its key (consulted,
        then forgotten), or older than it."""
        found = self.entries.get(spec.table)
        if not found:
            return False
        return not _changed(spec, found, row)

    def leave_out_unchanged(self, batch: Batch) -> None:
        """Take out of ``batch`` the rows equal to the stored ones, and those older than the
        stored ones (the store keeps its newer row, and the runner reaches it again); a score
        left out takes its ``score_history`` rows with it."""
        scores_left_out: list[Row] = []
        for spec in REPLACING:
            rows, found = batch.rows.get(spec.table), self.entries.get(spec.table)
            if rows and found:
                kept: list[Row] = []
                left_out: list[Row] = []
                for row in rows:
                    (kept if _changed(spec, found, row) else left_out).append(row)
                batch.rows[spec.table] = kept
                if spec is SCORES:
                    scores_left_out = left_out
        history = batch.rows.get(schema.SCORE_HISTORY)
        if scores_left_out and history:
            gone = set(map(_SCORE_OF_ROW[schema.RANKINGS], scores_left_out))
            score_of = _SCORE_OF_ROW[schema.SCORE_HISTORY]
            batch.rows[schema.SCORE_HISTORY] = [row for row in history
                                                if score_of(row) not in gone]


def _changed(spec: Replacing, found: dict[Key, tuple[int, bytes]], row: Row) -> bool:
    key = spec.key(row)
    stored = found.get(key)
    if stored is None:
        return True
    version, digest = stored
    if row[spec.version] < version:
        return False
    del found[key]
    return spec.digest(row) != digest


def _rows(client: Client, sql: str, parameters: dict[str, Any] | None = None
          ) -> Iterator[tuple[Any, ...]]:
    with client.query_row_block_stream(sql, parameters=parameters) as stream:
        for block in stream:
            yield from block
