"""Conversion of envelopes, dossier facts and scores into ClickHouse rows (schema order)."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

import orjson

from projections.scores import UnitScore, display_round

Row = tuple[Any, ...]
PERSONAL_FIELDS = frozenset({"applicant_ref"})


def pseudonym(value: str, key: bytes) -> str:
    """A keyed hash (HMAC-SHA256, hex) of a personal reference: stable, not reversible."""
    return hmac.digest(key, value.encode("utf-8"), "sha256").hex()


def pseudonymised(data: dict[str, Any], key: bytes) -> dict[str, Any]:
    """``data`` with every personal field replaced by its keyed hash."""
    if PERSONAL_FIELDS.isdisjoint(data):
        return data
    return {k: pseudonym(str(v), key) if k in PERSONAL_FIELDS and v is not None else v
            for k, v in data.items()}


def event_line(envelope: dict[str, Any], stored: bytes, key: bytes) -> bytes:
    """One ``dossier_events`` row as a JSONEachRow line (``data`` is read as its JSON text, the
    times as RFC 3339; see ``writer.JSON_SETTINGS``): the stored canonical JSON with its
    position, copied verbatim, unless personal references must be pseudonymised first."""
    data = envelope.get("data")
    if data and not PERSONAL_FIELDS.isdisjoint(data):
        return orjson.dumps({**envelope, "data": pseudonymised(data, key)},
                            option=orjson.OPT_SORT_KEYS)
    return b'{"position":%d,%s' % (envelope["position"], stored[1:])


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
    """``score_history`` rows: one per indicator, with the group's and the unit's totals (times
    as RFC 3339 text, encoded once per score)."""
    head = (score.rulebook_id, score.rulebook_version, score.unit, score.kind, score.period)
    tail = (score.total, score.band, score.rank, score.position, score.as_of.isoformat(),
            score.evaluated_at.isoformat(), computed_at.isoformat())
    return [(*head, group.code, i.code, i.applicable, i.numerator, i.denominator, i.ratio,
             i.points, i.max, group.points, *tail)
            for group in score.groups for i in group.indicators]


def ranking_row(score: UnitScore, peer_group: str, computed_at: datetime) -> Row:
    """One ``rankings_current`` row; ``score_json`` is the full ``UnitScore.to_json()``."""
    return (
        score.rulebook_id, score.rulebook_version, score.kind, peer_group, score.period,
        score.unit, score.unit_name, score.total, display_round(score.total), score.band,
        score.rank, orjson.dumps(score.to_json()).decode(), score.position, score.as_of.isoformat(),
        score.evaluated_at.isoformat(), computed_at.isoformat(),
    )
