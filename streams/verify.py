"""``dossier verify --scores``: every row ClickHouse holds, recomputed from the ledger alone."""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ledger.application import DossierLedger
from ledger.codec import decode_state
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

CHUNK = 20_000  # ledger positions read, folded and compared with the archive at a time
FACT_PAGE = 10_000  # dossier_facts rows read at a time
SCORE_PAGE = 1_000  # rankings_current rows sent to the recomputing process at a time
AHEAD = 4  # ledger chunks sent to the recomputing process and not taken yet, at most
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

    def merge(self, other: ScoreCheck) -> None:
        """Add what another part of the check counted and found."""
        self.add(other.differences)
        self.unlisted += other.unlisted
        self.scores += other.scores
        self.history += other.history
        self.facts += other.facts
        self.events += other.events


@dataclass(frozen=True)
class _Plan:
    """What both parts of the check know before reading: the ledger's head, the highest
    position tracked as written, where the fact rows stand (``facts_at``), how far the ledger
    is read (``end``), every current score key, the sizes of the signed checkpoints, and the
    rows to check in all (for progress)."""

    head: int
    tracked: int
    facts_at: int
    end: int
    scored: frozenset[queries.ScoreKey]
    checkpoints: frozenset[int]
    total: int


Recomputeds = dict[tuple[str, str, str], list[Recomputed]]
"""The recomputed current score rows by (rulebook, unit, period), for their history rows."""


def verify_scores(ledger: DossierLedger, client: Any, *, connect: Callable[[], Any],
                  pseudonym_key: bytes, progress: Progress | None = None) -> ScoreCheck:
    """Recompute every current row of ``rankings_current`` (every column), the latest
    ``score_history`` row of each of its indicators, every ``dossier_facts`` row and every
    ``dossier_events`` row from the ledger alone, and list the differences.

    Two parts, on the machine's two cores. This process alone reads the ledger (once, in
    position order) and ClickHouse (chDB opens a directory in one process only): it sends
    the score rows (read as one stream in position order through a second client,
    ``connect()``), the fact rows and each chunk of the ledger's stored events to a second
    process (:class:`_Recomputing`), compares each event with its archive row, then the
    latest history rows (one stream) with the scores the other process recomputed. That
    one decodes the events, folds them with the pure-Python reference
    (``FactStore(compiled=False)``: no compiled code of the live path that wrote the rows)
    and recomputes each score row when the fold stands at its position, with the auditors'
    scan of the facts (``projections.recompute``), and the fact rows where they stand. A
    few chunks of the log, the facts and the recomputed scores (one per current score row)
    are what is held.
    """
    tell = progress or (lambda n, total: None)
    stream = connect()
    try:
        with building_state(keep=False):
            check, plan = _plan(ledger, client)
            with _Recomputing(plan) as recomputing:
                recomputing.feed(stream, client)
                check.merge(_check_events(ledger, client, plan, pseudonym_key, tell,
                                          lambda raw: recomputing.send(raw, tell)))
                found, recomputed = recomputing.result(tell)
            check.merge(found)
            check.merge(_check_history(stream, recomputed, plan, tell))
            return check
    finally:
        stream.close()


def _plan(ledger: DossierLedger, client: Any) -> tuple[ScoreCheck, _Plan]:
    """The plan of the check, and the check with the tracking table's difference if any."""
    check = ScoreCheck()
    head = ledger.max_position()
    tracked = queries.tracked_positions(client)
    events = queries.extent(client, schema.EVENTS)
    facts = queries.extent(client, schema.DOSSIER_FACTS)
    scores = queries.extent(client, schema.RANKINGS)
    if tracked > head:
        check.add([Difference(schema.TRACKING, "max(position)", "position", tracked,
                              f"at most {head} (the ledger's head)")])
    facts_at = min(head, max(tracked, facts.position))
    end = min(head, max(tracked, events.position, facts_at, scores.position))
    return check, _Plan(head, tracked, facts_at, end, frozenset(queries.score_keys(client)),
                        frozenset(c.size for c in checkpoints(ledger)),
                        events.rows + facts.rows + 2 * scores.rows)  # a score, then its history


def _chunks(ledger: DossierLedger, end: int
            ) -> Iterator[tuple[int, int, list[tuple[dict[str, Any], bytes]]]]:
    """(first, last, events) of each chunk of positions up to ``end``."""
    first = 1
    while first <= end:
        last = min(end, first + CHUNK - 1)
        yield first, last, list(ledger.read_raw(first, last))
        first = last + 1


Raw = list[tuple[dict[str, Any], bytes]]
"""A chunk of the ledger as read: each envelope (with its position) and its stored bytes."""


