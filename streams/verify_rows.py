"""The rows ClickHouse should hold, recomputed from the ledger's facts, beside the stored ones:
each difference names its table, its key and its column."""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
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
    names = (HISTORY_COLUMNS if table == schema.SCORE_HISTORY
             else schema.BY_NAME[table].column_names)
    return [Difference(table, key, name, a, b, (source or {}).get(name, ""))
            for name, a, b in zip(names[:len(stored)], stored, recomputed, strict=True)
            if not same(a, b)]


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
    if isinstance(data, dict) and text.encode() == _canonical(data):
        return found  # the bytes the writer copies: nothing to parse
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

@cache
def _fact_rows() -> FactRows:
    """The reference fact rows under the default rulebook (as the live runner writes them)."""
    book = load_rulebook(DEFAULT_RULEBOOK)
    return FactRows(book.switches, book.working_calendar())


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
    expected = list(row)
    for index in _FACT_TIMES:
        expected[index] = _naive(expected[index])
    return found + _columns(schema.DOSSIER_FACTS, stored, tuple(expected), name)


_FACT_TIMES = tuple(index for index, (_, kind) in enumerate(schema.DOSSIER_FACTS_TABLE.columns)
                    if kind.removeprefix("Nullable(").startswith("DateTime"))
"""The columns of a fact row that are times (as ClickHouse reads them back: naive, UTC)."""


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
H = {name: index for index, (name, _) in enumerate(schema.INDICATOR_HISTORY_COLUMNS)}
"""Columns of the ``score_history`` rows as read, one row per indicator."""
HISTORY_COLUMNS = [name for name, _ in schema.INDICATOR_HISTORY_COLUMNS]
COORDINATES = ("position", "as_of", "computed_at")
"""What a unit score's rows share and no recomputation gives (when and at which position it
was written): the ``rankings_current`` row and its ``score_history`` rows must agree."""


@dataclass(frozen=True, slots=True)
class Recomputed:
    """A current score row recomputed when the fold stood at its position, kept until its
    ``score_history`` rows are read: the row's key and coordinates, the score, and the
    position of the last scored event folded then."""

    rulebook_id: str
    kind: str
    unit: str
    period: Period
    coordinates: tuple[int, int, int]  # the row's (position, as_of, computed_at), times in µs
    score: UnitScore
    fold_position: int

    @property
    def name(self) -> str:
        position, as_of, _ = self.coordinates
        return (f"{self.rulebook_id} {self.kind} {self.unit} {self.period.key} "
                f"@position {position} as_of {_aware(_utc(as_of)).isoformat()}")


def _checkpoint(stored: int, position: int, checkpoints: frozenset[int]) -> int | str:
    """The stored checkpoint when it is 0 or a checkpoint covering ``position``; else what
    it should be."""
    if stored == 0 or (stored in checkpoints and stored >= position):
        return stored
    return f"0 or the size of a signed checkpoint of the ledger of at least {position}"


def _score_name(row: Row) -> str:
    return (f"{row[R['rulebook_id']]} {row[R['kind']]} {row[R['unit']]} {row[R['period']]} "
            f"@position {row[R['position']]} as_of {_aware(row[R['as_of']]).isoformat()}")


