"""``dossier verify --scores``: every row ClickHouse holds, recomputed from the ledger alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ledger.application import DossierLedger
from projections.clickhouse import queries, schema
from projections.clickhouse.queries import ScoreKey
from projections.facts import FactStore
from projections.recompute import SnapshotScores
from streams.memory import building_state
from streams.verify_rows import (
    Difference,
    compare_event,
    compare_facts,
    compare_score,
    missing_fact_rows,
)

CHUNK = 5_000  # ledger positions read, folded and compared with the archive at a time
SCORE_PAGE = 2_000  # current score rows read (with their score_history rows) at a time
FACT_PAGE = 10_000  # dossier_facts rows read at a time
LISTED = 1_000  # differences listed per table (the others are counted)

Progress = Callable[[int, int], None]
"""progress(rows checked since the last call, rows to check in all)."""


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
    def rows(self) -> int:
        return self.scores

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


def verify_scores(ledger: DossierLedger, client: Any, *, pseudonym_key: bytes,
                  progress: Progress | None = None) -> ScoreCheck:
    """Recompute every current row of ``rankings_current`` (every column), the latest
    ``score_history`` row of each of its indicators, every ``dossier_facts`` row and every
    ``dossier_events`` row from the ledger alone, and list the differences.

    The ledger is read once, in position order, and folded once by the pure-Python reference
    (``FactStore(compiled=False)``: no compiled code of the live path that wrote the rows);
    the score rows are checked in the order of their positions, each when the fold stands at
    its position, with the auditors' scan of the facts (``projections.recompute``). Only a
    chunk of the log, a page of rows and the facts are held at a time.
    """
    with building_state(keep=False):
        return _Audit(ledger, client, pseudonym_key, progress).run()


class _Audit:
    """One pass of ``verify --scores`` (see :func:`verify_scores`)."""

    def __init__(self, ledger: DossierLedger, client: Any, key: bytes,
                 progress: Progress | None) -> None:
        self.ledger, self.client, self.key = ledger, client, key
        self.tell = progress or (lambda n, total: None)
        self.check = ScoreCheck()
        self.store = FactStore(compiled=False)  # the reference fold
        self.scores = SnapshotScores(self.store)
        self.last_touched: dict[str, int] = {}  # dossier -> last position of an event of it
        self.moved = True
        self.total = 0

    def run(self) -> ScoreCheck:
        client, check = self.client, self.check
        head = self.ledger.max_position()
        tracked = queries.tracked_positions(client)
        index = queries.score_positions(client)
        events = queries.extent(client, schema.EVENTS)
        facts = queries.extent(client, schema.DOSSIER_FACTS)
        self.total = events.rows + facts.rows + len(index)
        self.scored = {row[1:] for row in index}
        self.reported: set[Any] = set()
        facts_at = min(head, max(tracked, facts.position))
        last = index[-1][0] if index else 0
        end = min(head, max(tracked, events.position, facts_at, last))
        checkpoints = _by_position(index)
        pending = next(checkpoints, None)
        facts_done = False
        for first, last_of_chunk, raw in self._chunks(end):
            stored = {row[0]: row for row in queries.archive_rows(client, first,
                                                                  last_of_chunk)}
            compared = len(stored)
            for envelope, _ in raw:
                position = envelope["position"]
                while pending is not None and pending[0] < position:
                    self._scores_at(pending[0], pending[1])
                    pending = next(checkpoints, None)
                if not facts_done and facts_at < position:
                    self._facts(facts_at)
                    facts_done = True
                check.add(compare_event(stored.pop(position, None), envelope, self.key,
                                        required=position <= tracked))
                self._fold(envelope)
            check.add(_unexpected_events(stored))
            check.events += compared
            self.tell(compared, self.total)
        while pending is not None:
            if pending[0] > head:
                self._beyond_head(pending[1], head)
            else:
                self._scores_at(pending[0], pending[1])
            pending = next(checkpoints, None)
        if not facts_done:
            self._facts(facts_at)
        check.add(_unexpected_events({p: None for p in
                                      queries.archive_positions_after(client, end)}))
        check.add([Difference(schema.SCORE_HISTORY, f"{rulebook} {unit} {period}", "row",
                              "present", "absent (no current score)")
                   for rulebook, unit, period in queries.history_without_score(client)])
        return check

    def _chunks(self, end: int
                ) -> Iterator[tuple[int, int, list[tuple[dict[str, Any], bytes]]]]:
        """(first, last, events) of each chunk of positions up to ``end``."""
        first = 1
        while first <= end:
            last = min(end, first + CHUNK - 1)
            yield first, last, list(self.ledger.read_raw(first, last))
            first = last + 1

    def _fold(self, envelope: dict[str, Any]) -> None:
        self.store.apply(envelope)
        self.moved = True
        # the dossier whose fact row the event changes (as ``dossier_facts`` keeps it)
        if envelope.get("stream") == "dossier":
            self.last_touched[str(envelope["id"])] = envelope["position"]
        elif envelope.get("type") == "petition.received":
            named = (envelope.get("data") or {}).get("dossier")
            if named:
                self.last_touched[str(named)] = envelope["position"]

    def _scores_at(self, position: int, keys: list[ScoreKey]) -> None:
        """Check the score rows written at ``position``: the fold stands there."""
        if self.moved:
            self.scores.moved()
            self.moved = False
        for start in range(0, len(keys), SCORE_PAGE):
            page = keys[start:start + SCORE_PAGE]
            rows = queries.score_rows(self.client, page)
            history: dict[tuple[str, str, str], list[tuple[Any, ...]]] = {}
            for row in queries.latest_history(self.client, sorted({(k[0], k[3], k[2])
                                                                   for k in page})):
                history.setdefault((row[0], row[2], row[4]), []).append(row)
            for row in rows:
                found = history.get((row[0], row[5], row[4]), [])  # rulebook, unit, period
                self.check.add(compare_score(row, found, self.scores, self.scored,
                                             self.reported))
                self.check.history += len(found)
            self.check.scores += len(rows)
            self.tell(len(rows), self.total)

    def _beyond_head(self, keys: list[ScoreKey], head: int) -> None:
        for row in queries.score_rows(self.client, keys):
            key = f"{row[0]} {row[2]} {row[5]} {row[4]}"
            self.check.add([Difference(schema.RANKINGS, key, "position", row[12],
                                       f"at most {head} (the ledger's head)")])
            self.check.scores += 1
        self.tell(len(keys), self.total)

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


def _by_position(index: list[tuple[int, str, str, str, str]]
                 ) -> Iterator[tuple[int, list[ScoreKey]]]:
    """The score keys of each position, in position order."""
    keys: list[ScoreKey] = []
    current = None
    for position, *key in index:
        if position != current and keys:
            yield current or 0, keys
            keys = []
        current = position
        keys.append((key[0], key[1], key[2], key[3]))
    if keys:
        yield current or 0, keys


def _unexpected_events(rows: dict[int, Any]) -> list[Difference]:
    return [Difference(schema.EVENTS, f"position {position}", "row", "present",
                       "absent (no event of the ledger there)") for position in rows]
