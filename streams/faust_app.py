"""``dossier stream worker``: faust-streaming agents projecting the relay's topic into
ClickHouse, partitioned (see ``streams.routing`` and ``streams.worker``).

Two agents, thin: ``project`` consumes the relay's topic (one consumer group; each partition
is one worker's), decodes each record and hands it to the partition's
:class:`~streams.worker.PartitionProjection`; at each mark it writes the rows through the
embedded runner's writer and schema, and sends the partition's report to partition 0 of a
topic, which ``rank`` consumes to rank the provinces. Their state lives in faust Tables on
RocksDB (``rocksdict``) with changelog topics: each partition's snapshot and its dossiers,
written through at every mark (``streams.worker_state``), and the ranking's own. Records are
acknowledged (so offsets committed) only once a snapshot covering them is in the tables and
the changelog sends are flushed; a worker that restarts, or takes a partition over, loads
the snapshot (from its local RocksDB, or the changelog) and folds only what came after it;
what it had written after it is written again, idempotently. A worker that did not stop
cleanly restores its tables from the changelogs (:func:`local_state`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import faust
import orjson
from faust.transport.drivers import aiokafka as faust_kafka

from projections.clickhouse import schema
from projections.clickhouse.writer import Batch, ClickHouseWriter
from streams.checkpoints import Checkpoints, roll_back
from streams.memory import give_back
from streams.routing import Mark, read_record
from streams.worker import NationalRanking, PartitionProjection, Report
from streams.worker_state import SNAPSHOT, Scan, TableCold, load_snapshot, save_snapshot

log = logging.getLogger(__name__)

HOUR = 3_600_000_000  # µs
HELD_EVENTS = 50_000
"""Records held unacknowledged per partition before a snapshot is due anyway."""
GAP_QUIET_SECONDS = 10.0
"""Reading a gap again ends at its end, or when nothing more comes for this long."""
FOLLOWING = 20
"""Records waiting on a partition beyond which it writes fewer marks (``_catching_up``)."""
BEHIND = 500
"""Records waiting beyond which it writes fewer still."""
CATCH_UP = 50_000
FOLLOW_SECONDS = 0.5
CATCH_UP_SECONDS = 2.0
assert CATCH_UP_SECONDS % FOLLOW_SECONDS == 0  # each span of the one starts one of the other
STALL_SECONDS = 15.0
"""A partition with records waiting and none taken for this long is said to be stalled."""
NOT_READY_SECONDS = 30.0
"""How often a worker whose tables are not ready yet says what it waits for (faust starts
the worker's own timers, ``watch`` among them, only once they are)."""
CHECKPOINT_SECONDS = 5.0
"""The least time between two checkpoints of a store (each flushes its memtable: 20–30 ms
here), however often snapshots come."""
QUIET_SECONDS = 2.0
"""A partition that took no record for this long is snapshotted (``snapshot_quiet``)."""


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Where the worker reads and keeps its state, and how patiently."""

    bootstrap: str  # e.g. 127.0.0.1:9092
    state_dir: Path  # RocksDB stores (faust's datadir)
    topic: str = "dossier-events"
    partitions: int = 4
    group: str = "dossier-workers"  # the consumer group (and faust app id)
    session_timeout: float = 10.0  # a dead worker's partitions move after this
    fetch_wait_ms: int = 100  # the most a fetch waits for records (faust hard-codes 1,500)
    snapshot_seconds: float = 60.0
    refresh_seconds: float = 30.0  # mark time between rescorings of every current period
    keep_ended_hours: float = 1.0  # ledger time an ended dossier stays in memory
    retries: int = 8  # consecutive ClickHouse failures (backing off) before the worker stops
    cache_mb: int = 64  # RocksDB block cache per partition for its dossiers and snapshots
    recovery_check: bool = True  # faust's check that a local store is not ahead of its
    # changelog (off on brokers whose end offsets lag, as tansu's: see docs/streaming.md)

    @property
    def reports_topic(self) -> str:
        return f"{self.topic}-reports"


def _consumer_thread(fetch_wait_ms: int) -> type[faust_kafka.AIOKafkaConsumerThread]:
    class ConsumerThread(faust_kafka.AIOKafkaConsumerThread):
        """faust's consumer with a shorter fetch wait: each hop otherwise waits 1.5 s."""

        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = fetch_wait_ms
            return consumer

    return ConsumerThread


def _app_class(fetch_wait_ms: int) -> type[faust.App]:
    thread = _consumer_thread(fetch_wait_ms)

    class ShortWaitConsumer(faust_kafka.Consumer):
        def _new_consumer_thread(self) -> Any:
            return thread(self, loop=self.loop, beacon=self.beacon)

    class Transport(faust_kafka.Transport):
        Consumer = ShortWaitConsumer

    class App(faust.App):
        def _new_transport(self) -> Any:
            return Transport(self.conf.broker_consumer, self)

    return App


class Runtime:
    """What the agents of one worker process share: the partitions' projections and the
    ranking, their tables, the records held until a snapshot, the writers."""

    def __init__(self, app: faust.App, config: WorkerConfig, *, client: Any,
                 pseudonym_key: bytes, say: Callable[[str], None]) -> None:
        self.app = app
        self.config = config
        self.client = client
        self.pseudonym_key = pseudonym_key
        self.say = say
        mb = 1024 * 1024
        # each partition's snapshots and dossiers in one table: one changelog partition
        # keeps them in the order written, so a restore that has a snapshot has the
        # dossiers it names (two topics would each end where the broker's sends stopped)
        self.state = app.Table("partitions", partitions=config.partitions,
                               key_type=str, value_type=bytes,
                               options=rocksdb_options(16 * mb, config.cache_mb * mb))
        self.ranking_state = app.Table("ranking", partitions=config.partitions,
                                       key_type=str, value_type=bytes,
                                       options=rocksdb_options(4 * mb, 4 * mb))
        self.checkpoints = Checkpoints(Path(app.conf.tabledir))
        self.checkpointed_at: dict[str, float] = {}  # store -> when its last checkpoint was
        self.projections: dict[int, PartitionProjection] = {}
        self.colds: dict[int, TableCold] = {}
        self.held: dict[int, list[Any]] = {}
        self.snapshot_at: dict[int, float] = {}
        self.national: NationalRanking | None = None
        self.national_held: list[Any] = []
        self.national_saved = time.monotonic()
        self.acknowledging: set[asyncio.Future[None]] = set()  # snapshots' acknowledgements
        self.taken_at: dict[int, float] = {}  # partition -> time.monotonic() of its last record
        self.reported_at = time.monotonic()  # of the last report taken
        self.folding = asyncio.Lock()  # the records' agent, or a snapshot of a quiet partition
        self.ranking = asyncio.Lock()  # the reports' agent, or a save of the quiet ranking
        self.writer = ClickHouseWriter(client, runner="worker")
        self.watched: dict[Any, int] = {}  # partition -> the last record taken at the last look
        # the sink: cycles computed and not yet written, and reports sent and not yet
        # acknowledged (see ``flush``)
        self.unwritten: list[Cycle] = []
        self.sent: list[tuple[Any, bytes]] = []
        self.flushing = asyncio.Lock()
        self.wanted = asyncio.Event()
        self.stopped_by: BaseException | None = None
        # as many partitions as the source (a broker may create it on first use, with its
        # default count), every report on partition 0: one ranking sees them all
        self.reports = app.topic(config.reports_topic, partitions=config.partitions)

    # -- a partition ---------------------------------------------------------------------------
    def projection(self, partition: int) -> PartitionProjection:
        """The partition's projection: in memory, or from its latest snapshot (read in the
        context of one of its records, so from its own store), or new."""
        found = self.projections.get(partition)
        if found is None:
            found = load_snapshot(self.state, f"{SNAPSHOT}{partition}")
            if found is None:
                found = PartitionProjection(partition, self.pseudonym_key,
                                            self.config.refresh_seconds)
                self.say(f"partition {partition}: no snapshot, folding from its start")
            else:
                found.projector.pseudonym_key = self.pseudonym_key
                found.resumed()
                self.say(f"partition {partition}: resumed from the snapshot at position "
                         f"{found.position:,}")
            projection = found
            cold = TableCold(self.state, lambda: projection.position, projection.position,
                             scan=partition_scan(self.state, partition))
            projection.attach(cold)
            self.projections[partition] = projection
            self.colds[partition] = cold
            self.held[partition] = []
            self.snapshot_at[partition] = time.monotonic()
        return found

    def forget(self, partitions: set[int]) -> None:
        """Drop the state of partitions this worker no longer holds (another loads their
        snapshot; what was not snapshotted is folded again there)."""
        for partition in partitions:
            self.projections.pop(partition, None)
            self.colds.pop(partition, None)
            self.held.pop(partition, None)

    async def in_order(self, event: Any, state: PartitionProjection | NationalRanking,
                       held: list[Any], new: bool) -> list[tuple[int, bytes]] | None:
        """The records to take before this one, when it is to be taken (None: skip it). A
        record already taken (delivered again after a rebalance) is only held for
        acknowledgement; a record after a gap (the committed offset is ahead of the state's
        snapshot: the changelog lost its latest writes, or an offset was committed that no
        snapshot covers) is said, and the records of the gap are read by a consumer of the
        worker's own (faust's seek does not hold against a fetch in flight) and taken first.
        ``new``: the record's content is after what the state has taken (a later position or
        mark): one at an offset already passed means the topic was made again (a broker
        that lost its data; the relay drives the log again), and offsets start over from
        it."""
        message = event.message
        tp, offset = message.tp, message.offset
        expected = state.offset + 1
        if offset < expected and new:
            self.say(f"{tp.topic} partition {tp.partition}: record {offset:,} is new to this "
                     f"worker though its state took offsets up to {state.offset:,}: the topic "
                     "was made again; offsets start over from here")
            expected = offset
            if isinstance(state, PartitionProjection):
                state.report_all = True  # the reports sent before may be lost with it
        if offset < expected:
            held.append(stripped(event))
            return None
        earlier: list[tuple[int, bytes]] = []
        if offset > expected:
            earlier = await self._read_again(tp, expected, offset)
            self.say(f"{tp.topic} partition {tp.partition}: record {offset:,} came after "
                     f"{expected:,}, the next one this worker's state has not taken (a "
                     f"committed offset ahead of the state); read {len(earlier):,} records "
                     f"of offsets {expected:,}–{offset - 1:,} again")
        state.offset = offset
        held.append(stripped(event))
        return earlier

    async def _read_again(self, tp: Any, start: int, end: int) -> list[tuple[int, bytes]]:
        """(offset, value) of the partition's records from ``start`` to before ``end``, read
        by a plain consumer (a broker may leave offsets unused: what is there)."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=self.config.bootstrap,
                                    enable_auto_commit=False, fetch_max_wait_ms=100,
                                    client_id="dossier-worker-gap")
        await consumer.start()
        found: list[tuple[int, bytes]] = []
        try:
            partition = TopicPartition(tp.topic, tp.partition)
            consumer.assign([partition])
            consumer.seek(partition, start)
            quiet_until = time.monotonic() + GAP_QUIET_SECONDS
            while time.monotonic() < quiet_until:
                messages = (await consumer.getmany(partition, timeout_ms=500)).get(partition, [])
                if messages:
                    quiet_until = time.monotonic() + GAP_QUIET_SECONDS
                for message in messages:
                    if message.offset >= end:
                        return found
                    found.append((message.offset, message.value or b""))
            return found
        finally:
            await consumer.stop()

    async def on_record(self, event: Any) -> None:
        async with self.folding:
            await self._on_record(event)
            self.taken_at[event.message.partition] = time.monotonic()

    async def _on_record(self, event: Any) -> None:
        partition = event.message.partition
        projection = self.projection(partition)
        record = self._decoded(partition, event.message.offset, event.value)
        if isinstance(record, Mark):
            new = projection.mark is None or (record.position, record.at) > projection.mark
        else:
            new = record is not None and record["position"] > projection.position
        earlier = await self.in_order(event, projection, self.held[partition], new)
        if earlier is None:
            return
        for offset, value in earlier:
            await self._take(event, partition, projection,
                             self._decoded(partition, offset, value))
        await self._take(event, partition, projection, record)
        if self.projections.get(partition) is projection and self._snapshot_due(partition):
            await self._snapshot(partition, projection)

    def _decoded(self, partition: int, offset: int, value: bytes) -> dict[str, Any] | Mark | None:
        try:
            return read_record(value)
        except ValueError as error:
            self.say(f"partition {partition} offset {offset}: skipped a record that is not "
                     f"the relay's ({error})")
            return None

    async def _take(self, event: Any, partition: int, projection: PartitionProjection,
                    record: dict[str, Any] | Mark | None) -> None:
        if record is None:
            return
        if not isinstance(record, Mark):
            projection.fold(record)
        elif not self._catching_up(event, projection, record):
            # following, the dossiers are written at each mark (a few: no burst at the
            # snapshot); behind, once before the snapshot (each however often it changed)
            await self._at_mark(partition, projection, record,
                                write=self._waiting(event) <= FOLLOWING)

    def _waiting(self, event: Any) -> int:
        """Records on the event's partition after it (as far as the consumer has seen)."""
        highwater = self.app.consumer.highwater(event.message.tp)
        return 0 if highwater is None else highwater - 1 - event.message.offset

    def _catching_up(self, event: Any, projection: PartitionProjection, mark: Mark) -> bool:
        """Whether to pass this mark by: more than ``FOLLOWING`` records wait after it on
        the partition, and since the partition's last cycle the mark crosses neither a
        multiple of ``CATCH_UP`` positions nor one of ``FOLLOW_SECONDS`` of mark time (of
        ``CATCH_UP_SECONDS`` with more than ``BEHIND`` waiting). A partition that has fallen
        behind (a burst, a backlog, a restart) then writes its rows at fewer marks, as the
        embedded runner writes fewer, larger cycles: the first mark of each such span of
        mark time or positions, which every partition writes (those not behind write them
        all), so that the ranking still meets them; the rows stay exact at the marks it
        writes."""
        waiting = self._waiting(event)
        if waiting <= FOLLOWING or projection.mark is None:
            return False
        position, at = projection.mark
        if mark.position // CATCH_UP > position // CATCH_UP:
            return False
        seconds = CATCH_UP_SECONDS if waiting > BEHIND else FOLLOW_SECONDS
        return mark.at.timestamp() // seconds <= at.timestamp() // seconds

    async def _at_mark(self, partition: int, projection: PartitionProjection,
                       mark: Mark, *, write: bool) -> None:
        began = time.perf_counter()
        events = len(projection._events)
        done = projection.at_mark(mark, datetime.now(UTC), write=write)
        if done is None:
            return
        batch, report = done
        self.hold(Cycle(f"worker-p{partition}", batch, mark, events, began))
        value = pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)
        self.sent.append((await self.reports.send(key=b"report", partition=0, value=value),
                          value))

    async def report(self, value: bytes, failures: int = 0) -> None:
        """Send a report and wait for the broker's acknowledgement (a lost one would leave the
        ranking waiting), retrying with back-off; raises after ``retries`` failures."""
        while True:
            try:
                await (await self.reports.send(key=b"report", partition=0, value=value))
                return
            except Exception as error:  # the client's errors, as the broker gives them
                failures += 1
                if failures > self.config.retries:
                    raise
                delay = min(30.0, 0.5 * 2 ** (failures - 1))
                self.say(f"report to {self.config.reports_topic}: {type(error).__name__}: "
                         f"{error}; retry {failures} of {self.config.retries} in "
                         f"{delay:.1f}s")
                await asyncio.sleep(delay)

    def _snapshot_due(self, partition: int) -> bool:
        return (time.monotonic() - self.snapshot_at[partition] >= self.config.snapshot_seconds
                or len(self.held[partition]) >= HELD_EVENTS)

    async def _snapshot(self, partition: int, projection: PartitionProjection) -> None:
        """Once the sink has written the rows of the marks before it (and the broker took
        their reports), drop ended dossiers from memory and write the snapshot; the records
        held are then acknowledged (their offsets may be committed) by a task of its own
        once the changelog has the snapshot, while the agent goes on (waiting there for the
        broker stalled every partition of the worker for as long)."""
        if projection._events:
            return  # between marks: the next mark's
        # the rows of the marks it covers, and their reports, before the state that says them
        # done (a worker resumed from it does not compute them again)
        await self.flush()
        if self.projections.get(partition) is not projection:
            return  # revoked meanwhile: its new owner goes on from the previous snapshot
        if self.app.should_stop:
            return  # stopping: see ``snapshot_quiet``
        began = time.perf_counter()
        facts = projection.projector.engine.facts
        cold = self.colds[partition]
        projection.write_dossiers()
        projection.projector.take_out(  # dropped: the table has their latest state
            cold, facts.watermark - round(self.config.keep_ended_hours * HOUR))
        cold.commit()
        size = save_snapshot(self.state, f"{SNAPSHOT}{partition}", projection)
        cold.saved(projection.position)
        checkpoint = self._checkpoint(self.state, partition)  # before any other write
        held, self.held[partition] = self.held[partition], []
        self.snapshot_at[partition] = time.monotonic()
        task = asyncio.ensure_future(self._acknowledge(partition, projection, held,
                                                       checkpoint))
        self.acknowledging.add(task)
        task.add_done_callback(self.acknowledging.discard)
        give_back()  # the pickle's pages, and those of the dossiers dropped
        log.info("partition %s: snapshot at %s, %s bytes in %.3fs", partition,
                 projection.position, size, time.perf_counter() - began)

    def _checkpoint(self, table: Any, partition: int) -> tuple[str, Path] | None:
        """A checkpoint of the table's store of ``partition``, proven once the changelog
        sends before it are acknowledged (``streams.checkpoints``); None when the store had
        one less than ``CHECKPOINT_SECONDS`` ago, or when it failed (said: a restart after a
        kill then goes back to an earlier one, or restores the store from its changelog)."""
        store = table.data
        name = store.partition_path(partition).name.removesuffix(".db")
        now = time.monotonic()
        if now - self.checkpointed_at.get(name, now - CHECKPOINT_SECONDS) < CHECKPOINT_SECONDS:
            return None
        try:
            found = name, self.checkpoints.take(name, store._db_for_partition(partition))
            self.checkpointed_at[name] = now
            return found
        except Exception as error:  # rocksdict raises plain exceptions (a full disk, …)
            self.say(f"{name}: no checkpoint ({type(error).__name__}: {error}); after a "
                     "kill this store would be restored from its changelog")
            return None

    def _prove(self, checkpoint: tuple[str, Path] | None) -> None:
        if checkpoint is not None:
            try:
                self.checkpoints.prove(*checkpoint)
            except OSError as error:
                self.say(f"{checkpoint[0]}: checkpoint not kept ({error})")

    async def _acknowledge(self, partition: int, projection: PartitionProjection,
                           held: list[Any], checkpoint: tuple[str, Path] | None) -> None:
        """Acknowledge a snapshot's records once their rows are written and the changelog
        flushed (none if the partition moved to another worker meanwhile), and prove the
        checkpoint taken with it; a failure stops the worker, as in an agent."""
        try:
            await self.flush()
            await self.app.producer.flush()
        except Exception as error:  # ClickHouse or the broker gone: stop rather than stall
            if checkpoint is not None:
                self.checkpoints.drop(checkpoint[1])
            self.stopped_by = error
            self.say(f"worker stopping: {type(error).__name__}: {error}")
            await self.app.crash(error)
            return
        self._prove(checkpoint)  # the sends before it are acknowledged, wherever it went
        if self.projections.get(partition) is projection:
            for event in held:
                event.ack()

    async def snapshot_quiet(self) -> None:
        """Snapshot the partitions (and the ranking) holding records unacknowledged that took
        none for ``QUIET_SECONDS``: a worker restarted after a quiet spell then folds nothing
        again, and its offsets are committed."""
        if self.app.should_stop:
            # faust stops its producer before the worker's timers: table writes now would
            # stay in its buffer, which then fails to flush, and the stop would not be clean
            return
        now = time.monotonic()
        async with self.folding:
            for partition, projection in list(self.projections.items()):
                held = self.held.get(partition)
                if held and now - self.taken_at.get(partition, now) >= QUIET_SECONDS:
                    with taking(held[-1]):
                        await self._snapshot(partition, projection)
        async with self.ranking:
            if self.national is not None and self.national_held \
                    and now - self.reported_at >= QUIET_SECONDS:
                with taking(self.national_held[-1]):
                    await self._save_ranking(self.national)

    # -- the ranking --------------------------------------------------------------------------
    async def on_report(self, event: Any) -> None:
        async with self.ranking:
            await self._on_report(event)
            self.reported_at = time.monotonic()

    async def _on_report(self, event: Any) -> None:
        if self.national is None:
            self.national = load_snapshot(self.ranking_state, "national")
            if self.national is None:
                self.national = NationalRanking()
                self.say("ranking: no snapshot, ranking from the first report")
            else:
                self.national.unsure = set(self.national.written)
                done = self.national.done
                self.say(f"ranking: resumed from the snapshot at report "
                         f"{self.national.offset:,}"
                         + (f", mark {done[0]:,}" if done is not None else ""))
        national = self.national
        report: Report = pickle.loads(event.value)
        new = ((national.done is None or report.mark > national.done)
               and report.partition not in national.pending.get(report.mark, {}))
        earlier = await self.in_order(event, national, self.national_held, new)
        if earlier is None:
            return
        for _, value in earlier:
            await self._rank(national, pickle.loads(value))
        await self._rank(national, report)
        if time.monotonic() - self.national_saved >= self.config.snapshot_seconds \
                or len(self.national_held) >= HELD_EVENTS:
            await self._save_ranking(national)

    async def _save_ranking(self, national: NationalRanking) -> None:
        """Save the ranking's state, then acknowledge the reports it took."""
        if self.app.should_stop:
            return  # see ``snapshot_quiet``
        save_snapshot(self.ranking_state, "national", national)
        checkpoint = self._checkpoint(self.ranking_state,
                                      self.national_held[-1].message.partition)
        try:
            await self.flush()
            await self.app.producer.flush()
        except BaseException:
            if checkpoint is not None:
                self.checkpoints.drop(checkpoint[1])
            raise
        self._prove(checkpoint)
        for held in self.national_held:
            held.ack()
        self.national_held = []
        self.national_saved = time.monotonic()

    async def _rank(self, national: NationalRanking, report: Report) -> None:
        missing = national.gap(report)
        if missing is not None:
            self.say(f"ranking: reports of partition {report.partition} after mark "
                     f"{missing[0]:,} are missing (a reports topic that lost records); its "
                     "provinces' ranks may be stale until it resends every score (at its "
                     "next restart)")
        for mark in national.add(report):
            began = time.perf_counter()
            batch = national.rank(mark, datetime.now(UTC))
            self.hold(Cycle("worker-national", batch, Mark(
                mark[0], mark[1], report.partitions, report.head, report.through), 0, began))

    def watch(self) -> None:
        """Say which partitions have records waiting (the highwater the consumer saw is past
        the last record taken) and took none since the last look: a stalled consumer."""
        consumer = self.app.consumer
        for tp in consumer.assignment():
            if tp.topic != self.config.topic:
                continue
            projection = self.projections.get(tp.partition)
            taken = projection.offset if projection is not None else -1
            highwater = consumer.highwater(tp)
            before = self.watched.get(tp)
            self.watched[tp] = taken
            if highwater is not None and highwater - 1 > taken and before == taken:
                self.say(f"{tp.topic} partition {tp.partition}: stalled: records up to "
                         f"{highwater - 1:,} are waiting, the last taken is {taken:,}, none "
                         f"taken in {STALL_SECONDS:g}s")

    def watch_start(self, every: float = NOT_READY_SECONDS) -> threading.Event:
        """Until faust has restored the tables (the worker's timers, ``watch`` among them,
        start only then), say every ``every`` seconds what it waits for: the group's
        assignment, or records of the changelogs (how many, per partition); never a silent
        wait. Returns the event that stops it early (the process's end stops it too)."""
        stop = threading.Event()
        began = time.monotonic()

        def run() -> None:
            while not stop.wait(every) and self.not_ready(began):
                pass

        threading.Thread(target=run, name="not-ready", daemon=True).start()
        return stop

    def not_ready(self, began: float) -> bool:
        """Say what the worker waits for when its tables are not ready yet (``began``: the
        ``time.monotonic()`` it started at); False once they are."""
        recovery = self.app.tables.recovery  # type: ignore[attr-defined]
        if recovery.completed.is_set():
            return False
        self.say(f"tables not ready after {time.monotonic() - began:.0f}s: "
                 f"{_waiting_for(recovery)}")
        return True

    # -- the sink ---------------------------------------------------------------------------
    def hold(self, cycle: Cycle) -> None:
        """Hand a cycle's rows to the sink (``drain`` writes them as soon as it can)."""
        self.unwritten.append(cycle)
        self.wanted.set()

    async def drain(self) -> None:
        """Flush whenever something is held: one write while the agents go on folding, then
        one for all that came meanwhile (group commit: the busier, the larger the writes)."""
        while True:
            await self.wanted.wait()
            self.wanted.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write every cycle held — each table's rows of them all in one insert, then their
        tracking rows, then their ``runner_cycles`` rows — and wait for the broker's
        acknowledgement of every report sent (sending again the ones it refused). A
        snapshot's records are acknowledged only after this."""
        async with self.flushing:
            cycles, self.unwritten = self.unwritten, []
            sent, self.sent = self.sent, []
            if cycles:
                await self.write(cycles)
            for future, value in sent:
                try:
                    await future
                except Exception as error:  # the client's errors, as the broker gives them
                    self.say(f"report to {self.config.reports_topic}: "
                             f"{type(error).__name__}: {error}; sending it again")
                    await self.report(value, failures=1)

    async def write(self, cycles: list[Cycle]) -> None:
        """Write the cycles in a thread (the agents fold meanwhile), retrying with back-off;
        raises after ``retries`` consecutive failures, each said in one line."""
        failures = 0
        while True:
            try:
                await asyncio.to_thread(self._write, cycles)
                return
            except Exception as error:  # clickhouse-connect raises several kinds
                failures += 1
                text = " ".join(str(error).split())[:200]
                if failures > self.config.retries:
                    raise ClickHouseUnreachable(
                        f"ClickHouse write failed {failures} times in a row: "
                        f"{type(error).__name__}: {text}") from None
                delay = min(30.0, 0.5 * 2 ** (failures - 1))
                self.say(f"ClickHouse write: {type(error).__name__}: {text}; "
                         f"retry {failures} of {self.config.retries} in {delay:.1f}s")
                await asyncio.sleep(delay)

    def _write(self, cycles: list[Cycle]) -> None:
        rows = [len(cycle.batch) for cycle in cycles]  # before the writer encodes them
        scores = [cycle.batch.count(schema.RANKINGS) for cycle in cycles]
        self.writer.write_together([(cycle.runner, cycle.batch) for cycle in cycles])
        now, ended = datetime.now(UTC), time.perf_counter()
        lines = []
        for cycle, written, scored in zip(cycles, rows, scores, strict=True):
            seconds = ended - cycle.began
            lines.append(orjson.dumps((
                cycle.runner, now - timedelta(seconds=seconds), cycle.mark.position,
                cycle.mark.covered, cycle.mark.head, cycle.events, scored, written,
                seconds, False, "")))
            if cycle.events or scored:
                self.say(f"{cycle.runner}: mark {cycle.mark.position:,} "
                         f"({cycle.mark.at.isoformat()}): {cycle.events} events, {scored} "
                         f"scores, {written} rows in {seconds:.3f}s")
        self.client.raw_insert(
            schema.CYCLES, schema.CYCLES_TABLE.column_names, b"\n".join(lines),
            fmt="JSONCompactEachRow", settings={"date_time_input_format": "best_effort"})


