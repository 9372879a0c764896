"""The Kafka workers' projections, without Kafka: one per partition of the relay's topic, and
the national ranking of the provinces (``streams.faust_app`` runs them as faust agents).

A partition holds whole unit trees (``streams.routing``), so a :class:`PartitionProjection`
folding its events computes the exact facts, counters and scores of its units with the same
:class:`~streams.projector.Projector` as the embedded runner. It writes rows only at the
relay's marks: at a mark (P, T) it has folded every event of its trees up to P and none after,
so every row it writes is the log's at P, evaluated at T, and says so (``position`` = P). The
provinces are ranked against each other: each partition reports, at every mark, its
provinces' scores that changed (unranked); :class:`NationalRanking` waits until every
partition has reported a mark, then ranks and writes the provinces' rows at that same cut.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.units import UnitKind
from ledger.chain import canonical_json
from projections.clickhouse import schema
from projections.clickhouse.rows import history_rows, ranking_row
from projections.clickhouse.writer import Batch
from projections.periods import parse_period, periods_containing, to_datetime, to_instant
from projections.scores import UnitScore, standard_competition_ranks
from streams.projector import Projector, clamp, score_moved
from streams.routing import Mark, partition_for
from streams.worker_state import TableCold

NATIONAL = str(UnitKind.PROVINCE)
"""The kind ranked across partitions (departments and communes are ranked within their
province, on its partition; ministries and agencies are not ranked)."""
REFRESH_SECONDS = 30.0
"""Mark time between rescorings of every current period (scores move with time)."""

MarkKey = tuple[int, datetime]
"""(position, time) of a mark: marks are done in this order, later ones only."""


def stored_bytes(envelope: dict[str, Any]) -> bytes:
    """The ledger's stored JSON of an event as the relay sent it: its export line without
    ``position`` (canonical JSON re-encodes to the same bytes)."""
    return canonical_json({k: v for k, v in envelope.items() if k != "position"})


@dataclass(frozen=True, slots=True)
class Report:
    """A partition's provinces whose score changed at a mark (unranked), for the ranking."""

    mark: MarkKey
    partitions: int
    partition: int
    scores: tuple[UnitScore, ...]
    head: int = 0  # the ledger's head when the mark was sent
    previous: MarkKey | None = None  # the partition's report before this one
    full: bool = False  # every province score of the partition, changed or not
    through: int = 0  # the mark's last position of the log (``Mark.covered``)