def recompute_score(stored: Row, scores: SnapshotScores, scored: Set[ScoreKey],
                    reported: set[Any], head: int | None = None,
                    checkpoints: frozenset[int] = frozenset()
                    ) -> tuple[Recomputed | None, list[Difference]]:
    """A current score row recomputed by the fold standing at the row's position (``head``:
    the ledger ends there, the row lies beyond), and its differences but in the columns its
    ``score_history`` rows tell (:data:`COORDINATES`, see :func:`compare_history`).
    ``scored``: every current score key; a peer ranked with the unit (so written with it)
    without a row is named once (``reported``). ``checkpoints``: the sizes of the ledger's
    signed checkpoints; a row's checkpoint is 0 (none) or one of them covering its
    position."""
    rulebook_id, period_key, unit = (stored[R["rulebook_id"]], stored[R["period"]],
                                     stored[R["unit"]])
    position, as_of = stored[R["position"]], _instant(stored[R["as_of"]])
    store = scores.store
    if head is not None and position > head:
        why = ("position", position, f"at most {head} (the ledger's head)")
    elif rulebook_id not in SHIPPED:
        why = ("rulebook_id", rulebook_id, f"one of {', '.join(SHIPPED)}")
    elif (period := _period(period_key)) is None:
        why = ("period", period_key, "a month, quarter or year")
    elif not store.unit_exists_at(unit, t := period.evaluation_time(as_of)):
        why = ("unit", unit, f"a unit of the ledger at position {store.position}, "
                             f"registered by {to_datetime(t).isoformat()}")
    else:
        score = scores.score(unit, period, as_of, load_rulebook(rulebook_id))
        kind = score.kind
        peer_group = ((store.units.province_of(unit) or "")
                      if kind in (UnitKind.DEPARTMENT, UnitKind.COMMUNE) else "")
        recomputed = Recomputed(rulebook_id, stored[R["kind"]], unit, period,
                                (position, as_of, _instant(stored[R["computed_at"]])), score,
                                store.position)
        expected: Row = (
            rulebook_id, score.rulebook_version, kind, peer_group, period_key, unit,
            score.unit_name, score.total, display_round(score.total), score.band, score.rank,
            stored[R["score_json"]], position,
            _checkpoint(stored[R["checkpoint"]], position, checkpoints),
            _utc(min(as_of, period.last)),
            _utc(period.evaluation_time(as_of)), stored[R["computed_at"]])
        found = _unscored_peers(scores, score, period, as_of, scored, reported)
        found += _columns(schema.RANKINGS, stored, expected, _score_name(stored)) \
            if stored != expected else []
        return recomputed, found + _score_json(stored, score)
    return None, [Difference(schema.RANKINGS, _score_name(stored), *why)]


def _period(key: str) -> Period | None:
    try:
        return parse_period(key)
    except InvalidPeriod:
        return None


def _unscored_peers(scores: SnapshotScores, score: UnitScore, period: Period, as_of: int,
                    scored: Set[ScoreKey], reported: set[Any]) -> list[Difference]:
    """Peers ranked with the unit (so written with it) that have no current score row."""
    key = scores.peer_key(score.unit)
    if key is None:
        return []
    peers = scores.peers(key, period.evaluation_time(as_of))
    group = (score.rulebook_id, period.key, key, len(peers))
    if group in reported:
        return []
    reported.add(group)
    return [Difference(schema.RANKINGS, f"{score.rulebook_id} {score.kind} {peer} {period.key}",
                       "row", "absent", f"present (ranked with {score.unit})")
            for peer in peers if (score.rulebook_id, score.kind, period.key, peer) not in scored]


def _score_json(stored: Row, score: UnitScore) -> list[Difference]:
    """``score_json`` against the recomputed score's JSON: the same bytes (as the writer
    encodes it), else leaf by leaf. Its ``as_of`` may name the same instant in another
    offset."""
    text = stored[R["score_json"]]
    fresh = score.to_json()
    written = _as_of_text(text)
    if written is not None and written != fresh["as_of"]:
        try:
            if parse_instant(written) == _instant(score.as_of):
                fresh["as_of"] = written
        except ValueError:
            pass
    if orjson.dumps(fresh) == text.encode():
        return []
    try:
        found = orjson.loads(text)
    except orjson.JSONDecodeError:
        return [Difference(schema.RANKINGS, _score_name(stored), "score_json", text,
                           "a JSON object")]
    if found == fresh:
        return []
    return [Difference(schema.RANKINGS, _score_name(stored), f"score_json{path}", a, b)
            for path, a, b in _leaves(found, fresh, "")]