def rocksdb_options(write_buffer: int, cache: int) -> dict[str, int]:
    """A table's RocksDB options, per partition: two memtables of ``write_buffer`` bytes and
    a block cache of ``cache`` bytes (faust's defaults, 3 × 64 MiB and 2 GiB per partition
    of every table, let a worker's memory grow with what it has read)."""
    return {"write_buffer_size": write_buffer, "max_write_buffer_number": 2,
            "block_cache_size": cache, "block_cache_compressed_size": 0}


def partition_scan(table: Any, partition: int) -> Scan:
    """A prefix scan of one partition of a faust Table on RocksDB: a range of its keys, read
    from the partition's own database (faust iterates whole stores)."""
    store = table.data

    def scan(prefix: str) -> Iterator[str]:
        # keys are stored as the table serialises them (str keys: JSON strings), so the
        # encoded prefix without its closing quote starts every key that has the prefix
        start = store._encode_key(prefix)
        if start.endswith(b'"'):
            start = start[:-1]
        cursor = store._db_for_partition(partition).iter()
        cursor.seek(start)
        while cursor.valid():
            key = cursor.key()
            if not key.startswith(start):
                return
            yield str(store._decode_key(key))[len(prefix):]
            cursor.next()
    return scan


def _waiting_for(recovery: Any) -> str:
    """What faust's table recovery waits for (read from another thread: a view that
    changed meanwhile is read again)."""
    for _ in range(3):
        try:
            if not recovery.in_recovery:
                if not recovery.active_tps:
                    return ("no partition assigned to this worker yet (the consumer group "
                            "has not settled, or its other members hold every partition)")
                return f"{len(recovery.active_tps)} table partitions assigned, restore not started"
            remaining = sorted((tp.topic, tp.partition, n)
                               for tp, n in recovery.active_remaining().items() if n > 0)
        except RuntimeError:  # changed while read
            continue
        if not remaining:
            return "every changelog read to its end, the restore finishing"
        shown = ", ".join(f"{topic} [{partition}] {n:,}" for topic, partition, n in remaining[:4])
        more = f" and {len(remaining) - 4} more" if len(remaining) > 4 else ""
        return (f"restoring from changelogs, records still to read: {shown}{more} (none "
                "arriving means the broker does not serve them)")
    return "restoring from changelogs"


