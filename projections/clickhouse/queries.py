"""Reads of the live tables: the current ranking of a peer group, and the current score rows."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import orjson

from projections.clickhouse import schema


@dataclass(frozen=True, slots=True)
class RankingRow:
    """One unit's line in a live ranking (bảng xếp hạng)."""

    rank: int | None
    unit: str
    unit_name: str
    total: float
    band: str
    position: int
    as_of_us: int


@dataclass(frozen=True, slots=True)
class StoredScore:
    """A current score row as stored: what it claims and where it was computed."""

    rulebook_id: str
    kind: str
    period: str
    unit: str
    position: int
    as_of_us: int
    score: dict[str, Any]
    checkpoint: int = 0  # the size of the signed checkpoint covering position (0: none)


def current_ranking(client: Any, *, period: str, kind: str = "province",
                    rulebook: str = "vn-766", province: str | None = None,
                    suffix: str = "") -> list[RankingRow]:
    """The latest ranking of one kind of unit (within ``province`` for departments and
    communes), best first."""
    where = ["rulebook_id = {rulebook:String}", "kind = {kind:String}",
             "period = {period:String}"]
    params: dict[str, Any] = {"rulebook": rulebook, "kind": kind, "period": period}
    if province is not None:
        where.append("peer_group = {province:String}")
        params["province"] = province
    result = client.query(
        f"SELECT rank, unit, unit_name, total, band, position, toUnixTimestamp64Micro(as_of) "
        f"FROM {schema.RANKINGS}{suffix} FINAL WHERE {' AND '.join(where)} "
        "ORDER BY isNull(rank), rank, unit", parameters=params)
    return [RankingRow(*row) for row in result.result_rows]


def ranking_scores(client: Any, *, period: str, kind: str = "province",
                   rulebook: str = "vn-766", province: str | None = None,
                   suffix: str = "") -> list[StoredScore]:
    """The stored scores of one peer group's latest ranking (``score`` is the unit's full
    score object, as ``dossier rank --json`` prints it), best first."""
    where, params = _peer_group(period=period, kind=kind, rulebook=rulebook,
                                province=province)
    result = client.query(
        "SELECT rulebook_id, kind, period, unit, position, toUnixTimestamp64Micro(as_of), "
        f"score_json, checkpoint FROM {schema.RANKINGS}{suffix} FINAL WHERE {where} "
        "ORDER BY isNull(rank), rank, unit", parameters=params)
    return [StoredScore(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), orjson.loads(r[6]),
                        int(r[7])) for r in result.result_rows]


def ranked_periods(client: Any, *, kind: str = "province", rulebook: str = "vn-766",
                   suffix: str = "") -> list[str]:
    """The periods a kind of unit is ranked for in the stored rankings."""
    result = client.query(
        f"SELECT DISTINCT period FROM {schema.RANKINGS}{suffix} "
        "WHERE rulebook_id = {rulebook:String} AND kind = {kind:String} ORDER BY period",
        parameters={"rulebook": rulebook, "kind": kind})
    return [row[0] for row in result.result_rows]


def _peer_group(*, period: str, kind: str, rulebook: str, province: str | None
                ) -> tuple[str, dict[str, Any]]:
    where = ["rulebook_id = {rulebook:String}", "kind = {kind:String}",
             "period = {period:String}"]
    params: dict[str, Any] = {"rulebook": rulebook, "kind": kind, "period": period}
    if province is not None:
        where.append("peer_group = {province:String}")
        params["province"] = province
    return " AND ".join(where), params


def current_scores(client: Any, suffix: str = "") -> list[StoredScore]:
    """Every current score row (latest per rulebook, kind, period and unit)."""
    result = client.query(
        "SELECT rulebook_id, kind, period, unit, position, toUnixTimestamp64Micro(as_of), "
        f"score_json, checkpoint FROM {schema.RANKINGS}{suffix} FINAL "
        "ORDER BY rulebook_id, period, position, unit")
    return [StoredScore(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), orjson.loads(r[6]),
                        int(r[7])) for r in result.result_rows]


def table_snapshot(client: Any, table: str, exclude: tuple[str, ...] = (),
                   suffix: str = "") -> list[tuple[Any, ...]]:
    """All rows of a table as FINAL shows them, sorted, without the ``exclude`` columns
    (to compare a live table with a rebuilt one)."""
    spec = schema.BY_NAME[table]
    columns = [c for c in spec.column_names if c not in exclude]
    result = client.query(f"SELECT {', '.join(columns)} FROM {table}{suffix} FINAL "
                          f"ORDER BY {', '.join(columns)}")
    return [tuple(row) for row in result.result_rows]


# -- reads of the auditors' check (``dossier verify --scores``) --------------------------

ScoreKey = tuple[str, str, str, str]
"""A ``rankings_current`` key: rulebook id, kind, period, unit."""
HistoryKey = tuple[str, str, str]
"""A unit score's ``score_history`` rows: rulebook id, unit, period."""


def _columns(table: str, *, micro: bool = False) -> str:
    """The table's columns in schema order (``micro``: times as µs since the epoch, integers
    that are cheaper to read back and compare than datetimes)."""
    return ", ".join(f"toUnixTimestamp64Micro({name})" if micro and "DateTime64" in kind
                     else name for name, kind in schema.BY_NAME[table].columns)


