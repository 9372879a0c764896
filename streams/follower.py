"""The in-process runner: polls the ledger's notification log and keeps ClickHouse current."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from ledger.application import DossierLedger
from ledger.checkpoints import SigningKey
from ledger.proofs import take_checkpoint
from projections.clickhouse import schema
from projections.clickhouse.writer import Batch, ClickHouseWriter
from projections.periods import local_day_number, to_instant
from streams.coldstore import ColdStore
from streams.memory import building_state
from streams.projector import Projector
from streams.snapshots import Snapshot, Snapshots, latest_usable

REFOLD_CHUNK = 1000
CYCLE_FLUSH_SECONDS = 1.0
HOUR = 3_600_000_000  # µs
HELD_DOSSIERS = 100_000
"""A snapshot (which takes the ended dossiers out of memory) is also due when the dossiers
held reach this many, or twice as many as after the last one."""


def pause(stop: threading.Event, seconds: float) -> None:
    """Sleep up to ``seconds``, waking when ``stop`` is set: short sleeps rather than a timed
    wait on the event, which never ends under a faked clock (libfaketime)."""
    end = time.monotonic() + seconds
    while not stop.is_set() and (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.05))


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Cycle:
    """One write cycle: the positions it covered, what it wrote (unit scores, and rows in all
    tables), and when it committed."""

    first_position: int
    position: int
    events: int
    scores: int
    rows: int
    seconds: float
    committed: float  # time.monotonic() when the tracking row was written
    refresh: bool


class Follower:
    """Follows the ledger (SQLite has no subscriptions: it polls) and writes the rows of every
    event, dossier and score the events touch; a timer also refreshes the current periods'
    scores, because open dossiers turn late with no new event.

    Restart-safe: :meth:`resume` re-folds the ledger up to the tracking position stored with
    the rows (the engine is deterministic) and reads what the tables hold, and writing
    continues after it: a row equal to the stored one is not written again, so a restart
    writes only what changed meanwhile (the clock moved) or what a killed cycle left unwritten.
    A cycle killed half-way is written again: every table is keyed so that nothing duplicates.
    """

    def __init__(self, ledger: DossierLedger, writer: ClickHouseWriter, *,
                 pseudonym_key: bytes, clock: Callable[[], datetime] = wall_clock,
                 poll_seconds: float = 0.2, batch_events: int = 5000,
                 catch_up_events: int = 50_000,
                 refresh_seconds: float = 30.0,
                 on_cycle: Callable[[Cycle], None] | None = None,
                 signing_key: SigningKey | None = None,
                 snapshots: Snapshots | None = None,
                 snapshot_seconds: float = 60.0,
                 keep_ended_hours: float = 1.0) -> None:
        self.ledger = ledger
        self.writer = writer
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.batch_events = batch_events
        self.catch_up_events = catch_up_events
        self.refresh_seconds = refresh_seconds
        self.on_cycle = on_cycle
        self.signing_key = signing_key
        self.pseudonym_key = pseudonym_key
        self.projector = Projector(pseudonym_key)
        self.snapshots = snapshots
        self.snapshot_seconds = snapshot_seconds
        # a dossier that ended leaves memory this long (of ledger time) after its last event
        self.keep_ended = round(keep_ended_hours * HOUR)
        self.cold: ColdStore | None = None  # the dossiers taken out of memory (with snapshots)
        self._held_after = 0  # dossiers held in memory after the last snapshot
        self.resumed_from: Snapshot | None = None  # the snapshot resume loaded
        self.snapshot_skipped: list[str] = []  # why the snapshots it did not load were not
        self._snapshot_at = time.monotonic()
        self.position = 0
        self._archived = 0  # events archived ahead of the tracking row (a killed cycle)
        self._next_refresh = time.monotonic() + refresh_seconds
        self._stop = threading.Event()
        self._head = 0
        self._logs_cycles = not writer.suffix  # runner_cycles: the live runner's only
        self._cycle_rows: list[bytes] = []  # written at most once a second (CYCLE_FLUSH)
        self._cycles_flushed = time.monotonic()

    # -- starting ----------------------------------------------------------------------
    def resume(self, progress: Callable[[int], None] | None = None) -> int:
        """Create missing tables, rebuild the engine's state from the ledger up to the stored
        tracking position, and read the stored fact and score rows (the writer leaves out
        rows equal to them). Then write the fact rows of the dossiers that differ at the
        clock's time (a deadline passed, a dossier submitted later came due, a killed cycle);
        scores wait for the first cycle or refresh. From a snapshot, costs its load, the fold
        of the events after it and a read of the current scores (not of the fact rows: see
        below); without, one read-and-fold of the log up to the tracked position (tens of
        thousands of events per second) and one read of the stored rows."""
        self.writer.ensure_schema()
        if self._logs_cycles:
            self.writer.client.command(schema.CYCLES_TABLE.ddl())
        tracked = min(self.writer.tracked_position(), self.ledger.max_position())
        start, snapshot_at = 1, 0
        tail: set[str] = set()
        with building_state(keep=True):
            if self.snapshots is not None:
                snapshot_at = self._load_snapshot(tracked)
                start = snapshot_at + 1
                self._attach_cold(snapshot_at)
            while start <= tracked:
                stop = min(tracked, start + REFOLD_CHUNK - 1)
                _, dossiers = self.projector.fold(self.ledger.read_envelopes(start, stop))
                if snapshot_at:
                    tail |= dossiers
                if progress is not None:
                    progress(stop - start + 1)
                start = stop + 1
        self.position = tracked
        self._cover(tracked)
        self._archived = self.writer.archived_position()
        now, batch = self.clock(), Batch()
        if snapshot_at:
            # From a snapshot, only the fact rows that may differ from the stored ones:
            # those of the dossiers folded after it (a killed cycle may have left them
            # unwritten; written again, they replace themselves), of dossiers submitted later
            # that came due, of open ones that turned late meanwhile (the snapshot keeps their
            # deadlines), and on another day than the latest rows', of every open one (their
            # working days moved). Nothing is read back for them: a resume costs what is
            # open and the tail, not the table. The scores it last wrote are in the snapshot;
            # the stored current scores (one per unit and period) say which are as stored.
            moving = tail | self.projector.pending_dossiers()
            if local_day_number(to_instant(now)) != self.projector.rows_day:
                moving |= self.projector.open_dossiers(now)
            self.writer.load_stored(())
            self.projector.stored = self.writer.stored
            self.projector.fact_rows(batch, moving, now)
            self.projector.turned_rows(batch, now)
        else:
            self.writer.load_stored()
            self.projector.stored = self.writer.stored
            self.projector.fact_rows(batch, self.projector.dossier_positions, now)
        self.writer.write(batch)
        return tracked

    def _load_snapshot(self, tracked: int) -> int:
        """Load the latest usable snapshot at or before ``tracked``; returns its position
        (0: none, the fold starts from the beginning)."""
        assert self.snapshots is not None
        snapshot, projector, self.snapshot_skipped = latest_usable(self.snapshots,
                                                                   self.ledger, tracked)
        if snapshot is None or projector is None:
            return 0
        projector.pseudonym_key = self.pseudonym_key
        self.projector = projector
        self.resumed_from = snapshot
        return snapshot.position

    def _attach_cold(self, position: int) -> None:
        """The store of the dossiers taken out of memory, as of the snapshot at ``position``
        (0: none, the state is folded from the start): later records are deleted."""
        assert self.snapshots is not None
        engine = self.projector.engine
        if isinstance(engine.cold, ColdStore):
            engine.cold.close()  # the snapshot's reader: bounded at its position
        if self.cold is not None:
            self.cold.close()
        self.cold = ColdStore(self.snapshots.cold_path)
        self.cold.truncate_after(position)
        engine.attach(self.cold)

    def snapshot(self) -> None:
        """Snapshot the state now (a runner stopping), and wait for it to be written."""
        self._snapshot(wait=True)

    def _snapshot_due(self) -> bool:
        if time.monotonic() - self._snapshot_at >= self.snapshot_seconds:
            return True
        held = len(self.projector.engine.facts.dossiers)
        return self.cold is not None and held >= max(HELD_DOSSIERS, 2 * self._held_after)

    def _take_out(self) -> None:
        """Stage the dossiers that ended a while ago for the snapshot to commit; they leave
        memory."""
        if self.cold is None:
            return
        facts = self.projector.engine.facts
        self.projector.take_out(self.cold, facts.watermark - self.keep_ended)
        self.cold.begin_flush()
        self._held_after = len(facts.dossiers)

    def _snapshot(self, *, wait: bool = False) -> None:
        """Snapshot the state at the tracked position when one is due (``wait``: now, and
        wait for it to be written)."""
        if self.snapshots is None or not self.position:
            return
        if not wait and (self.snapshots.busy() or not self._snapshot_due()):
            return
        log_hash = self.ledger.log_hash_at(self.position)
        if log_hash is None:
            return
        if wait:
            self.snapshots.wait()
            self._take_out()
            try:
                self.snapshots.save(self.projector, self.position, log_hash)
            except BaseException:
                if self.cold is not None:
                    self.cold.end_flush(False)
                raise
            if self.cold is not None:
                self.cold.end_flush(True)
        else:
            self._take_out()
            self.snapshots.save_in_background(self.projector, self.position, log_hash)
        self._snapshot_at = time.monotonic()

    # -- running -----------------------------------------------------------------------
    def step(self) -> int:
        """One cycle: fold and write the events after the tracking position (at most
        ``batch_events``; up to ``catch_up_events`` while the backlog is more than twice
        ``batch_events``: the peer groups are rescored once per cycle, so a long backlog goes
        faster in fewer cycles). Returns how many positions it covered."""
        head = self._head = self.ledger.max_position()
        if head <= self.position:
            return 0
        began = time.perf_counter()
        size = self.batch_events
        if head - self.position > 2 * size:
            with building_state(keep=True):
                return self._cycle(head, max(size, self.catch_up_events), began)
        return self._cycle(head, size, began)

    def _cycle(self, head: int, size: int, began: float) -> int:
        first, stop = self.position + 1, min(head, self.position + size)
        events = list(self.ledger.read_raw(first, stop))
        envelopes = [envelope for envelope, _ in events]
        groups, dossiers = self.projector.fold(envelopes)
        self._cover(stop)
        now, batch = self.clock(), Batch(position=stop)
        self.projector.event_rows(batch, events if first > self._archived else
                                  [e for e in events if e[0]["position"] > self._archived])
        self.projector.fact_rows(batch, dossiers, now)
        self.projector.turned_rows(batch, now)
        self.projector.score_rows(batch, groups, now, wall_clock())
        rows = self.writer.write(batch)
        self.position = stop
        self._report(first, stop, len(envelopes), batch.count(schema.RANKINGS), rows, began,
                     refresh=False)
        self._snapshot()
        return stop - first + 1

    def _cover(self, position: int) -> None:
        """With a signing key, make sure a signed checkpoint covers ``position`` before rows
        reflecting it are written: the rows record its size. Signing is refused (and the
        runner stops) when the log no longer extends its latest checkpoint."""
        if self.signing_key is not None and position and self.projector.checkpoint < position:
            checkpoint, _ = take_checkpoint(self.ledger, self.signing_key)
            self.projector.checkpoint = checkpoint.size

    def refresh(self) -> int:
        """Rescore the current periods of every group seen, at the clock's time. Returns the
        number of unit scores written (those that changed)."""
        began = time.perf_counter()
        now, batch = self.clock(), Batch()
        self.projector.fact_rows(batch, (), now)
        self.projector.turned_rows(batch, now)
        self.projector.score_rows(batch, self.projector.current_groups(now), now, wall_clock())
        rows = self.writer.write(batch)
        scores = batch.count(schema.RANKINGS)
        self._next_refresh = time.monotonic() + self.refresh_seconds
        self._report(self.position, self.position, 0, scores, rows, began, refresh=True)
        return scores

    def run(self, *, once: bool = False) -> None:
        """Poll until :meth:`stop` (or, with ``once``, until caught up with the head)."""
        while not self._stop.is_set():
            began = time.perf_counter()
            try:
                covered = self.step()
                if once and self.position >= self.ledger.max_position():
                    self.refresh()
                    self._flush_cycles()
                    self._snapshot(wait=True)
                    return
                if time.monotonic() >= self._next_refresh:
                    self.refresh()
            except Exception as error:  # logged for the pipeline dashboard, then raised
                self._log_cycle(self.position + 1, 0, 0, 0, began, False, repr(error))
                with contextlib.suppress(Exception):  # the cycle's error is the one to raise
                    self._flush_cycles()
                raise
            if not covered:
                pause(self._stop, self.poll_seconds)
        self._flush_cycles()
        self._snapshot(wait=True)

    def stop(self) -> None:
        self._stop.set()

    def start_thread(self) -> threading.Thread:
        """Resume and run in a daemon thread (the demo runs simulator, runner and live
        table in one process); call :meth:`stop` then ``join()`` to end it."""
        self.resume()
        thread = threading.Thread(target=self.run, name="dossier-follower", daemon=True)
        thread.start()
        return thread

    def _report(self, first: int, position: int, events: int, scores: int, rows: int,
                began: float, *, refresh: bool) -> None:
        self._log_cycle(first, events, scores, rows, began, refresh, "")
        if self.on_cycle is not None:
            self.on_cycle(Cycle(first, position, events, scores, rows,
                                time.perf_counter() - began, time.monotonic(), refresh))

    def _log_cycle(self, first: int, events: int, scores: int, rows: int, began: float,
                   refresh: bool, error: str) -> None:
        """One ``runner_cycles`` row (wall-clock times; what the pipeline dashboard reads),
        written with the others of the last second."""
        if not self._logs_cycles:
            return
        seconds = time.perf_counter() - began
        self._cycle_rows.append(orjson.dumps((
            self.writer.runner, wall_clock() - timedelta(seconds=seconds), first,
            self.position, max(self._head, self.position), events, scores, rows, seconds,
            refresh, error)) + b"\n")
        if time.monotonic() - self._cycles_flushed >= CYCLE_FLUSH_SECONDS:
            self._flush_cycles()

    def _flush_cycles(self) -> None:
        if self._cycle_rows:
            self.writer.client.raw_insert(
                schema.CYCLES, schema.CYCLES_TABLE.column_names, b"".join(self._cycle_rows),
                fmt="JSONCompactEachRow", settings={"date_time_input_format": "best_effort"})
        self._cycle_rows.clear()
        self._cycles_flushed = time.monotonic()