def stripped(event: Any) -> Any:
    """An event held only to be acknowledged, its value (decoded by then) let go: a partition
    holds up to ``HELD_EVENTS`` of them between snapshots (each value a record's JSON,
    hundreds of bytes: tens of MB a partition while catching up; not measured apart)."""
    event.value = event.message.value = None
    return event


@contextlib.contextmanager
def taking(event: Any) -> Iterator[None]:
    """Write tables outside the agents' iteration as if taking ``event`` (faust finds the
    partition of a table write from the event being processed: a context variable of its
    streams module)."""
    from faust.streams import _current_event

    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


@dataclass(slots=True)
class Cycle:
    """A mark's rows, held by the sink: whose, at which mark, from how many events, since
    when (``time.perf_counter``: its ``runner_cycles`` row counts the wait)."""

    runner: str
    batch: Batch
    mark: Mark
    events: int
    began: float


class ClickHouseUnreachable(RuntimeError):
    """The worker cannot write its rows."""


class BrokerUnreachable(RuntimeError):
    """No broker answers at the bootstrap address."""


async def wait_for_broker(config: WorkerConfig, say: Callable[[str], None]) -> None:
    """Return once the broker answers a metadata request; each failure is said in one line
    with its back-off (0.5 s, doubling, at most 30 s); raises :class:`BrokerUnreachable`
    after ``retries`` of them (faust itself would retry in silence)."""
    from aiokafka.admin import AIOKafkaAdminClient

    from streams.relay import RETRYABLE, describe

    failures = 0
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=config.bootstrap,
                                    request_timeout_ms=5000, client_id="dossier-worker")
        try:
            await asyncio.wait_for(admin.start(), 10)
            await asyncio.wait_for(admin.list_topics(), 10)
            return
        except (*RETRYABLE, TimeoutError) as error:
            failures += 1
            if failures > config.retries:
                raise BrokerUnreachable(f"Kafka broker {config.bootstrap} unreachable after "
                                        f"{failures} attempts: {describe(error)}") from None
            delay = min(30.0, 0.5 * 2 ** (failures - 1))
            say(f"Kafka broker {config.bootstrap}: {describe(error)}; retry {failures} of "
                f"{config.retries} in {delay:.1f}s")
            await asyncio.sleep(delay)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(admin.close(), 5)


