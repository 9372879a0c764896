"""Replay: rebuild every ClickHouse table from the ledger into new tables, then swap them in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.application import DossierLedger
from projections.clickhouse.writer import Batch, ClickHouseWriter
from projections.periods import parse_instant, to_instant
from streams.follower import wall_clock
from streams.projector import Projector

REBUILD_SUFFIX = "__rebuild"
CHUNK_EVENTS = 10_000
SCORE_ROWS_PER_INSERT = 20_000

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


def replay(ledger: DossierLedger, client: Any, *, pseudonym_key: bytes,
           as_of: datetime | None = None, progress: Progress | None = None,
           runner: str = "follower") -> ReplayResult:
    """Rebuild the tables from the ledger into ``<table>__rebuild`` copies and swap them in
    with EXCHANGE TABLES, so readers never see an empty or half-built ranking.

    Without ``as_of`` every event is replayed and scores are evaluated now. With ``as_of``
    the tables show what they showed at that moment: only the events *recorded* by then
    (``recorded_at`` ≤ as_of — what the ledger knew), scored at evaluation time as_of (which
    the scores compare with each event's ``at``, spec/index.md). The tracking position is
    the last event replayed, so a follower started afterwards continues from there.
    """
    import time

    began = time.perf_counter()
    moment = as_of or wall_clock()
    writer = ClickHouseWriter(client, runner=runner, suffix=REBUILD_SUFFIX)
    writer.drop()
    writer.ensure_schema()
    projector = Projector(pseudonym_key)
    head = ledger.max_position()
    tell = progress or (lambda stage, n, total: None)
    events = position = 0
    limit = None if as_of is None else to_instant(as_of)
    for envelopes, covered in _chunks(ledger, head, limit):
        projector.fold(envelopes, settle=False)  # the counters are brought up once, below
        batch = Batch()
        projector.event_rows(batch, envelopes)
        writer.write(batch)
        events += len(envelopes)
        if envelopes:
            position = envelopes[-1]["position"]
        tell("events", covered, head)
    projector.settle()
    batch = Batch()
    projector.fact_rows(batch, projector.dossier_positions, moment)
    writer.write(batch)
    groups = sorted(projector.groups)
    tell("scores", 0, len(groups))
    scores = 0
    batch = Batch()
    for group in groups:
        scores += projector.score_rows(batch, [group], moment, wall_clock(), only_changed=False)
        if len(batch) >= SCORE_ROWS_PER_INSERT:
            writer.write(batch)
            batch = Batch()
        tell("scores", 1, len(groups))
    batch.position = position if as_of is not None else head
    writer.write(batch)
    rows = writer.rows_written
    writer.swap_into()
    return ReplayResult(events, batch.position, scores, rows, time.perf_counter() - began,
                        moment)


def _chunks(ledger: DossierLedger, head: int, limit: int | None
            ) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """Envelopes in chunks (with the positions each chunk covered); with ``limit``, only
    those recorded at or before it."""
    start = 1
    while start <= head:
        stop = min(head, start + CHUNK_EVENTS - 1)
        envelopes = [e for e in ledger.read_envelopes(start, stop)
                     if limit is None or parse_instant(e["recorded_at"]) <= limit]
        yield envelopes, stop - start + 1
        start = stop + 1
