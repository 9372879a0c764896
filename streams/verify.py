"""``dossier verify --scores``: every row ClickHouse holds, recomputed from the ledger alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from ledger.application import DossierLedger
from ledger.proofs import checkpoints
from projections.clickhouse import queries, schema
from projections.facts import FactStore
from projections.recompute import SnapshotScores
from streams.memory import building_state
from streams.verify_rows import (
    Difference,
    R,
    Recomputed,
    compare_event,
    compare_facts,
    compare_history,
    history_without_score,
    missing_fact_rows,
    recompute_score,
    score_without_history,
)

CHUNK = 5_000  # ledger positions read, folded and compared with the archive at a time
FACT_PAGE = 10_000  # dossier_facts rows read at a time
LISTED = 1_000  # differences listed per table (the others are counted)

Progress = Callable[[int, int], None]
"""progress(rows checked since the last call, rows to check in all)."""
Row = tuple[Any, ...]


@dataclass
class ScoreCheck:
    """What ``verify --scores`` checked and the differences it found."""

    scores: int = 0  # rankings_current rows (each with its latest score_history rows)
    history: int = 0  # score_history rows
    facts: int = 0  # dossier_facts rows
    events: int = 0  # dossier_events rows
    differences: list[Difference] = field(default_factory=list)
    unlisted: int = 0  # differences found beyond LISTED in a table
    _per_table: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.unlisted

    @property
    def count(self) -> int:
        return len(self.differences) + self.unlisted

    def add(self, differences: list[Difference]) -> None:
        for difference in differences:
            listed = self._per_table.get(difference.table, 0)
            if listed >= LISTED:
                self.unlisted += 1
                continue
            self._per_table[difference.table] = listed + 1
            self.differences.append(difference)


def verify_scores(ledger: DossierLedger, client: Any, *, connect: Callable[[], Any],
                  pseudonym_key: bytes, progress: Progress | None = None) -> ScoreCheck:
    """Recompute every current row of ``rankings_current`` (every column), the latest
    ``score_history`` row of each of its indicators, every ``dossier_facts`` row and every
    ``dossier_events`` row from the ledger alone, and list the differences.

    The ledger is read once, in position order, and folded once by the pure-Python reference
    (``FactStore(compiled=False)``: no compiled code of the live path that wrote the rows).
    The score rows are read as one stream in position order (through a second client,
    ``connect()``) and each is recomputed when the fold stands at its position, with the
    auditors' scan of the facts (``projections.recompute``); the latest history rows are read
    last, as one stream, against the recomputed scores. A chunk of the log, the facts and the
    recomputed scores (one per current score row) are what is held.
    """
    stream = connect()
    try:
        with building_state(keep=False):
            return _Audit(ledger, client, stream, pseudonym_key, progress).run()
    finally:
        stream.close()


class _Audit:
    """One pass of ``verify --scores`` (see :func:`verify_scores`)."""

    def __init__(self, ledger: DossierLedger, client: Any, stream: Any, key: bytes,
                 progress: Progress | None) -> None:
        self.ledger, self.client, self.stream, self.key = ledger, client, stream, key
        self.tell = progress or (lambda n, total: None)
        self.check = ScoreCheck()
        self.store = FactStore(compiled=False)  # the reference fold
        self.scores = SnapshotScores(self.store)
        self.last_touched: dict[str, int] = {}  # dossier -> last position of an event of it
        self.moved = True
        self.total = 0
        self.scored: set[queries.ScoreKey] = set()
        self.reported: set[Any] = set()
        self.recomputed: dict[tuple[str, str, str], list[Recomputed]] = {}
        self.checkpoints = frozenset(c.size for c in checkpoints(ledger))

    def run(self) -> ScoreCheck:
        client, check = self.client, self.check
        head = self.ledger.max_position()
        tracked = queries.tracked_positions(client)
        events = queries.extent(client, schema.EVENTS)
        facts = queries.extent(client, schema.DOSSIER_FACTS)
        scores = queries.extent(client, schema.RANKINGS)
        self.scored = queries.score_keys(client)
        self.total = events.rows + facts.rows + 2 * scores.rows  # a score, then its history
        if tracked > head:
            check.add([Difference(schema.TRACKING, "max(position)", "position", tracked,
                                  f"at most {head} (the ledger's head)")])
        facts_at = min(head, max(tracked, facts.position))
        end = min(head, max(tracked, events.position, facts_at, scores.position))
        with closing(queries.score_rows_by_position(self.stream)) as rows:
            score = next(rows, None)
            facts_done = False
            for first, last, raw in self._chunks(end):
                stored = {row[0]: row for row in queries.archive_rows(client, first, last)}
                compared = len(stored)
                for envelope, _ in raw:
                    position = envelope["position"]
                    while score is not None and score[R["position"]] < position:
                        score = self._scores_at(score[R["position"]], score, rows)
                    if not facts_done and facts_at < position:
                        self._facts(facts_at)
                        facts_done = True
                    check.add(compare_event(stored.pop(position, None), envelope, self.key,
                                            required=position <= tracked))
                    self._fold(envelope)
                check.add(_unexpected_events(stored))
                check.events += compared
                self.tell(compared, self.total)
            while score is not None:
                score = self._scores_at(score[R["position"]], score, rows, head)
        if not facts_done:
            self._facts(facts_at)
        check.add(_unexpected_events(dict.fromkeys(queries.archive_positions_after(client,
                                                                                   end))))
        self._history()
        return check

    def _chunks(self, end: int) -> Iterator[tuple[int, int, list[tuple[dict[str, Any], bytes]]]]:
        """(first, last, events) of each chunk of positions up to ``end``."""
        first = 1
        while first <= end:
            last = min(end, first + CHUNK - 1)
            yield first, last, list(self.ledger.read_raw(first, last))
            first = last + 1

    def _fold(self, envelope: dict[str, Any]) -> None:
        self.scores.apply(envelope)
        self.moved = True
        # the dossier whose fact row the event changes (as ``dossier_facts`` keeps it)
        if envelope.get("stream") == "dossier":
            self.last_touched[str(envelope["id"])] = envelope["position"]
        elif envelope.get("type") == "petition.received":
            named = (envelope.get("data") or {}).get("dossier")
            if named:
                self.last_touched[str(named)] = envelope["position"]

    def _scores_at(self, position: int, row: Row, rows: Iterator[Row],
                   head: int | None = None) -> Row | None:
        """Recompute the score rows written at ``position`` (the fold stands there; beyond
        ``head``, none can be) and return the first row of a later position."""
        if self.moved:
            self.scores.moved()
            self.moved = False
        current: Row | None = row
        checked = 0
        while current is not None and current[R["position"]] == position:
            recomputed, found = recompute_score(current, self.scores, self.scored,
                                                self.reported, head, self.checkpoints)
            self.check.add(found)
            if recomputed is not None:
                key = (recomputed.rulebook_id, recomputed.unit, recomputed.period.key)
                self.recomputed.setdefault(key, []).append(recomputed)
            checked += 1
            current = next(rows, None)
        self.check.scores += checked
        self.tell(checked, self.total)
        return current

    def _history(self) -> None:
        """The latest score_history rows, key by key, against the recomputed scores."""
        recomputed = self.recomputed
        checked = 0
        for key, rows in _by_key(queries.latest_history(self.stream)):
            self.check.history += len(rows)
            mine = recomputed.pop(key, None)
            if mine is None:
                self.check.add([history_without_score(key)])
                continue
            for score in mine:
                self.check.add(compare_history(score, rows))
            checked += len(mine)
            if checked >= 1000:
                self.tell(checked, self.total)
                checked = 0
        for scores in recomputed.values():
            self.check.add([score_without_history(score) for score in scores])
        self.tell(checked, self.total)

    def _facts(self, position: int) -> None:
        """Check every ``dossier_facts`` row against the fold standing at ``position`` (the
        tracked one, or the last of a fact row): each dossier's facts are those of its last
        event, the row's position."""
        seen: set[str] = set()
        after = ""
        while rows := queries.fact_rows_after(self.client, after, FACT_PAGE):
            for row in rows:
                seen.add(row[0])
                self.check.add(compare_facts(row, self.store, self.last_touched))
            after = rows[-1][0]
            self.check.facts += len(rows)
            self.tell(len(rows), self.total)
        latest = queries.latest_fact_evaluation(self.client)
        self.check.add(missing_fact_rows(self.store, seen, latest, position))


def _by_key(rows: Iterator[Row]) -> Iterator[tuple[tuple[str, str, str], list[Row]]]:
    """The history rows of each unit score (rulebook, unit, period), in the order read."""
    key: tuple[str, str, str] | None = None
    found: list[Row] = []
    for row in rows:
        mine = (row[0], row[2], row[4])
        if mine != key:
            if key is not None:
                yield key, found
            key, found = mine, []
        found.append(row)
    if key is not None:
        yield key, found


def _unexpected_events(rows: dict[int, Any]) -> list[Difference]:
    return [Difference(schema.EVENTS, f"position {position}", "row", "present",
                       "absent (no event of the ledger there)") for position in rows]