def score_keys(client: Any) -> set[ScoreKey]:
    """The key of every current score row."""
    result = client.query(f"SELECT rulebook_id, kind, period, unit FROM {schema.RANKINGS} FINAL")
    return {(r[0], r[1], r[2], r[3]) for r in result.result_rows}


def score_rows_by_position(client: Any, block_rows: int = 1000
                           ) -> Generator[tuple[Any, ...], None, None]:
    """Every current ``rankings_current`` row (every column, schema order), by position, read
    as a stream of blocks of ``block_rows`` (the client runs no other query meanwhile)."""
    sql = (f"SELECT {_columns(schema.RANKINGS)} FROM {schema.RANKINGS} FINAL "
           "ORDER BY position, rulebook_id, period, kind, unit")
    with client.query_row_block_stream(sql, settings={"max_block_size": block_rows}) as stream:
        for block in stream:
            yield from (tuple(row) for row in block)


def latest_history(client: Any, block_rows: int = 20_000
                   ) -> Generator[tuple[Any, ...], None, None]:
    """The latest ``score_history`` row (FINAL; latest by position, as_of, computed_at) of every
    unit score, one row per indicator (:data:`schema.INDICATOR_HISTORY_COLUMNS`, times in µs
    since the epoch), by rulebook, unit and period, read as a stream of blocks (the client runs
    no other query meanwhile)."""
    columns = ", ".join(
        f"toUnixTimestamp64Micro({name})" if "DateTime64" in kind
        else f"{schema.EXPANDED[name]} AS {name}" if name in schema.EXPANDED else name
        for name, kind in schema.INDICATOR_HISTORY_COLUMNS)
    sql = (f"SELECT {columns} FROM (SELECT * FROM {schema.SCORE_HISTORY} FINAL "
           "ORDER BY rulebook_id, unit, period, position DESC, as_of DESC, computed_at DESC "
           "LIMIT 1 BY rulebook_id, unit, period) "
           "ARRAY JOIN arrayEnumerate(indicators) AS i ORDER BY rulebook_id, unit, period, i")
    with client.query_row_block_stream(sql, settings={"max_block_size": block_rows}) as stream:
        for block in stream:
            yield from (tuple(row) for row in block)


def archive_rows(client: Any, first: int, last: int) -> list[tuple[Any, ...]]:
    """The ``dossier_events`` rows (FINAL) of positions ``first`` to ``last``, in order."""
    result = client.query(
        f"SELECT {_columns(schema.EVENTS)} FROM {schema.EVENTS} FINAL "
        "WHERE position BETWEEN {first:UInt64} AND {last:UInt64} ORDER BY position",
        parameters={"first": first, "last": last})
    return [tuple(row) for row in result.result_rows]


def archive_positions_after(client: Any, position: int, limit: int = 1000) -> list[int]:
    """Positions in ``dossier_events`` after ``position`` (the first ``limit``)."""
    result = client.query(
        f"SELECT DISTINCT position FROM {schema.EVENTS} WHERE position > {{position:UInt64}} "
        "ORDER BY position LIMIT {limit:UInt32}",
        parameters={"position": position, "limit": limit})
    return [int(r[0]) for r in result.result_rows]


def fact_rows_after(client: Any, dossier_id: str, limit: int) -> list[tuple[Any, ...]]:
    """The next ``limit`` ``dossier_facts`` rows (FINAL) after ``dossier_id``, by dossier id
    (every column, schema order)."""
    result = client.query(
        f"SELECT {_columns(schema.DOSSIER_FACTS)} FROM {schema.DOSSIER_FACTS} FINAL "
        "WHERE dossier_id > {after:String} ORDER BY dossier_id LIMIT {limit:UInt32}",
        parameters={"after": dossier_id, "limit": limit})
    return [tuple(row) for row in result.result_rows]


@dataclass(frozen=True, slots=True)
class Extent:
    """How much a table holds, as FINAL shows it: rows, and the highest position."""

    rows: int
    position: int


def extent(client: Any, table: str) -> Extent:
    """Rows (FINAL) and highest position of ``dossier_events``, ``dossier_facts`` or
    ``rankings_current``."""
    result = client.query(f"SELECT count(), max(position) FROM {table} FINAL")
    rows, position = result.result_rows[0] if result.result_rows else (0, 0)
    return Extent(int(rows or 0), int(position or 0))


def latest_fact_evaluation(client: Any) -> int | None:
    """The latest ``evaluated_at`` of ``dossier_facts`` in µs since the epoch (None: empty)."""
    result = client.query(f"SELECT count(), toUnixTimestamp64Micro(max(evaluated_at)) "
                          f"FROM {schema.DOSSIER_FACTS} FINAL")
    rows, latest = result.result_rows[0]
    return int(latest) if rows else None


def tracked_positions(client: Any) -> int:
    """The highest position any runner tracks as written (0: none)."""
    result = client.query(f"SELECT max(position) FROM {schema.TRACKING}")
    value = result.result_rows[0][0] if result.result_rows else 0
    return int(value or 0)
