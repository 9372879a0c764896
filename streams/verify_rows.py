"""The rows ClickHouse should hold, recomputed from the ledger's facts, beside the stored ones:
each difference names its table, its key and its column."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from domain.units import UnitKind
from projections.clickhouse import schema
from projections.clickhouse.queries import ScoreKey
from projections.clickhouse.rows import FactRows, pseudonymised
from projections.facts import FactStore
from projections.periods import (
    InvalidPeriod,
    Period,
    parse_instant,
    parse_period,
    to_datetime,
)
from projections.recompute import SnapshotScores
from projections.rulebook import DEFAULT_RULEBOOK, SHIPPED, load_rulebook
from projections.scores import UnitScore, display_round

TOLERANCE = 1e-9
Row = tuple[Any, ...]
_EPOCH = datetime(1970, 1, 1)  # ClickHouse's DateTime64(6, 'UTC') reads back naive, in UTC


@dataclass(frozen=True, slots=True)
class Difference:
    """A column of a stored row that differs from its recomputation (``source``: where the
    recomputed value comes from when it is not the ledger alone)."""

    table: str
    key: str
    column: str
    stored: Any
    recomputed: Any
    source: str = ""

    def describe(self) -> str:
        source = f" ({self.source})" if self.source else ""
        return (f"{self.table} {self.key}: {self.column} stored {_shown(self.stored)}, "
                f"recomputed {_shown(self.recomputed)}{source}")


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return _aware(value).isoformat()
    text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _utc(instant: int) -> datetime:
    """An instant as ClickHouse returns a DateTime64(6, 'UTC'): naive, in UTC."""
    return _EPOCH + timedelta(microseconds=instant)


def _instant(moment: datetime) -> int:
    return (_aware(moment) - _EPOCH.replace(tzinfo=UTC)) // timedelta(microseconds=1)


def _naive(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def same(stored: Any, recomputed: Any) -> bool:
    """Equal, floats within :data:`TOLERANCE`; a bool equals only a bool."""
    if isinstance(stored, bool) or isinstance(recomputed, bool):
        return type(stored) is type(recomputed) and stored == recomputed
    if isinstance(stored, float | int) and isinstance(recomputed, float | int):
        return abs(stored - recomputed) <= TOLERANCE
    return bool(stored == recomputed)


def _columns(table: str, stored: Row, recomputed: Row, key: str,
             source: dict[str, str] | None = None) -> list[Difference]:
    """The columns of ``table`` where two rows (schema order) differ."""
    if stored == recomputed:
        return []
    names = schema.BY_NAME[table].column_names
    return [Difference(table, key, name, a, b, (source or {}).get(name, ""))
            for name, a, b in zip(names, stored, recomputed, strict=True) if not same(a, b)]


# -- dossier_events ----------------------------------------------------------------------

def compare_event(stored: Row | None, envelope: dict[str, Any], key: bytes, *,
                  required: bool) -> list[Difference]:
    """The archive row of a ledger event: the event as the ledger holds it at its position,
    personal references pseudonymised with ``key`` (``required``: the row must be there)."""
    position = envelope["position"]
    name = f"position {position}"
    if stored is None:
        return [Difference(schema.EVENTS, name, "row", "absent", "present")] if required \
            else []
    data = envelope.get("data")
    expected = (position, envelope.get("stream"), envelope.get("id"), envelope.get("seq"),
                envelope.get("type"), _utc(parse_instant(envelope["at"])),
                _utc(parse_instant(envelope["recorded_at"])), envelope.get("prev_hash"),
                envelope.get("hash"), "" if data is None else pseudonymised(data, key))
    found = _columns(schema.EVENTS, stored[:-1], expected[:-1], name)
    text, data = stored[-1], expected[-1]
    try:
        stored_data = orjson.loads(text) if text else ""
    except orjson.JSONDecodeError:
        return [*found, Difference(schema.EVENTS, name, "data", text, data)]
    if _canonical(stored_data) != _canonical(data):  # exact: true is not 1 there
        leaves = _leaves(stored_data, data, "") if isinstance(data, dict) else []
        found += [Difference(schema.EVENTS, name, f"data{path}", a, b) for path, a, b in leaves
                  if _canonical(a) != _canonical(b)] or [
            Difference(schema.EVENTS, name, "data", text, data)]
    return found


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


# -- dossier_facts -----------------------------------------------------------------------

_FACT_ROWS: dict[str, FactRows] = {}


def _fact_rows() -> FactRows:
    """The reference fact rows under the default rulebook (as the live runner writes them)."""
    found = _FACT_ROWS.get(DEFAULT_RULEBOOK)
    if found is None:
        book = load_rulebook(DEFAULT_RULEBOOK)
        found = _FACT_ROWS[DEFAULT_RULEBOOK] = FactRows(book.switches, book.working_calendar())
    return found


def compare_facts(stored: Row, store: FactStore, last_touched: dict[str, int]
                  ) -> list[Difference]:
    """A ``dossier_facts`` row against the reference row of its dossier's facts at its
    ``evaluated_at``; its position is the dossier's last event."""
    dossier_id = stored[0]
    name = f"dossier {dossier_id}"
    facts = store.dossiers.get(dossier_id)
    if facts is None:
        return [Difference(schema.DOSSIER_FACTS, name, "row", "present",
                           "absent (no such dossier in the ledger)")]
    evaluated_at = _aware(stored[-2])
    t = _instant(evaluated_at)
    found: list[Difference] = []
    if facts.submitted_at > t:  # rows are written from the dossier's submission on
        found.append(Difference(schema.DOSSIER_FACTS, name, "evaluated_at", evaluated_at,
                                f"at or after {to_datetime(facts.submitted_at).isoformat()}",
                                "the dossier's submission"))
    units = store.units
    province = (units.province_of(facts.unit) if facts.unit in units else None) or ""
    row, _ = _fact_rows().row(facts, t, province, evaluated_at,
                              last_touched.get(dossier_id, 0))
    return found + _columns(schema.DOSSIER_FACTS, stored, tuple(map(_naive, row)), name)