RUNNING = "running"
"""The file in a worker's state directory while it runs (see :func:`local_state`)."""


@contextlib.contextmanager
def local_state(app: faust.App, state_dir: Path, say: Callable[[str], None],
                runtime: Runtime) -> Iterator[None]:
    """Run a worker on its local state as it is only if it stopped cleanly last time. A
    worker killed (or crashed) may have written to its local tables what never reached their
    changelogs; a worker that took its partitions over meanwhile went on from the
    changelogs, and reading the two together would mix two histories. So each of its stores
    is then rolled back to its latest checkpoint the broker is proven to hold, the changelog
    read from there (``streams.checkpoints``), and a store without one restored from its
    changelog alone, as a new worker's is; a clean stop (SIGTERM: faust flushes the producer)
    keeps them."""
    marker = state_dir / RUNNING
    tables = Path(app.conf.tabledir)
    if marker.exists() and tables.exists():
        rolled, deleted = roll_back(tables)
        done = [f"{len(rolled)} rolled back to their latest checkpoint the broker "
                f"acknowledged (their changelogs read from there)"] if rolled else []
        done += [f"{len(deleted)} restored from their changelogs"] if deleted else []
        say(f"the worker did not stop cleanly last time ({marker} is there): its local "
            f"tables may hold writes their changelogs lack; of their stores, "
            + (", ".join(done) or "none was there"))
    marker.write_text(f"{os.getpid()}\n")
    yield
    if runtime.stopped_by is None:
        marker.unlink(missing_ok=True)


