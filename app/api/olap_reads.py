"""The live tables as the API reads them: rankings and scores as stored (with the ledger
position and moment they reflect), a unit's total over time, the periods ranked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from app.console import local_text
from projections.clickhouse import schema
from projections.clickhouse.queries import ranked_periods, ranking_scores, tracked_positions

SERIES_POINTS = 500


def _micros(value: int) -> str:
    return local_text(datetime.fromtimestamp(value / 1_000_000, UTC))


def ranking(client: Any, *, period: str, kind: str, rulebook: str, province: str | None
            ) -> list[dict[str, Any]]:
    """``rank --json`` objects, best first, each with ``as_of`` (local time) and
    ``position``."""
    stored = ranking_scores(client, period=period, kind=kind, rulebook=rulebook,
                            province=province)
    return [s.score | {"as_of": local_text(datetime.fromisoformat(s.score["as_of"])),
                       "position": s.position} for s in stored]


def unit_score(client: Any, *, unit: str, period: str, rulebook: str) -> dict[str, Any] | None:
    result = client.query(
        f"SELECT score_json, position FROM {schema.RANKINGS} FINAL "
        "WHERE rulebook_id = {rulebook:String} AND period = {period:String} "
        "AND unit = {unit:String} LIMIT 1",
        parameters={"rulebook": rulebook, "period": period, "unit": unit})
    if not result.result_rows:
        return None
    score_json, position = result.result_rows[0]
    score: dict[str, Any] = orjson.loads(score_json)
    return score | {"as_of": local_text(datetime.fromisoformat(score["as_of"])),
                    "position": int(position)}


def score_series(client: Any, *, unit: str, period: str, rulebook: str
                 ) -> list[dict[str, Any]]:
    """The unit's total after each recomputation (the last ``SERIES_POINTS``), oldest first."""
    result = client.query(
        "SELECT toUnixTimestamp64Micro(as_of) AS t, position, argMax(total, computed_at) "
        f"FROM {schema.SCORE_HISTORY} "
        "WHERE rulebook_id = {rulebook:String} AND unit = {unit:String} "
        "AND period = {period:String} GROUP BY t, position ORDER BY position DESC, t DESC "
        "LIMIT {limit:UInt32}",
        parameters={"rulebook": rulebook, "unit": unit, "period": period,
                    "limit": SERIES_POINTS})
    rows = sorted(result.result_rows, key=lambda r: (int(r[1]), int(r[0])))
    return [{"as_of": _micros(int(t)), "position": int(p), "total": float(total)}
            for t, p, total in rows]


def periods(client: Any, *, kind: str, rulebook: str) -> list[str]:
    return list(ranked_periods(client, kind=kind, rulebook=rulebook))


def tracked(client: Any) -> int:
    return tracked_positions(client)