def _as_of_text(text: str) -> str | None:
    """The text of the first ``"as_of"`` of a score's JSON (None: none)."""
    start = text.find('"as_of":"')
    if start < 0:
        return None
    start += len('"as_of":"')
    end = text.find('"', start)
    return text[start:end] if end > start else None


def _leaves(stored: Any, fresh: Any, path: str) -> list[tuple[str, Any, Any]]:
    """(path, stored, recomputed) of the JSON leaves that differ; list items with a ``code``
    (groups, indicators) are paired by it."""
    if isinstance(stored, dict) and isinstance(fresh, dict):
        found = []
        for k in [*fresh, *(k for k in stored if k not in fresh)]:
            found += _leaves(stored.get(k), fresh.get(k), f"{path}.{k}")
        return found
    if isinstance(stored, list) and isinstance(fresh, list):
        mine, theirs = _keyed(stored), _keyed(fresh)
        return [leaf for k in [*theirs, *(k for k in mine if k not in theirs)]
                for leaf in _leaves(mine.get(k), theirs.get(k), f"{path}[{k}]")]
    return [] if same(stored, fresh) else [(path, stored, fresh)]


def _keyed(items: list[Any]) -> dict[str, Any]:
    return {str(item["code"]) if isinstance(item, dict) and "code" in item else str(i): item
            for i, item in enumerate(items)}


def compare_history(recomputed: Recomputed, history: Sequence[Row]) -> list[Difference]:
    """A recomputed score row's :data:`COORDINATES` against those of its latest
    ``score_history`` row (read one row per indicator, times in µs, as
    ``queries.latest_history`` reads them; its position is also the last scored event at or
    before it), and that history row against the score. A history row written by an earlier
    cycle (:func:`_earlier_write`: only the score's rank moved since) keeps its own
    coordinates and rank; all the rest must match the score."""
    earlier = _earlier_write(recomputed, history)
    if earlier is not None:
        return (_fold_position(recomputed)
                + _history(history, recomputed.score, recomputed.period, earlier,
                           history[0][H["rank"]]))
    agreed, disputed = _agreed(recomputed, history)
    found: list[Difference] = []
    for column, mine, value in zip(COORDINATES, recomputed.coordinates, agreed, strict=True):
        if column in disputed:
            found.append(Difference(schema.RANKINGS, recomputed.name, column,
                                    _time(column, mine), _time(column, disputed[column]),
                                    "its score_history row (one of the two was altered)"))
        elif mine != value:
            found.append(Difference(schema.RANKINGS, recomputed.name, column, _time(column, mine),
                                    _time(column, value), "its score_history row"))
        elif column == "position" and mine != recomputed.fold_position:
            found.append(Difference(schema.RANKINGS, recomputed.name, column, mine,
                                    recomputed.fold_position,
                                    "the last scored event at or before it"))
    return found + _history(history, recomputed.score, recomputed.period, agreed,
                            recomputed.score.rank)


def _earlier_write(recomputed: Recomputed, history: Sequence[Row]
                   ) -> tuple[int, int, int] | None:
    """The coordinates of the latest history row when an earlier cycle wrote it (a history
    row is written only when the score changed, a ranking row also when only its rank
    moved): computed before the score's ranking row, at a position and as_of not after it,
    and not both the same (the score changed with neither the ledger nor time moving on is
    not an earlier write). A single altered coordinate of rows written together leaves the
    times equal or the position and as_of equal, so it still shows as a difference."""
    found = [{row[H[column]] for row in history} for column in COORDINATES]
    if not history or any(len(values) != 1 for values in found):
        return None
    position, as_of, computed_at = (values.pop() for values in found)
    mine_position, mine_as_of, mine_computed_at = recomputed.coordinates
    if (computed_at < mine_computed_at and position <= mine_position
            and as_of <= mine_as_of and (position, as_of) != (mine_position, mine_as_of)):
        return position, as_of, computed_at
    return None