class OneLine(logging.Handler):
    """faust's and the Kafka client's warnings and errors, each said in one line (no
    traceback): a broker gone, a rebalance, a consumer that stopped committing. Not said:
    faust's "producer buffer full" notice, its back-pressure at work (a snapshot writes its
    dossiers' keys in a burst, one changelog record each, and the producer drains them a
    hundred at a time, each hundred a warning), not a fault."""

    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        text = " ".join(record.getMessage().split())
        if record.name == "faust.transport.producer" and text.startswith("producer buffer"):
            return
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        self.say(f"{record.levelname.lower()}: {record.name}: {text[:300]}")


def make_app(config: WorkerConfig, *, client: Any, pseudonym_key: bytes,
             say: Callable[[str], None]) -> tuple[faust.App, Runtime]:
    """The faust app of a worker, with its agents and tables."""
    app = _app_class(config.fetch_wait_ms)(
        config.group, broker=f"kafka://{config.bootstrap}", store="rocksdb://",
        datadir=str(config.state_dir), topic_partitions=config.partitions,
        topic_replication_factor=1, key_serializer="raw", value_serializer="raw",
        broker_session_timeout=config.session_timeout,
        broker_heartbeat_interval=max(0.1, config.session_timeout / 4),
        broker_request_timeout=max(40.0, config.session_timeout * 2),
        consumer_auto_offset_reset="earliest", web_enabled=False,
        stream_wait_empty=False, producer_max_request_size=4 * 1024 * 1024,
        recovery_consistency_check=config.recovery_check)
    runtime = Runtime(app, config, client=client, pseudonym_key=pseudonym_key, say=say)
    source = app.topic(config.topic, partitions=config.partitions)

    async def guarded(handler: Callable[[Any], Any], event: Any) -> None:
        try:
            await handler(event)
        except Exception as error:  # the worker stops rather than stall: said, then crash
            runtime.stopped_by = error
            say(f"worker stopping: {type(error).__name__}: {error}")
            await app.crash(error)
            raise

    @app.agent(source, concurrency=1)
    async def project(stream: Any) -> None:
        async for event in stream.noack().events():
            await guarded(runtime.on_record, event)

    @app.agent(runtime.reports, concurrency=1)
    async def rank(stream: Any) -> None:
        async for event in stream.noack().events():
            await guarded(runtime.on_report, event)

    @app.timer(STALL_SECONDS)
    async def watch() -> None:
        runtime.watch()

    @app.timer(QUIET_SECONDS / 2)
    async def snapshot_quiet() -> None:
        await guarded(lambda _: runtime.snapshot_quiet(), None)

    @app.task
    async def sink() -> None:
        await guarded(lambda _: runtime.drain(), None)

    @app.on_partitions_revoked.connect
    def on_revoked(sender: Any, /, *args: Any, signal: Any, **_: Any) -> None:
        revoked = args[0] if args else set()
        runtime.forget({tp.partition for tp in revoked if tp.topic == config.topic})
        if any(tp.topic == config.reports_topic for tp in revoked):
            runtime.national, runtime.national_held = None, []

    return app, runtime
