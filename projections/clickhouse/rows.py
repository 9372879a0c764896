"""Conversion of envelopes, dossier facts and scores into ClickHouse rows (schema order)."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

import orjson

from domain.calendar import WorkingCalendar
from projections.facts import DossierFacts
from projections.judge import dossier_timeliness
from projections.periods import Instant
from projections.rows import dossier_row
from projections.rulebook import Switches
from projections.scores import ENCODED_KEPT, GroupScore, UnitScore, display_round

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
    position, copied verbatim, personal references pseudonymised in place."""
    data = envelope.get("data")
    if "sealed" in envelope:  # sealed personal data (ledger.personal): no column for its box
        plain = {k: v for k, v in envelope.items() if k != "sealed"}
        return orjson.dumps({**plain, "data": pseudonymised(data or {}, key)},
                            option=orjson.OPT_SORT_KEYS)
    line = b'{"position":%d,%s' % (envelope["position"], stored[1:])
    if data and not PERSONAL_FIELDS.isdisjoint(data):
        return _pseudonymised_line(line, envelope, data, key)
    return line


def _pseudonymised_line(line: bytes, envelope: dict[str, Any], data: dict[str, Any],
                        key: bytes) -> bytes:
    """``line`` with each personal value of ``data`` replaced by its keyed hash.

    The stored JSON is canonical (orjson, sorted keys), so a field reads ``"name":<the value's
    orjson encoding>``; that text cannot occur inside a string, whose quotes are escaped. A
    field found other than once (the same key and value in a nested object too, or stored
    bytes not canonical) makes the whole envelope be encoded again instead.
    """
    for name in sorted(PERSONAL_FIELDS.intersection(data)):
        value = data[name]
        if value is None:
            continue
        label = orjson.dumps(name) + b":"
        found = label + orjson.dumps(value)
        if line.count(found) != 1:
            return orjson.dumps({**envelope, "data": pseudonymised(data, key)},
                                option=orjson.OPT_SORT_KEYS)
        line = line.replace(found, label + orjson.dumps(pseudonym(str(value), key)))
    return line


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


class FactRows:
    """``dossier_facts`` rows under one rulebook's switches and working calendar: the
    reference of the compiled ``projections.clickhouse._fact_rows.FactRows``."""

    def __init__(self, switches: Switches, calendar: WorkingCalendar) -> None:
        self.switches, self.calendar = switches, calendar

    def row(self, facts: DossierFacts, t: Instant, province: str, evaluated_at: datetime,
            position: int) -> tuple[Row, Instant | None]:
        """(row, deadline): the row of a dossier at t, and the instant after which it turns
        late with no event when it is open on time (None otherwise)."""
        row = dossier_row(facts, t, self.switches, self.calendar)
        deadline = None
        if row["status"] == "open":
            deadline = dossier_timeliness(facts, t, self.switches.apology_extends_due)[2]
        return fact_row(row, province, evaluated_at, position), deadline


def history_rows(score: UnitScore, computed_at: datetime) -> list[Row]:
    """The ``score_history`` row of a unit score: its totals, and its indicators in parallel
    arrays (times as RFC 3339 text)."""
    return [(score.rulebook_id, score.rulebook_version, score.unit, score.kind, score.period,
             score.total, score.band, score.rank, *_arrays(score.groups),
             score.position, score.as_of.isoformat(), score.evaluated_at.isoformat(),
             computed_at.isoformat())]


_ARRAYS: dict[int, tuple[tuple[GroupScore, ...], tuple[orjson.Fragment, ...]]] = {}


def _arrays(groups: tuple[GroupScore, ...]) -> tuple[orjson.Fragment, ...]:
    """The ten array columns of a score's groups, encoded once per distinct groups (the
    score memo hands out the same tuple for the same counts; kept with it, so its id is not
    reused while the entry lives)."""
    found = _ARRAYS.get(id(groups))
    if found is None or found[0] is not groups:
        if len(_ARRAYS) >= ENCODED_KEPT:
            _ARRAYS.clear()
        indicators = [(group.code, i) for group in groups for i in group.indicators]
        columns = ([g.code for g in groups], [g.points for g in groups],
                   [i.code for _, i in indicators], [code for code, _ in indicators],
                   [i.applicable for _, i in indicators], [i.numerator for _, i in indicators],
                   [i.denominator for _, i in indicators], [i.ratio for _, i in indicators],
                   [i.points for _, i in indicators], [i.max for _, i in indicators])
        found = _ARRAYS[id(groups)] = (
            groups, tuple(orjson.Fragment(orjson.dumps(c)) for c in columns))
    return found[1]


def ranking_row(score: UnitScore, peer_group: str, computed_at: datetime,
                checkpoint: int = 0) -> Row:
    """One ``rankings_current`` row; ``score_json`` is the full ``UnitScore.to_json()``, embedded
    in the row's JSON as an object (ClickHouse stores its text in the String column: no
    escaping on either side); ``checkpoint``: the size of a signed checkpoint of the ledger
    covering the score's position (0: none)."""
    return (
        score.rulebook_id, score.rulebook_version, score.kind, peer_group, score.period,
        score.unit, score.unit_name, score.total, display_round(score.total), score.band,
        score.rank, orjson.Fragment(score.json_bytes()), score.position,
        checkpoint, score.as_of.isoformat(),
        score.evaluated_at.isoformat(), computed_at.isoformat(),
    )
