"""Replay: rebuild every ClickHouse table from the ledger into new tables, then swap them in."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.application import DossierLedger
from projections.clickhouse.moments import moment_suffix
from projections.clickhouse.writer import Batch, ClickHouseWriter
from projections.periods import parse_instant, to_instant
from streams.coldstore import COLD, ColdStore
from streams.follower import wall_clock
from streams.memory import building_state
from streams.projector import Projector

REBUILD_SUFFIX = "__rebuild"
TAKE_OUT_EVERY = 200_000  # events folded between two moves of ended dossiers out of memory
TAKE_OUT_AFTER = 3_600_000_000  # µs of ledger time after its last event an ended one moves
CHUNK_EVENTS = 10_000
SCORE_ROWS_PER_INSERT = 5_000

Progress = Callable[[str, int, int | None], None]
"""progress(stage, advance, total): stages "events", then "scores"."""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    events: int
    position: int
    scores: int
    rows: int
    seconds: float
    as_of: datetime
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage (STAGES)
    taken_out: int = 0  # dossiers moved out of memory (with a state directory)


def replay(ledger: DossierLedger, client: Any, *, pseudonym_key: bytes,
           as_of: datetime | None = None, as_recorded: datetime | None = None,
           progress: Progress | None = None, runner: str = "follower",
           state_dir: Path | None = None, take_out_every: int = TAKE_OUT_EVERY
           ) -> ReplayResult:
    """Rebuild the tables from the ledger into ``<table>__rebuild`` copies and swap them in
    with EXCHANGE TABLES, so readers never see an empty or half-built ranking.

    Without a moment every event is replayed, scored now, and the copies replace the live
    tables. With a moment T the live tables are left alone: the copies replace the tables of
    that moment (:mod:`projections.clickhouse.moments`), which readers ask for by T.

    - ``as_of``: what had happened by T: the events whose ``at`` ≤ T, scored at T.
    - ``as_recorded``: what the ledger knew at T: the log up to the last event recorded by
      T (a prefix of positions, so no event recorded earlier is ever left out), scored at T —
      the rankings exactly as they were shown then.

    With ``state_dir``, what the replay holds in memory is bounded as the runner's is: every
    ``take_out_every`` events, the dossiers that ended an hour (of ledger time) before the
    latest event folded are written (their fact rows, as of the moment) and move to a store
    on disk of their own there (deleted at the end); an event of one brings it back.
    """
    if as_of is not None and as_recorded is not None:
        raise ValueError("give --as-of or --as-recorded, not both")
    cold = None
    if state_dir is not None:
        path = state_dir / f"replay-{os.getpid()}-{COLD}"
        for stale in (path, *(path.with_name(path.name + end) for end in ("-wal", "-shm"))):
            stale.unlink(missing_ok=True)
        cold = ColdStore(path)
    try:
        with building_state(keep=False):
            return _replay(ledger, client, pseudonym_key=pseudonym_key, as_of=as_of,
                           as_recorded=as_recorded, progress=progress, runner=runner,
                           cold=cold, take_out_every=take_out_every)
    finally:
        if cold is not None:
            cold.close()
            for path in (cold.path, *(cold.path.with_name(cold.path.name + end)
                                      for end in ("-wal", "-shm"))):
                path.unlink(missing_ok=True)


def _replay(ledger: DossierLedger, client: Any, *, pseudonym_key: bytes,
            as_of: datetime | None, as_recorded: datetime | None, progress: Progress | None,
            runner: str, cold: ColdStore | None, take_out_every: int) -> ReplayResult:
    began = time.perf_counter()
    target = ""
    if as_of is not None:
        target = moment_suffix("asof", as_of)
    elif as_recorded is not None:
        target = moment_suffix("asrec", as_recorded)
    moment = as_of or as_recorded or wall_clock()
    writer = ClickHouseWriter(client, runner=runner, suffix=target + REBUILD_SUFFIX)
    writer.drop()
    writer.ensure_schema()
    projector = Projector(pseudonym_key)
    if cold is not None:
        projector.engine.attach(cold)
    head = ledger.max_position()
    if as_recorded is not None:
        head = ledger.last_position_recorded_by(as_recorded)
    tell = progress or (lambda stage, n, total: None)
    events = position = taken_at = 0
    limit = None if as_of is None else to_instant(as_of)
    stages: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    clock = _Stopwatch(stages)
    chunks = _chunks(ledger, head, limit)
    with _Inserts(writer) as inserts:
        while (chunk := clock.time("read", next, chunks, None)) is not None:
            raw, covered = chunk
            envelopes = [envelope for envelope, _ in raw]
            # the counters are brought up once, below
            clock.time("fold", projector.fold, envelopes, settle=False)
            batch = Batch()
            clock.time("archive", projector.event_rows, batch, raw)
            clock.time("write", inserts.put, batch)
            events += len(envelopes)
            if envelopes:
                position = envelopes[-1]["position"]
            if cold is not None and events - taken_at >= take_out_every:
                taken_at = events
                clock.time("counters", projector.settle)
                batch = Batch()
                clock.time("facts", _take_out, projector, cold, batch, moment)
                clock.time("write", inserts.put, batch)
            tell("events", covered, head)
        clock.time("counters", projector.settle)
        # The dossiers' rows, then the scores: the inserts begin while the scores are
        # computed, and the last batch (the tail of the scores) is small.
        batch = Batch()
        clock.time("facts", projector.fact_rows, batch, projector.dossier_positions, moment)
        clock.time("write", inserts.put, batch)
        groups = sorted(projector.groups)
        tell("scores", 0, len(groups))
        scores = 0
        batch = Batch()
        for group in groups:
            scores += projector.score_rows(batch, [group], moment, wall_clock(),
                                           only_changed=False)
            if len(batch) >= SCORE_ROWS_PER_INSERT:
                clock.lap("scores")
                clock.time("write", inserts.put, batch)
                batch = Batch()
            tell("scores", 1, len(groups))
        clock.lap("scores")
        batch.position = position if as_of is not None else head
        clock.time("write", inserts.put, batch)
        clock.time("drain", inserts.close)
    rows = writer.rows_written
    clock.time("swap", writer.swap_into, target)
    return ReplayResult(events, batch.position, scores, rows, time.perf_counter() - began,
                        moment, stages, projector.engine.taken)


def _take_out(projector: Projector, cold: ColdStore, batch: Batch, moment: datetime) -> None:
    """Write the fact rows of the dossiers that ended an hour before the latest event folded
    and move them out of memory (their records straight to disk: a replay keeps no
    snapshots)."""
    watermark = projector.engine.facts.watermark
    projector.take_out(cold, watermark - TAKE_OUT_AFTER, rows=(batch, moment))
    cold.commit(0, cold.begin_flush())
    cold.end_flush(True)


class _Inserts:
    """Batches written by a thread of their own, in order, while the replay goes on: ClickHouse
    parses and stores them without holding the interpreter. At most two batches wait; the
    first error is raised by :meth:`put` or :meth:`close`, and nothing after it is written."""

    def __init__(self, writer: ClickHouseWriter) -> None:
        self.writer = writer
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="replay-inserts", daemon=True)

    def __enter__(self) -> _Inserts:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()

    def put(self, batch: Batch) -> None:
        self._raise()
        batch.encode()  # here: encoding holds the interpreter, inserting does not
        self.queue.put(batch)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while (batch := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.writer.write(batch)
                except BaseException as error:  # handed to the replaying thread
                    self.error = error


STAGES = ("read", "fold", "archive", "counters", "facts", "scores", "write", "drain", "swap")
"""Where a replay spends its time: reading and decoding the log, folding facts, building the
event archive's rows, bringing the counters up, fact rows, scoring, waiting to hand a batch to
the ClickHouse inserts (which run beside the rest), waiting for the last ones, swapping the
tables in."""


class _Stopwatch:
    """Adds the time of each call (or of each lap since the last mark) to a stage."""

    def __init__(self, stages: dict[str, float]) -> None:
        self.stages = stages
        self._mark = time.perf_counter()

    def time(self, stage: str, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return work(*args, **kwargs)
        finally:
            self.stages[stage] += time.perf_counter() - began
            self._mark = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] += now - self._mark
        self._mark = now


def _chunks(ledger: DossierLedger, head: int, limit: int | None
            ) -> Iterator[tuple[list[tuple[dict[str, Any], bytes]], int]]:
    """(envelope, stored bytes) pairs in chunks (with the positions each chunk covered); with
    ``limit``, only the events that had happened by then (``at`` ≤ limit)."""
    start = 1
    while start <= head:
        stop = min(head, start + CHUNK_EVENTS - 1)
        events = [(e, stored) for e, stored in ledger.read_raw(start, stop)
                  if limit is None or parse_instant(e["at"]) <= limit]
        yield events, stop - start + 1
        start = stop + 1