class PartitionProjection:
    """The state and rows of one partition (pickled whole in its snapshots, between marks)."""

    def __init__(self, partition: int, pseudonym_key: bytes,
                 refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.partition = partition
        self.projector = Projector(pseudonym_key)
        self.refresh_seconds = refresh_seconds
        self.position = 0  # the latest event folded
        self.offset = -1  # the partition's last record taken (folded, repeated or a mark)
        self.report_all = True  # at the next mark, report every province score (again)
        self.reported: MarkKey | None = None  # the mark of the last report
        self.mark: MarkKey | None = None  # the latest mark done
        self.refreshed: datetime | None = None  # the mark time every current group was scored
        self._events: list[tuple[dict[str, Any], bytes]] = []  # folded since the last mark
        self._dossiers: set[str] = set()
        self._unwritten: set[str] = set()  # changed at marks done, not yet in the store
        self._store: TableCold | None = None
        self._owned: tuple[int, dict[str, bool]] | None = None  # (partitions, unit -> ours)

    def __getstate__(self) -> dict[str, Any]:
        if self._unwritten:
            raise RuntimeError("a partition is snapshotted once its dossiers are written")
        state = dict(self.__dict__)
        state["_events"], state["_dossiers"] = [], set()  # snapshots are taken at marks
        state["_store"] = state["_owned"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("_unwritten", set())
        state["_owned"] = None
        self.__dict__.update(state)
        self._store = None

    def resumed(self) -> None:
        """Loaded from a snapshot: a process that went on from it and stopped may have sent
        reports since lost, and written rows this one will not write again (it may write
        fewer marks): every score is reported, and its row written, once more."""
        self.report_all = True
        self.refreshed = None  # every current group is scored at the next mark
        self.projector.unsure()

    def attach(self, store: TableCold) -> None:
        """Keep the partition's dossiers in ``store``, written through at every mark (see
        ``streams.worker_state``): those a snapshot named are read back now."""
        self.projector.engine.attach(store, write_through=True)
        self._store = store

    def fold(self, envelope: dict[str, Any]) -> bool:
        """Fold one event; False when its position was folded already (a repeat)."""
        position = envelope["position"]
        if position <= self.position:
            return False
        _, dossiers = self.projector.fold([envelope], settle=False)
        self._dossiers |= dossiers
        self._events.append((envelope, stored_bytes(envelope)))
        self.position = position
        return True

    def _owns(self, partitions: int) -> Callable[[str], bool]:
        """Whether a province's tree is on this partition (of ``partitions``)."""
        owned = self._owned
        if owned is None or owned[0] != partitions:
            owned = self._owned = (partitions, {})
        known = owned[1]

        def owns(unit: str) -> bool:
            found = known.get(unit)
            if found is None:
                found = known[unit] = partition_for(unit, partitions) == self.partition
            return found
        return owns

    def write_dossiers(self) -> int:
        """Write the latest state of the dossiers changed at the marks done since the last
        write to the store (before any snapshot); returns how many."""
        written = 0
        if self._store is not None and self._unwritten:
            written = self._store.write(self.projector.engine.peek(self._unwritten))
        self._unwritten = set()
        return written

    def at_mark(self, mark: Mark, computed_at: datetime, *, write: bool = True
                ) -> tuple[Batch, Report] | None:
        """The rows at a mark, and the report of the provinces' scores; None when the mark is
        not after the latest done (a repeat). ``write``: write the dossiers changed to the
        store now (else at a later mark or before the next snapshot: a partition catching
        up writes each dossier once however many marks changed it)."""
        key = (mark.position, mark.at)
        if self.mark is not None and key <= self.mark:
            return None
        self.mark = key
        projector = self.projector
        facts = projector.engine.facts
        facts.position = max(facts.position, mark.position)  # the cut the rows are at
        self.position = max(self.position, mark.position)
        now = mark.at
        groups = projector.settle()
        if self.refreshed is None or (now - self.refreshed).total_seconds() \
                >= self.refresh_seconds:
            groups |= projector.current_groups(now)
            self.refreshed = now
        batch = Batch(position=mark.position)
        projector.event_rows(batch, self._events)
        projector.fact_rows(batch, self._dossiers, now)
        projector.turned_rows(batch, now)
        projector.score_rows(batch, {g for g in groups if g[0] != NATIONAL}, now, computed_at)
        # every current national group, so that the ranking's scores all stand at this cut:
        # those of the periods containing the mark's time whether or not an event of this
        # partition touched them (the provinces are ranked together, and events elsewhere
        # make the group), and any other this partition touched
        current = {(NATIONAL, "", period.key) for period in periods_containing(to_instant(now))}
        projector.groups |= current
        national = {g for g in groups | projector.current_groups(now) if g[0] == NATIONAL}
        full = self.report_all
        if full:  # reports sent before may be lost: every score the ranking holds, again
            national |= {g for g in projector.groups if g[0] == NATIONAL}
            projector.forget_given(NATIONAL)
            self.report_all = False
        # every partition knows every province (the registry holds them all): only the
        # scores of the provinces whose tree is on this partition are this partition's
        scores = tuple(projector.unranked_scores(national, now, self._owns(mark.partitions)))
        self._unwritten |= self._dossiers
        if write:
            self.write_dossiers()
        self._events, self._dossiers = [], set()
        report = Report(key, mark.partitions, self.partition, scores, mark.head,
                        self.reported, full, mark.covered)
        self.reported = key
        return batch, report


@dataclass
class NationalRanking:
    """The provinces' latest scores from every partition, ranked at each mark once every
    partition has reported it."""

    scores: dict[tuple[str, str], dict[str, UnitScore]] = field(default_factory=dict)
    written: dict[tuple[str, str, str], tuple[Any, ...]] = field(default_factory=dict)
    pending: dict[MarkKey, dict[int, Report]] = field(default_factory=dict)
    done: MarkKey | None = None
    offset: int = -1  # the reports topic's last record taken
    last_from: dict[int, MarkKey] = field(default_factory=dict)  # partition -> its last mark
    # rows written again when next computed, changed or not: resumed from a snapshot, after
    # which a stopped process may have written rows this one will not
    unsure: set[tuple[str, str, str]] = field(default_factory=set)

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("unsure", set())  # a snapshot of an earlier version
        self.__dict__.update(state)

    def gap(self, report: Report) -> MarkKey | None:
        """The mark after which reports of the report's partition are missing (None: none
        missing): its previous report is not the last one received from it, and it does
        not resend every score (as it does first after a restart: a new chain)."""
        last = self.last_from.get(report.partition)
        if report.full or report.previous is None or last is None or last == report.previous:
            return None
        return last

    def add(self, report: Report) -> list[MarkKey]:
        """Hold a report; returns the marks now reported by every partition, in order (an
        earlier mark some partition never reported is superseded by a later complete one:
        the reports held for it are taken with that one's, in order, for each report
        carries only the scores that changed since its partition's previous one)."""
        self.last_from[report.partition] = report.mark  # the topic's order: the chain's
        if self.done is not None and report.mark <= self.done:
            return []
        self.pending.setdefault(report.mark, {})[report.partition] = report
        return sorted(mark for mark, reports in self.pending.items()
                      if len(reports) >= report.partitions)

    def rank(self, mark: MarkKey, computed_at: datetime) -> Batch:
        """The provinces' rows at a complete mark: the scores reported at it and at the
        marks it supersedes (earliest first), and every province whose rank moved."""
        touched: set[tuple[str, str]] = set()
        for key in sorted(k for k in self.pending if k <= mark):
            for report in self.pending.pop(key).values():
                for score in report.scores:
                    group = (score.rulebook_id, score.period)
                    self.scores.setdefault(group, {})[score.unit] = score
                    touched.add(group)
        self.done = mark
        batch = Batch(position=mark[0])
        for group in sorted(touched):
            self._rank_group(batch, group, mark, computed_at)
        return batch

    def _rank_group(self, batch: Batch, group: tuple[str, str], mark: MarkKey,
                    computed_at: datetime) -> None:
        members = self.scores[group]
        ranks = standard_competition_ranks({u: s.total for u, s in members.items()})
        period = parse_period(group[1])
        moment = clamp(mark[1], period)
        evaluated = to_datetime(period.evaluation_time(to_instant(moment)))
        for unit, score in sorted(members.items()):
            key = (group[0], group[1], unit)
            digest = (score.total, ranks[unit], score.band, score.groups)
            previous = self.written.get(key)
            if previous == digest and key not in self.unsure:
                continue
            self.unsure.discard(key)
            self.written[key] = digest
            issued = UnitScore(score.unit, score.unit_name, score.kind, score.period, moment,
                               evaluated, score.rulebook_id, score.rulebook_version,
                               score.total, score.band, score.groups, ranks[unit], mark[0])
            if score_moved(previous, digest):
                batch.add(schema.SCORE_HISTORY, history_rows(issued, computed_at))
            batch.add(schema.RANKINGS, [ranking_row(issued, "", computed_at, 0)])
