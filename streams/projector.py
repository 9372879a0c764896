"""Ledger envelopes → scoring engine → ClickHouse rows: the fold shared by follow and replay."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.units import UnitKind
from projections.clickhouse import schema
from projections.clickhouse.rows import FactRows, event_line, history_rows, ranking_row
from projections.clickhouse.writer import SCORES, Batch, StoredRows
from projections.engine import ScoringEngine
from projections.facts import dossier_of
from projections.judge import dossier_timeliness
from projections.periods import (
    Instant,
    Period,
    local_day_number,
    parse_period,
    to_datetime,
    to_instant,
)
from projections.rulebook import SHIPPED, load_rulebook
from projections.scores import Scored, UnitScore

try:
    from projections.clickhouse._fact_rows import FactRows as CompiledFactRows
except ImportError:  # not compiled: the reference below
    CompiledFactRows = None  # type: ignore[assignment,misc]

class Staging(Protocol):
    """Where dossiers taken out of memory go (``streams.coldstore``, ``streams.worker_state``)."""

    def stage(self, records: Iterable[tuple[str, str, bytes]]) -> int:
        """Hold records (dossier id, unit, record) for the next snapshot; how many."""


Group = tuple[str, str, str]
"""Units ranked together, in one period: (kind, peer group, period key); the peer group is
the province code for departments and communes, "" for the national kinds."""

RANKED_TOGETHER = (UnitKind.DEPARTMENT, UnitKind.COMMUNE)


def clamp(as_of: datetime, period: Period) -> datetime:
    """as_of clamped to the period's last instant (a closed period's rows stay put)."""
    return min(as_of, to_datetime(period.last))


def score_moved(previous: Any, digest: tuple[Any, ...]) -> bool:
    """Whether a score's digest ``(total, rank, band, groups)`` differs from the one last
    written (``None``: none) in more than its rank: only then is a ``score_history`` row
    written (the rank when the score last changed; the current rank is in
    ``rankings_current``)."""
    return previous is None or (previous[0], *previous[2:]) != (digest[0], *digest[2:])


@dataclass
class Projector:
    """Folds envelopes through one engine carrying every shipped rulebook, and turns what
    they touched into rows; remembers the scores it last gave rows for, so unchanged ones
    are not rewritten. After a restart it knows none: ``stored`` (the rows the tables held)
    tells which scores are as stored, and the writer leaves out any other row equal to the
    stored one."""

    pseudonym_key: bytes
    rulebooks: Sequence[str] = SHIPPED
    engine: ScoringEngine = field(init=False)
    groups: set[Group] = field(default_factory=set)  # every group ever touched
    _written: dict[tuple[str, str, str, str], Any] = field(default_factory=dict)
    # scores whose ranking row is written the next time they are computed, changed or not
    # (see ``unsure``)
    _unsure: set[tuple[str, str, str, str]] = field(default_factory=set)
    _pending_dossiers: set[str] = field(default_factory=set)
    # Open dossiers whose row says on time, by the deadline after which it turns late with no
    # event: (deadline, dossier) heap, and each dossier's current deadline (older heap entries
    # are stale and skipped).
    _turns: list[tuple[Instant, str]] = field(default_factory=list)
    _turn_of: dict[str, Instant] = field(default_factory=dict)
    _rows: FactRows | CompiledFactRows | None = None
    stored: StoredRows | None = None  # what the tables held when the runner resumed
    checkpoint: int = 0  # the size of a signed checkpoint covering what is folded (0: none)
    rows_day: int = 0  # the local day of the moment of the latest fact rows (see fact_rows)

    def __post_init__(self) -> None:
        self.engine = ScoringEngine([load_rulebook(r) for r in self.rulebooks])

    @property
    def dossier_positions(self) -> dict[str, int]:
        """The position of each dossier's latest event (of those held in memory)."""
        return self.engine.positions

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (a runner's snapshot) without what a resume reads or makes anew: the row
        maker and the rows the tables held."""
        state = dict(self.__dict__)
        state["_rows"] = state["stored"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("_unsure", set())  # a snapshot of an earlier version
        self.__dict__.update(state)

    # -- folding -----------------------------------------------------------------------
    def fold(self, envelopes: Iterable[dict[str, Any]], *, settle: bool = True
             ) -> tuple[set[Group], set[str]]:
        """Apply envelopes; returns the groups whose scores may have changed (none before
        :meth:`settle` when ``settle`` is false) and the dossiers whose facts did."""
        dossiers: set[str] = set()
        apply = self.engine.apply
        positions = self.dossier_positions
        for envelope in envelopes:
            apply(envelope)
            dossier = dossier_of(envelope)
            if dossier is not None:
                dossiers.add(dossier)
                positions[dossier] = envelope["position"]
        return (self.settle() if settle else set()), dossiers

    def settle(self) -> set[Group]:
        """Bring the counters up to date; returns the groups whose scores may have changed."""
        groups = self.groups_of(self.engine.flush())
        self.groups |= groups
        return groups

    def groups_of(self, keys: Iterable[tuple[str, str]]) -> set[Group]:
        units = self.engine.facts.units
        found: set[Group] = set()
        for unit, period in keys:
            if unit not in units:
                continue
            kind = units.get(unit).kind
            peer_group = (units.province_of(unit) or "") if kind in RANKED_TOGETHER else ""
            found.add((str(kind), peer_group, period))
        return found

    # -- rows --------------------------------------------------------------------------
    def event_rows(self, batch: Batch, events: Sequence[tuple[dict[str, Any], bytes]]) -> None:
        """Archive rows of (envelope, stored bytes) pairs (``DossierLedger.read_raw``)."""
        key = self.pseudonym_key
        batch.add_lines(schema.EVENTS, [event_line(e, stored, key) for e, stored in events])

    def fact_rows(self, batch: Batch, dossiers: Iterable[str], as_of: datetime) -> None:
        """Rows of the dossiers at ``as_of``; a dossier submitted later waits for its time."""
        facts = self.engine.facts
        units = facts.units
        row_of = self._fact_rows().row
        provinces: dict[str, str] = {}
        t = to_instant(as_of)
        rows = []
        positions = self.engine.positions
        self.rows_day = local_day_number(t)
        for dossier_id in set(dossiers) | self._pending_dossiers:
            f = facts.dossiers.get(dossier_id)
            if f is None and self.engine.recall(dossier_id):  # taken out of memory
                f = facts.dossiers[dossier_id]
            if f is None:
                continue
            if f.submitted_at > t:
                self._pending_dossiers.add(dossier_id)
                continue
            self._pending_dossiers.discard(dossier_id)
            province = provinces.get(f.unit)
            if province is None:
                province = provinces[f.unit] = (
                    (units.province_of(f.unit) if f.unit in units else None) or "")
            row, deadline = row_of(f, t, province, as_of, positions.get(dossier_id, 0))
            if deadline is not None:
                self._watch(dossier_id, deadline)
            elif dossier_id in self._turn_of:
                del self._turn_of[dossier_id]
            rows.append(row)
        batch.add(schema.DOSSIER_FACTS, rows)

    def _fact_rows(self) -> FactRows | CompiledFactRows:
        """The row maker of the default rulebook: compiled when the facts are."""
        if self._rows is None:
            book = self.engine.rulebook()
            compiled = self.engine.facts.compiled_fold is not None and CompiledFactRows
            maker = CompiledFactRows if compiled else FactRows
            self._rows = maker(book.switches, book.working_calendar())
        return self._rows

    def _watch(self, dossier_id: str, deadline: Instant) -> None:
        if self._turn_of.get(dossier_id) != deadline:
            self._turn_of[dossier_id] = deadline
            heapq.heappush(self._turns, (deadline, dossier_id))

    def turned_rows(self, batch: Batch, as_of: datetime) -> int:
        """Rows of the open dossiers that turned late by ``as_of`` with no event since their
        last row (status ``open`` → ``open_late``). Returns how many."""
        t = to_instant(as_of)
        turned: list[str] = []
        while self._turns and self._turns[0][0] < t:
            deadline, dossier_id = heapq.heappop(self._turns)
            if self._turn_of.get(dossier_id) == deadline:
                turned.append(dossier_id)
        if turned:
            self.fact_rows(batch, turned, as_of)
        return len(turned)

    def open_dossiers(self, as_of: datetime) -> set[str]:
        """The dossiers with no end by ``as_of``, refused ones aside (their rows move with
        time); all are held in memory (only ended ones are taken out)."""
        t = to_instant(as_of)
        return {dossier_id for dossier_id, f in self.engine.facts.dossiers.items()
                if f.end_at(t) is None and (f.refused_at is None or f.received_at is not None)}

    def watch_open_dossiers(self, as_of: datetime) -> None:
        """Watch every dossier open at ``as_of`` (after a restart, whose rows may have been
        written on time before the process stopped)."""
        facts = self.engine.facts
        switches = self.engine.rulebook().switches
        t = to_instant(as_of)
        for dossier_id, f in facts.dossiers.items():
            if f.received_at is not None and f.received_at <= t and f.submitted_at <= t:
                running, _, deadline = dossier_timeliness(f, t, switches.apology_extends_due)
                if running:
                    self._watch(dossier_id, deadline)

    def score_rows(self, batch: Batch, groups: Iterable[Group], as_of: datetime,
                   computed_at: datetime, *, only_changed: bool = True) -> int:
        """Score every unit of the groups under every rulebook at ``as_of`` (clamped to each
        period); add a ranking row for each score whose score or rank changed since this
        projector last gave rows for it (all of them without ``only_changed``), and a history
        row only when the score itself changed (:func:`score_moved`: a rank moved by a peer
        stays exact in ``rankings_current``, and is recomputable from the peers' history).
        Returns the number of unit scores given rows."""
        written = 0
        for key, peer_group, issue, unit, scored, rank in self._scores(groups, as_of):
            digest = (scored[1], rank, scored[2], scored[0])
            previous = self._written.get(key)
            if only_changed and previous == digest and key not in self._unsure:
                continue
            self._unsure.discard(key)
            self._written[key] = digest
            score = issue(unit, scored, rank)
            ranking = ranking_row(score, peer_group, computed_at, self.checkpoint)
            if self.stored is not None and self.stored.unchanged(SCORES, ranking):
                continue  # as stored: no history rows to build
            if not only_changed or score_moved(previous, digest):
                batch.add(schema.SCORE_HISTORY, history_rows(score, computed_at))
            batch.add(schema.RANKINGS, [ranking])
            written += 1
        return written

    def _scores(self, groups: Iterable[Group], as_of: datetime,
                only: Callable[[str], bool] | None = None) -> Iterator[
            tuple[tuple[str, str, str, str], str, Callable[[str, Scored, int | None], UnitScore],
                  str, Scored, int | None]]:
        """(key, peer group, issuer, unit, scored, rank) of every unit of the groups under
        every rulebook at ``as_of`` clamped to each period; key: (rulebook, kind, period,
        unit), what ``_written`` remembers. ``only``: of these units, unranked."""
        for kind, peer_group, period_key in sorted(groups):
            period = parse_period(period_key)
            moment = clamp(as_of, period)
            for rulebook in self.rulebooks:
                issue = self.engine.issuer(period, moment, rulebook)
                for unit, scored, rank in self.engine.ranked(
                        kind, period, moment, rulebook, province=peer_group or None,
                        only=only):
                    yield (rulebook, kind, period_key, unit), peer_group, issue, unit, scored, rank

    def unranked_scores(self, groups: Iterable[Group], as_of: datetime,
                        only: Callable[[str], bool] | None = None) -> list[UnitScore]:
        """The scores, without rank, of the groups' units (``only``: those it accepts) whose
        score changed since this projector last gave them (rows or not): for groups ranked
        elsewhere, where every peer's score meets (the Kafka workers' provinces: see
        ``streams.worker``)."""
        found: list[UnitScore] = []
        for key, _, issue, unit, scored, _ in self._scores(groups, as_of, only):
            digest = (scored[1], None, scored[2], scored[0])
            if self._written.get(key) != digest:
                self._written[key] = digest
                found.append(issue(unit, scored, None))
        return found

    def unsure(self) -> None:
        """Write every score's ranking row again the next time it is computed: resumed from
        a snapshot, after which a process since stopped may have written rows this one will
        not (a rank moved and back, at a mark this one passes by)."""
        self._unsure = set(self._written)

    def forget_given(self, kind: str) -> None:
        """Forget which scores of a kind were last given: the next ones are all given."""
        self._written = {key: digest for key, digest in self._written.items()
                         if key[1] != kind}

    def current_groups(self, as_of: datetime) -> set[Group]:
        """The groups seen so far whose period contains ``as_of`` (live scores move with
        time: open dossiers turn late with no new event)."""
        t = to_instant(as_of)
        return {g for g in self.groups if parse_period(g[2]).contains(t)}

    def pending_dossiers(self) -> set[str]:
        return set(self._pending_dossiers)

    # -- memory --------------------------------------------------------------------------
    def take_out(self, cold: Staging, ended_before: Instant,
                 rows: tuple[Batch, datetime] | None = None) -> int:
        """Move the dossiers that ended with no event since ``ended_before`` out of memory
        into ``cold`` (staged for the next snapshot); with ``rows`` (batch, moment), their
        fact rows at that moment are added to the batch first. Returns how many."""
        engine = self.engine
        keep = self._pending_dossiers
        watched = self._turn_of
        ids = [dossier_id for dossier_id in engine.settled_dossiers(ended_before)
               if dossier_id not in keep and dossier_id not in watched]
        if rows is not None:
            self.fact_rows(rows[0], ids, rows[1])
        if engine.write_through:  # ``cold`` holds their latest state already
            return engine.drop(ids)
        return cold.stage(engine.take(ids))