def _check_events(ledger: DossierLedger, client: Any, plan: _Plan, key: bytes,
                  tell: Progress, passed: Callable[[Raw], None]) -> ScoreCheck:
    """Every event of the ledger up to ``plan.end`` against its archive row, and the archive
    rows of no event; each chunk is ``passed`` on once read."""
    check = ScoreCheck()
    for first, last, raw in _chunks(ledger, plan.end):
        passed(raw)
        stored = {row[0]: row for row in queries.archive_rows(client, first, last)}
        compared = len(stored)
        for envelope, _ in raw:
            position = envelope["position"]
            if found := compare_event(stored.pop(position, None), envelope, key,
                                      required=position <= plan.tracked):
                check.add(found)
        check.add(_unexpected_events(stored))
        check.events += compared
        tell(compared, plan.total)
    check.add(_unexpected_events(dict.fromkeys(queries.archive_positions_after(client,
                                                                               plan.end))))
    return check


def _fact_pages(client: Any) -> Iterator[list[Row]]:
    """Every ``dossier_facts`` row, by dossier id, a page at a time."""
    after = ""
    while rows := queries.fact_rows_after(client, after, FACT_PAGE):
        yield rows
        after = rows[-1][0]


def _check_history(stream: Any, recomputed: Recomputeds, plan: _Plan,
                   tell: Progress) -> ScoreCheck:
    """The latest score_history rows, key by key, against the recomputed scores."""
    check = ScoreCheck()
    checked = 0
    for key, rows in _by_key(queries.latest_history(stream)):
        check.history += len(rows)
        mine = recomputed.pop(key, None)
        if mine is None:
            check.add([history_without_score(key)])
            continue
        for score in mine:
            check.add(compare_history(score, rows))
        checked += len(mine)
        if checked >= 1000:
            tell(checked, plan.total)
            checked = 0
    for scores in recomputed.values():
        check.add([score_without_history(score) for score in scores])
    tell(checked, plan.total)
    return check


class _Recheck:
    """The recomputing part of ``verify --scores``: the ledger folded in position order, each
    score row recomputed when the fold stands at its position, the fact rows where they
    stand (see :func:`verify_scores`)."""

    def __init__(self, plan: _Plan, tell: Progress) -> None:
        self.plan, self.tell = plan, tell
        self.check = ScoreCheck()
        self.store = FactStore(compiled=False)  # the reference fold
        self.scores = SnapshotScores(self.store)
        self.last_touched: dict[str, int] = {}  # dossier -> last position of an event of it
        self.moved = True
        self.reported: set[Any] = set()
        self.recomputed: Recomputeds = {}

    def run(self, events: Iterator[dict[str, Any]], score_rows: Iterator[Row],
            fact_pages: Iterator[list[Row]], latest_fact: int | None
            ) -> tuple[ScoreCheck, Recomputeds]:
        """Fold the ledger's ``events`` (in position order, up to ``plan.end``), recomputing
        the score rows (in position order) and checking the fact rows (every page of them;
        ``latest_fact``: their latest evaluation) on the way."""
        plan = self.plan
        score = next(score_rows, None)
        facts_done = False
        for envelope in events:
            position = envelope["position"]
            while score is not None and score[R["position"]] < position:
                score = self._scores_at(score[R["position"]], score, score_rows)
            if not facts_done and plan.facts_at < position:
                self._facts(fact_pages, latest_fact)
                facts_done = True
            self._fold(envelope)
        while score is not None:
            score = self._scores_at(score[R["position"]], score, score_rows, plan.head)
        if not facts_done:
            self._facts(fact_pages, latest_fact)
        return self.check, self.recomputed

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
        plan = self.plan
        while current is not None and current[R["position"]] == position:
            recomputed, found = recompute_score(current, self.scores, plan.scored,
                                                self.reported, head, plan.checkpoints)
            self.check.add(found)
            if recomputed is not None:
                key = (recomputed.rulebook_id, recomputed.unit, recomputed.period.key)
                self.recomputed.setdefault(key, []).append(recomputed)
            checked += 1
            current = next(rows, None)
        self.check.scores += checked
        self.tell(checked, plan.total)
        return current

    def _facts(self, pages: Iterator[list[Row]], latest: int | None) -> None:
        """Check every ``dossier_facts`` row against the fold standing at ``facts_at`` (the
        tracked position, or the last of a fact row): each dossier's facts are those of its
        last event, the row's position."""
        seen: set[str] = set()
        for rows in pages:
            for row in rows:
                seen.add(row[0])
                self.check.add(compare_facts(row, self.store, self.last_touched))
            self.check.facts += len(rows)
            self.tell(len(rows), self.plan.total)
        self.check.add(missing_fact_rows(self.store, seen, latest, self.plan.facts_at))