def missing_fact_rows(store: FactStore, seen: set[str], latest: int | None,
                      position: int) -> list[Difference]:
    """Dossiers submitted by the latest evaluation of any fact row that have no row."""
    if latest is None:
        latest = -1
    return [Difference(schema.DOSSIER_FACTS, f"dossier {dossier_id}", "row", "absent",
                       f"present (submitted by {_utc(latest).isoformat()}Z, folded by "
                       f"position {position})")
            for dossier_id, facts in store.dossiers.items()
            if dossier_id not in seen and facts.submitted_at <= latest]


# -- rankings_current and score_history ---------------------------------------------------

R = {name: index for index, name in enumerate(schema.RANKINGS_TABLE.column_names)}
H = {name: index for index, name in enumerate(schema.SCORE_HISTORY_TABLE.column_names)}
COORDINATES = ("position", "as_of", "computed_at")
"""What a unit score's rows share and no recomputation gives (when and at which position it
was written): the ``rankings_current`` row and its ``score_history`` rows must agree."""


def compare_score(stored: Row, history: Sequence[Row], scores: SnapshotScores,
                  scored: set[ScoreKey], reported: set[Any]) -> list[Difference]:
    """A current score row, and the latest ``score_history`` row of each of its indicators,
    against the score recomputed at the row's position (the fold stands there) and as_of.
    ``scored``: every current score key (a peer without a row is named once, in
    ``reported``)."""
    rulebook_id, kind, period_key, unit = (stored[R["rulebook_id"]], stored[R["kind"]],
                                           stored[R["period"]], stored[R["unit"]])
    as_of = _instant(stored[R["as_of"]])
    name = (f"{rulebook_id} {kind} {unit} {period_key} @position {stored[R['position']]} "
            f"as_of {_aware(stored[R['as_of']]).isoformat()}")
    score, period, why = _recomputed(scores, rulebook_id, period_key, unit, as_of)
    if score is None or period is None:
        return [Difference(schema.RANKINGS, name, *why)]
    found = _unscored_peers(scores, score, period, as_of, scored, reported)
    coordinates = _agreed(stored, history)
    t = period.evaluation_time(as_of)
    units = scores.store.units
    expected: Row = (
        rulebook_id, score.rulebook_version, score.kind,
        (units.province_of(unit) or "")
        if score.kind in (UnitKind.DEPARTMENT, UnitKind.COMMUNE) else "",
        period_key, unit, score.unit_name, score.total, display_round(score.total),
        score.band, score.rank, stored[R["score_json"]], coordinates["position"],
        _utc(min(as_of, period.last)), _utc(t), coordinates["computed_at"])
    source = {c: "its score_history rows" for c in COORDINATES
              if coordinates[c] != stored[R[c]]}
    if not source.get("position") and scores.store.position != stored[R["position"]]:
        expected = (*expected[:R["position"]], scores.store.position,
                    *expected[R["position"] + 1:])
        source["position"] = "the last scored event at or before it"
    found += _columns(schema.RANKINGS, stored, expected, name, source)
    found += _score_json(stored[R["score_json"]], score, name)
    found += _history(history, score, period, coordinates, (rulebook_id, unit, period_key))
    return found


def _recomputed(scores: SnapshotScores, rulebook_id: str, period_key: str, unit: str,
                as_of: int) -> tuple[UnitScore | None, Period | None, tuple[str, Any, Any]]:
    """The recomputed score, or why there is none: (column, stored, what it should be)."""
    if rulebook_id not in SHIPPED:
        return None, None, ("rulebook_id", rulebook_id, f"one of {', '.join(SHIPPED)}")
    try:
        period = parse_period(period_key)
    except InvalidPeriod:
        return None, None, ("period", period_key, "a month, quarter or year")
    if unit not in scores.store.units:
        return None, period, ("unit", unit,
                              f"a unit of the ledger (none such at position "
                              f"{scores.store.position})")
    return scores.score(unit, period, as_of, load_rulebook(rulebook_id)), period, ("", "", "")