def _fold_position(recomputed: Recomputed) -> list[Difference]:
    """The score row's position against the last scored event at or before it."""
    position = recomputed.coordinates[0]
    if position == recomputed.fold_position:
        return []
    return [Difference(schema.RANKINGS, recomputed.name, "position", position,
                       recomputed.fold_position, "the last scored event at or before it")]


def _time(column: str, value: Any) -> Any:
    """A value of a history row as shown: its times as datetimes."""
    return _utc(value) if column in TIMES and isinstance(value, int) else value


TIMES = frozenset({"as_of", "evaluated_at", "computed_at"})


def _agreed(recomputed: Recomputed, history: Sequence[Row]
            ) -> tuple[tuple[int, int, int], dict[str, Any]]:
    """Each coordinate as the score's rows (current and history) have it, and those the two
    rows give differently with nothing to tell which is right (column -> the history's value;
    both rows are named). The position of the last scored event at or before the score
    tells the right position."""
    agreed = []
    disputed: dict[str, Any] = {}
    for column, value in zip(COORDINATES, recomputed.coordinates, strict=True):
        theirs = {row[H[column]] for row in history}
        if len(theirs) == 1 and value not in theirs:
            (other,) = theirs
            if column == "position" and recomputed.fold_position in (value, other):
                value = recomputed.fold_position
            else:
                disputed[column] = other
        agreed.append(value)
    return (agreed[0], agreed[1], agreed[2]), disputed


def _history(history: Sequence[Row], score: UnitScore, period: Period,
             coordinates: tuple[int, int, int], rank: Any) -> list[Difference]:
    """The latest ``score_history`` row of the score, one row per indicator, against the
    recomputed score with ``rank`` and the coordinates its rows agree on."""
    position, as_of, computed_at = coordinates
    head = (score.rulebook_id, score.rulebook_version, score.unit, score.kind, score.period)
    tail = (score.total, score.band, rank, position, as_of,
            period.evaluation_time(as_of), computed_at)
    expected = {i.code: (*head, group.code, i.code, i.applicable, i.numerator, i.denominator,
                         i.ratio, i.points, i.max, group.points, *tail)
                for group in score.groups for i in group.indicators}
    found: list[Difference] = []
    for row in history:
        want = expected.pop(row[H["indicator"]], None)
        if want is not None and row == want:
            continue
        found += _history_row(row, want, period, as_of)
    base = f"{score.rulebook_id} {score.unit} {score.period}"
    found += [Difference(schema.SCORE_HISTORY, f"{base} indicator {code}", "row", "absent",
                         "present") for code in expected]
    return found


def _history_row(row: Row, want: Row | None, period: Period, as_of: int) -> list[Difference]:
    name = (f"{row[H['rulebook_id']]} {row[H['unit']]} {row[H['period']]} indicator "
            f"{row[H['indicator']]} @position {row[H['position']]} "
            f"as_of {_aware(_utc(row[H['as_of']])).isoformat()}")
    if want is None:
        return [Difference(schema.SCORE_HISTORY, name, "row", "present",
                           "absent (no such indicator in the score)")]
    if row[H["as_of"]] != as_of:  # its own as_of says when it was evaluated
        want = (*want[:H["evaluated_at"]], period.evaluation_time(row[H["as_of"]]),
                *want[H["evaluated_at"] + 1:])
    return [Difference(d.table, d.key, d.column, _time(d.column, d.stored),
                       _time(d.column, d.recomputed), d.source)
            for d in _columns(schema.SCORE_HISTORY, row, want, name,
                              {c: "its score's other rows" for c in COORDINATES})]


def history_without_score(key: tuple[str, str, str]) -> Difference:
    rulebook_id, unit, period = key
    return Difference(schema.SCORE_HISTORY, f"{rulebook_id} {unit} {period}", "row",
                      "present", "absent (no current score)")


def score_without_history(recomputed: Recomputed) -> Difference:
    return Difference(schema.SCORE_HISTORY, f"{recomputed.rulebook_id} {recomputed.unit} "
                      f"{recomputed.period.key}", "row", "absent", "present")
