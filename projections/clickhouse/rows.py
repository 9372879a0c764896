"""Conversion of envelopes, dossier facts and scores into ClickHouse rows (schema order)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from projections.periods import parse_instant
from projections.scores import UnitScore, display_round

Row = tuple[Any, ...]
PERSONAL_FIELDS = ("applicant_ref",)


def pseudonym(value: str, key: bytes) -> str:
    """A keyed hash (HMAC-SHA256, hex) of a personal reference: stable, not reversible."""
    return hmac.digest(key, value.encode("utf-8"), "sha256").hex()


def pseudonymised(data: dict[str, Any], key: bytes) -> dict[str, Any]:
    """``data`` with every personal field replaced by its keyed hash."""
    if not any(name in data for name in PERSONAL_FIELDS):
        return data
    return {k: pseudonym(str(v), key) if k in PERSONAL_FIELDS and v is not None else v
            for k, v in data.items()}


def event_columns(envelopes: Sequence[dict[str, Any]], key: bytes) -> list[list[Any]]:
    """``dossier_events`` rows of many envelopes, column by column: personal references never
    leave in clear; DateTime64(6) takes microsecond ticks (the engine's cached parser, no
    datetimes)."""
    columns: list[list[Any]] = [[] for _ in range(10)]
    (positions, streams, ids, seqs, types, ats, recorded, prev_hashes, hashes,
     datas) = columns
    dumps, sort_keys = orjson.dumps, orjson.OPT_SORT_KEYS
    for envelope in envelopes:
        positions.append(envelope["position"])
        streams.append(envelope["stream"])
        ids.append(envelope["id"])
        seqs.append(envelope["seq"])
        types.append(envelope["type"])
        ats.append(parse_instant(envelope["at"]))
        recorded.append(parse_instant(envelope["recorded_at"]))
        prev_hashes.append(envelope.get("prev_hash") or "")
        hashes.append(envelope.get("hash") or "")
        datas.append(dumps(pseudonymised(envelope.get("data") or {}, key),
                           option=sort_keys).decode())
    return columns


FACT_FIELDS = (
    "dossier_id", "code", "procedure", "unit", "province", "channel", "applicant_kind",
    "submitted_at", "received_at", "refused", "due_at", "end_at", "adjusted_end_at", "status",
    "on_time", "processing_working_days", "statutory_days", "paid_online", "digitized",
    "reused", "personal_store", "population_db", "electronic_result", "synced",
    "rated_satisfied", "named_by_petition", "five_on_the_spot",
)


def fact_row(row: dict[str, Any], province: str, evaluated_at: datetime, position: int) -> Row:
    """One ``dossier_facts`` row from ``projections.rows.dossier_row`` at ``evaluated_at``;
    ``position`` is the last ledger position that changed this dossier."""
    values = dict(row, province=province)
    return (*(values[name] for name in FACT_FIELDS), evaluated_at, position)


def history_rows(score: UnitScore, computed_at: datetime) -> list[Row]:
    """``score_history`` rows: one per indicator, with the group's and the unit's totals."""
    rows: list[Row] = []
    for group in score.groups:
        for i in group.indicators:
            rows.append((
                score.rulebook_id, score.rulebook_version, score.unit, score.kind, score.period,
                group.code, i.code, i.applicable, i.numerator, i.denominator, i.ratio, i.points,
                i.max, group.points, score.total, score.band, score.rank, score.position,
                score.as_of, score.evaluated_at, computed_at,
            ))
    return rows


def ranking_row(score: UnitScore, peer_group: str, computed_at: datetime) -> Row:
    """One ``rankings_current`` row; ``score_json`` is the full ``UnitScore.to_json()``."""
    return (
        score.rulebook_id, score.rulebook_version, score.kind, peer_group, score.period,
        score.unit, score.unit_name, score.total, display_round(score.total), score.band,
        score.rank, orjson.dumps(score.to_json()).decode(), score.position, score.as_of,
        score.evaluated_at, computed_at,
    )