def _unscored_peers(scores: SnapshotScores, score: UnitScore, period: Period, as_of: int,
                    scored: set[ScoreKey], reported: set[Any]) -> list[Difference]:
    """Peers ranked with the unit (so written with it) that have no current score row."""
    key = scores.peer_key(score.unit)
    if key is None:
        return []
    group = (score.rulebook_id, period.key, key)
    peers = scores.peers(key, period.evaluation_time(as_of))
    if (group, len(peers)) in reported:
        return []
    reported.add((group, len(peers)))
    return [Difference(schema.RANKINGS, f"{score.rulebook_id} {score.kind} {peer} {period.key}",
                       "row", "absent", f"present (ranked with {score.unit})")
            for peer in peers if (score.rulebook_id, score.kind, period.key, peer) not in scored]


def _agreed(stored: Row, history: Sequence[Row]) -> dict[str, Any]:
    """Each coordinate as most of the score's rows (ranking and history) have it."""
    agreed = {}
    for column in COORDINATES:
        votes = Counter([stored[R[column]], *(row[H[column]] for row in history)])
        value, count = votes.most_common(1)[0]
        agreed[column] = value if count * 2 > len(history) + 1 else stored[R[column]]
    return agreed


def _score_json(text: str, score: UnitScore, name: str) -> list[Difference]:
    try:
        stored = orjson.loads(text)
    except orjson.JSONDecodeError:
        return [Difference(schema.RANKINGS, name, "score_json", text, "a JSON object")]
    fresh = score.to_json()
    if isinstance(stored, dict) and isinstance(stored.get("as_of"), str):
        try:
            if parse_instant(stored["as_of"]) == _instant(score.as_of):
                fresh["as_of"] = stored["as_of"]  # the same instant, written in another offset
        except ValueError:
            pass
    if stored == fresh:
        return []
    return [Difference(schema.RANKINGS, name, f"score_json{path}", a, b)
            for path, a, b in _leaves(stored, fresh, "")]


def _leaves(stored: Any, fresh: Any, path: str) -> list[tuple[str, Any, Any]]:
    """(path, stored, recomputed) of the JSON leaves that differ; list items with a ``code``
    (groups, indicators) are paired by it."""
    if isinstance(stored, dict) and isinstance(fresh, dict):
        found = []
        for k in [*fresh, *(k for k in stored if k not in fresh)]:
            found += _leaves(stored.get(k), fresh.get(k), f"{path}.{k}")
        return found
    if isinstance(stored, list) and isinstance(fresh, list):
        def keyed(items: list[Any]) -> dict[str, Any]:
            return {str(item["code"]) if isinstance(item, dict) and "code" in item else str(i):
                    item for i, item in enumerate(items)}
        mine, theirs = keyed(stored), keyed(fresh)
        return [leaf for k in [*theirs, *(k for k in mine if k not in theirs)]
                for leaf in _leaves(mine.get(k), theirs.get(k), f"{path}[{k}]")]
    return [] if same(stored, fresh) else [(path, stored, fresh)]


def _history(history: Sequence[Row], score: UnitScore, period: Period,
             coordinates: dict[str, Any], key: tuple[str, str, str]) -> list[Difference]:
    """The latest ``score_history`` row of every indicator of the score."""
    rulebook_id, unit, period_key = key
    base = f"{rulebook_id} {unit} {period_key}"
    expected: dict[str, Row] = {}
    for group in score.groups:
        for i in group.indicators:
            expected[i.code] = (
                rulebook_id, score.rulebook_version, unit, score.kind, period_key, group.code,
                i.code, i.applicable, i.numerator, i.denominator, i.ratio, i.points, i.max,
                group.points, score.total, score.band, score.rank, coordinates["position"],
                coordinates["as_of"], None, coordinates["computed_at"])
    found: list[Difference] = []
    source = {c: "its score's rows" for c in COORDINATES}
    for row in history:
        code = row[H["indicator"]]
        name = (f"{base} indicator {code} @position {row[H['position']]} "
                f"as_of {_aware(row[H['as_of']]).isoformat()}")
        want = expected.pop(code, None)
        if want is None:
            found.append(Difference(schema.SCORE_HISTORY, name, "row", "present",
                                    "absent (no such indicator in the score)"))
            continue
        evaluated = _utc(period.evaluation_time(_instant(row[H["as_of"]])))
        want = (*want[:H["evaluated_at"]], evaluated, *want[H["evaluated_at"] + 1:])
        found += _columns(schema.SCORE_HISTORY, row, want, name, source)
    found += [Difference(schema.SCORE_HISTORY, f"{base} indicator {code}", "row", "absent",
                         "present") for code in expected]
    return found
