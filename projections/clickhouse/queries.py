"""Reads of the live tables: the current ranking of a peer group, and the current score rows."""

from __future__ import annotations

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
        f"score_json FROM {schema.RANKINGS}{suffix} FINAL WHERE {where} "
        "ORDER BY isNull(rank), rank, unit", parameters=params)
    return [StoredScore(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), orjson.loads(r[6]))
            for r in result.result_rows]


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
        f"score_json FROM {schema.RANKINGS}{suffix} FINAL "
        "ORDER BY rulebook_id, period, position, unit")
    return [StoredScore(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), orjson.loads(r[6]))
            for r in result.result_rows]


def table_snapshot(client: Any, table: str, exclude: tuple[str, ...] = (),
                   suffix: str = "") -> list[tuple[Any, ...]]:
    """All rows of a table as FINAL shows them, sorted, without the ``exclude`` columns
    (to compare a live table with a rebuilt one)."""
    spec = schema.BY_NAME[table]
    columns = [c for c in spec.column_names if c not in exclude]
    result = client.query(f"SELECT {', '.join(columns)} FROM {table}{suffix} FINAL "
                          f"ORDER BY {', '.join(columns)}")
    return [tuple(row) for row in result.result_rows]