class _Recomputing:
    """:class:`_Recheck` in a process of its own, fed the stored score and fact rows and the
    ledger's stored events through queues (the events' bounded: a few chunks ahead); it
    sends its progress back, then what it found (or the error it stopped on)."""

    def __init__(self, plan: _Plan) -> None:
        context = multiprocessing.get_context("spawn")  # chDB's threads make forking unsafe
        self.events: Any = context.Queue(maxsize=AHEAD)
        self.scores: Any = context.Queue()
        self.facts: Any = context.Queue()
        self.out: Any = context.Queue()
        self.process = context.Process(target=_recompute, name="verify-recompute", args=(
            plan, self.events, self.scores, self.facts, self.out), daemon=True)
        self.found: tuple[ScoreCheck, Recomputeds] | None = None
        self.total = plan.total

    def __enter__(self) -> _Recomputing:
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        for channel in (self.events, self.scores, self.facts, self.out):
            channel.cancel_join_thread()
            channel.close()

    def feed(self, stream: Any, client: Any) -> None:
        """Send every current score row (by position, a page at a time), then the latest
        fact evaluation and every fact row."""
        page: list[Row] = []
        for row in queries.score_rows_by_position(stream):
            page.append(row)
            if len(page) == SCORE_PAGE:
                self.scores.put(_pickled(page))
                page = []
        self.scores.put(_pickled(page))
        self.scores.put(None)
        self.facts.put(queries.latest_fact_evaluation(client))
        for rows in _fact_pages(client):
            self.facts.put(_pickled(rows))
        self.facts.put(None)

    def send(self, raw: Raw, tell: Progress) -> None:
        """Send a chunk of the ledger: each event's position and stored bytes."""
        if raw:
            self._put(_pickled([(envelope["position"], state) for envelope, state in raw]),
                      tell)

    def _put(self, chunk: bytes | None, tell: Progress) -> None:
        """Put a chunk (None: the ledger ends), waiting while the other process is
        :data:`AHEAD` chunks behind; the progress it reports is passed on meanwhile."""
        while True:
            self.poll(tell)
            try:
                self.events.put(chunk, timeout=1.0)
                return
            except queue.Full:
                self._alive()

    def _alive(self) -> None:
        if not self.process.is_alive():
            raise RuntimeError(f"verify's recomputing process ended with exit code "
                               f"{self.process.exitcode} before its result") from None

    def poll(self, tell: Progress, wait: bool = False) -> None:
        """Pass the progress reported on; with ``wait``, until the result arrives."""
        while self.found is None:
            try:
                kind, value = self.out.get(timeout=1.0) if wait else self.out.get_nowait()
            except queue.Empty:
                if not wait:
                    return
                self._alive()
                continue
            if kind == "progress":
                tell(value, self.total)
            elif kind == "error":
                raise RuntimeError(f"verify's recomputing process failed:\n{value}")
            else:
                self.found = value

    def result(self, tell: Progress) -> tuple[ScoreCheck, Recomputeds]:
        self._put(None, tell)
        self.poll(tell, wait=True)
        assert self.found is not None
        return self.found


def _recompute(plan: _Plan, events: Any, scores: Any, facts: Any, out: Any) -> None:
    """The recomputing process (see :class:`_Recomputing`)."""
    try:
        with building_state(keep=False):
            latest = facts.get()
            rows = (row for page in _received(scores) for row in page)
            found = _Recheck(plan, lambda n, total: out.put(("progress", n))).run(
                _decoded(events), rows, _received(facts), latest)
        out.put(("done", found))
    except BaseException:
        out.put(("error", traceback.format_exc()))


def _decoded(events: Any) -> Iterator[dict[str, Any]]:
    """The envelopes of the chunks received, in order, each with its position (as
    :meth:`DossierLedger.read_raw` decodes them), up to the None that ends them."""
    for chunk in _received(events):
        for position, state in chunk:
            envelope = decode_state(state)
            envelope["position"] = position
            yield envelope


def _pickled(page: list[Any]) -> bytes:
    """A page of rows as the queue carries it: pickled when put, so the pages the other
    process has not taken yet are held as bytes, not as rows of objects."""
    return pickle.dumps(page, pickle.HIGHEST_PROTOCOL)


def _received(channel: Any) -> Iterator[list[Row]]:
    """The pages put on ``channel``, up to the None that ends them."""
    while (page := channel.get()) is not None:
        yield pickle.loads(page)


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
