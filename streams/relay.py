"""The Kafka relay: publishes the ledger's notification log in position order to a topic (key:
the aggregate id, value: the event's export line; partition: that of the event's unit tree,
with marks between batches: see ``streams.routing``) and keeps, in the ledger's own database,
the last position the broker acknowledged — so a restart resumes there and skips nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from ledger.application import DossierLedger
from ledger.chain import canonical_json
from projections.facts import is_folded
from streams.relay_tracking import Acknowledged, RelayTracking, now_text
from streams.routing import MARK_KEY, Mark, Trees, partition_for

CLIENT_LOGGERS = ("aiokafka",)
CLOSE_SECONDS = 5.0  # the most a client may take to close
GRACE_SECONDS = 5.0  # on a stop, how long the in-flight batch may still be acknowledged
RETRYABLE = (KafkaError, OSError)  # OSError covers TimeoutError
UNKNOWN_TOPIC = 3  # Kafka's UNKNOWN_TOPIC_OR_PARTITION

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """Where to publish, and how patiently."""

    bootstrap: str  # e.g. 127.0.0.1:9092
    topic: str = "dossier-events"
    partitions: int = 4  # when the relay creates the topic
    batch_events: int = 500  # positions per acknowledged batch (one tracking transaction)
    poll_seconds: float = 0.2  # between looks at the ledger's head when idle
    check_seconds: float = 10.0  # between comparisons of the topic's end offsets
    retries: int = 8  # consecutive failures before giving up
    backoff_seconds: float = 0.5  # first wait after a failure, doubled each time …
    backoff_cap_seconds: float = 30.0  # … up to this
    request_seconds: float = 15.0  # the most a send or a metadata request may take
    tick_seconds: float = 30.0  # between marks when no event comes (scores move with time)
    mark_seconds: float = 0.2  # at least this long between marks while events come
    as_of: datetime | None = None  # the time marks carry (None: the clock's)


@dataclass(frozen=True, slots=True)
class Published:
    """One batch the broker acknowledged: positions ``first``…``position`` (``events`` of
    them published: idempotency records are not events) and the time it took."""

    first: int
    position: int
    events: int
    seconds: float


Message = tuple[bytes, bytes, int]
"""(key, value, partition) of one record."""


def message_of(envelope: dict[str, Any]) -> tuple[bytes, bytes]:
    """The record of one event: key = the aggregate id (``stream:id``, as the ledger names
    it), value = its export line (``dossier export``: canonical JSON with position and hash)."""
    return f"{envelope['stream']}:{envelope['id']}".encode(), canonical_json(envelope)


def lost_partitions(recorded: dict[int, int], current: dict[int, int]
                    ) -> dict[int, tuple[int, int]]:
    """The partitions whose end offset is now below the one recorded after an acknowledged
    batch (partition → (now, recorded)): the topic lost events, or was deleted and made
    again. An absent partition ends at 0."""
    return {p: (current.get(p, 0), end) for p, end in sorted(recorded.items())
            if current.get(p, 0) < end}


def describe(error: BaseException) -> str:
    """An error in one line: its class and message."""
    name = type(error).__name__
    text = " ".join(str(error).split()).removeprefix(name).lstrip(": ")
    if isinstance(error, KafkaConnectionError) and text.startswith("Unable to bootstrap"):
        text = "nothing answered at the bootstrap address"
    return f"{name}: {text}" if text else name


def quiet_client_logs() -> None:
    """The Kafka client logs every failed connection (tracebacks included); the relay says
    what failed in one line of its own."""
    for name in CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep up to ``seconds``, waking when ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class Connection:
    """A producer (acks=all; idempotent when asked) and a consumer used only for the topic's
    end offsets, on one broker, opened and closed together."""

    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self.common: dict[str, Any] = {"bootstrap_servers": config.bootstrap,
                                       "request_timeout_ms": int(config.request_seconds * 1000),
                                       "client_id": "dossier-relay"}
        self.consumer = AIOKafkaConsumer(enable_auto_commit=False, **self.common)
        self.admin = AIOKafkaAdminClient(**self.common)
        self.producer: AIOKafkaProducer | None = None
        self.partition_count = 0  # the topic's, once it exists

    async def open(self, *, idempotent: bool | None) -> None:
        """Connect; with a producer unless ``idempotent`` is None (only reading offsets)."""
        await self._bounded(self.admin.start())
        await self._bounded(self.consumer.start())
        if idempotent is not None:
            self.producer = AIOKafkaProducer(acks="all", enable_idempotence=idempotent,
                                             linger_ms=5, **self.common)
            await self._bounded(self.producer.start())

    async def close(self) -> None:
        closing = [self.consumer.stop, self.admin.close]
        if self.producer is not None:
            closing.insert(0, self.producer.stop)
        for stopping in closing:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stopping(), CLOSE_SECONDS)

    async def ensure_topic(self) -> None:
        """Create the topic with the configured partitions when it does not exist."""
        if not await self.partitions():
            topic = NewTopic(self.config.topic, self.config.partitions, 1)
            response = await self._bounded(self.admin.create_topics([topic]))
            for _, code, *_ in getattr(response, "topic_errors", ()):
                if code not in (0, 36):  # 36: it exists (made by someone else meanwhile)
                    raise KafkaError(f"creating topic {self.config.topic} failed "
                                     f"(error {code})")
        self.partition_count = len(await self.partitions()) or self.config.partitions

    async def partitions(self) -> list[int]:
        (described,) = await self._bounded(self.admin.describe_topics([self.config.topic]))
        if described["error_code"] == UNKNOWN_TOPIC:
            return []
        if described["error_code"]:
            raise KafkaError(f"describing topic {self.config.topic} failed "
                             f"(error {described['error_code']})")
        return sorted(int(p["partition"]) for p in described["partitions"])

    async def end_offsets(self) -> dict[int, int]:
        """Partition → end offset (an absent topic has none)."""
        partitions = await self.partitions()
        if not partitions:
            return {}
        ends = await self._bounded(self.consumer.end_offsets(
            [TopicPartition(self.config.topic, p) for p in partitions]))
        return {tp.partition: int(offset) for tp, offset in ends.items()}

    async def send(self, messages: Iterable[Message]) -> list[asyncio.Future[Any]]:
        """Queue the messages in order; their acknowledgements."""
        producer = self.producer
        assert producer is not None
        return [await self._bounded(producer.send(self.config.topic, key=key, value=value,
                                                  partition=partition))
                for key, value, partition in messages]

    async def _bounded(self, call: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(call, self.config.request_seconds)
        except TimeoutError:
            raise KafkaTimeoutError(f"no answer within {self.config.request_seconds:g}s"
                                    ) from None


class Relay:
    """Publishes the log after the acknowledged position, one batch at a time: read the
    events, send them, wait until the broker acknowledged every one, read the topic's end
    offsets, then record the batch's last position with them in one transaction. At least
    once: a crash between the acknowledgement and the record repeats that batch on restart
    (consumers drop a position they have seen; a key's events keep their order). A topic
    whose end offsets fell below the recorded ones lost events: the whole log is driven
    again from position 0."""

    def __init__(self, ledger: DossierLedger, tracking: RelayTracking, config: RelayConfig, *,
                 on_batch: Callable[[Published], None] | None = None,
                 on_notice: Callable[[str], None] | None = None) -> None:
        self.ledger = ledger
        self.tracking = tracking
        self.config = config
        self.on_batch = on_batch
        self.on_notice = on_notice or log.warning
        self.acknowledged = Acknowledged(config.topic)
        self.trees = Trees(ledger)
        self.head = 0
        self.marked_at = 0.0  # time.monotonic() of the last marks sent
        self.marked = 0  # the position they named
        self.last_event = 0  # the last folded event acknowledged (marks carry its position)
        self.published = 0  # events published (acknowledged) by this run
        self.redriven = 0  # times the log was driven again after a broker loss
        self.idempotent = True  # until the broker refuses an idempotent producer
        self._connection: Connection | None = None
        self._failures = 0
        self._started = False

    def start(self) -> Acknowledged:
        """Create the tracking table when missing and read where the relay stopped."""
        self.tracking.ensure()
        self.acknowledged = self.tracking.load(self.config.topic)
        self.last_event = self._last_event_up_to(self.acknowledged.position)
        self.head = self.ledger.max_position()
        self._started = True
        return self.acknowledged

    async def run(self, stop: asyncio.Event | None = None, *, once: bool = False) -> int:
        """Publish until ``stop`` is set (``once``: until the head seen is acknowledged);
        returns the acknowledged position. Raises :class:`BrokerUnreachable` after
        ``retries`` consecutive failures, each said in one line with its back-off."""
        stop = stop or asyncio.Event()
        if not self._started:
            self.start()
        try:
            while not stop.is_set():
                try:
                    await self._connect()
                    await self._pump(stop, once=once)
                    break
                except RETRYABLE as error:
                    await self._disconnect()
                    await self._failed(error, stop)
        finally:
            await self._disconnect()
        return self.acknowledged.position

    # -- connecting --------------------------------------------------------------------------
    async def _connect(self) -> None:
        connection = Connection(self.config)
        self._connection = connection
        try:
            await connection.open(idempotent=self.idempotent)
        except KafkaConnectionError:
            raise
        except KafkaError as error:
            if not self.idempotent:
                raise
            # e.g. tansu with in-memory storage answers InitProducerId with an error
            await self._disconnect()
            self.idempotent = False
            self.on_notice(f"broker {self.config.bootstrap} refused an idempotent producer "
                           f"({describe(error)}); publishing with acks=all without it "
                           "(a retried send may repeat an event: consumers dedupe by "
                           "position)")
            connection = Connection(self.config)
            self._connection = connection
            await connection.open(idempotent=False)
        await connection.ensure_topic()
        await self._check_loss()

    async def _disconnect(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()

    async def _failed(self, error: BaseException, stop: asyncio.Event) -> None:
        self._failures += 1
        url = self.config.bootstrap
        if self._failures > self.config.retries:
            raise BrokerUnreachable(url, self._failures, describe(error)) from None
        delay = min(self.config.backoff_cap_seconds,
                    self.config.backoff_seconds * 2 ** (self._failures - 1))
        self.on_notice(f"Kafka broker {url}: {describe(error)}; retry {self._failures} of "
                       f"{self.config.retries} in {delay:.1f}s (acknowledged position "
                       f"{self.acknowledged.position})")
        await pause(stop, delay)

    # -- publishing --------------------------------------------------------------------------
    async def _pump(self, stop: asyncio.Event, *, once: bool) -> None:
        """Publish what follows the acknowledged position (``once``: up to the head seen
        now, so that a ledger still growing does not keep it going)."""
        next_check = time.monotonic() + self.config.check_seconds
        target = self.ledger.max_position() if once else None
        while not stop.is_set():
            self.head = self.ledger.max_position()
            upto = self.head if target is None else min(self.head, target)
            if upto > self.acknowledged.position:
                await self._publish(stop, upto)
            elif once:
                if self.last_event > self.marked:
                    await self._mark(stop, self.last_event, self.acknowledged.position)
                return
            else:
                since = time.monotonic() - self.marked_at
                if self.last_event and (since >= self.config.tick_seconds or (
                        self.last_event > self.marked and since >= self.config.mark_seconds)):
                    await self._mark(stop, self.last_event, self.acknowledged.position)
                await pause(stop, self.config.poll_seconds)
            if time.monotonic() >= next_check:
                await self._check_loss()
                self._failures = 0
                next_check = time.monotonic() + self.config.check_seconds

    async def _publish(self, stop: asyncio.Event, upto: int) -> None:
        connection = self._connection
        assert connection is not None
        began = time.perf_counter()
        first = self.acknowledged.position + 1
        last = min(upto, self.acknowledged.position + self.config.batch_events)
        partitions, root_of = connection.partition_count, self.trees.root_of
        envelopes = list(self.ledger.read_envelopes(first, last))
        messages = [(*message_of(e), partition_for(root_of(e), partitions)) for e in envelopes]
        if not await self._acknowledged(await connection.send(messages), stop):
            return  # stopped: the batch is abandoned, nothing of it recorded
        folded = [e["position"] for e in envelopes if is_folded(e)]
        last_event = folded[-1] if folded else self.last_event
        if last_event > self.marked and time.monotonic() - self.marked_at \
                >= self.config.mark_seconds and not await self._mark(stop, last_event, last):
            return
        ends = await connection.end_offsets()
        if lost_partitions(self.acknowledged.end_offsets, ends):
            await self._check_loss(ends)  # the topic went away before this batch
            return
        self._record(Acknowledged(self.config.topic, last, ends, self.config.bootstrap,
                                  now_text()))
        self.last_event = last_event
        self.published += len(messages)
        self._failures = 0
        if self.on_batch is not None:
            self.on_batch(Published(first, last, len(messages), time.perf_counter() - began))

    def _last_event_up_to(self, position: int) -> int:
        """The position of the last event the scores fold at or before ``position`` (0:
        none): a mark names such a position, as the rows' positions do."""
        while position > 0:
            start = max(1, position - 999)
            found = [e["position"] for e in self.ledger.read_envelopes(start, position)
                     if is_folded(e)]
            if found:
                return int(found[-1])
            position = start - 1
        return 0

    async def _mark(self, stop: asyncio.Event, position: int, through: int) -> bool:
        """Send a mark at ``position`` to every partition, once the events before it (the
        log through ``through``) are acknowledged (so it follows them on each partition);
        False when stopped first."""
        connection = self._connection
        assert connection is not None
        mark = Mark(position, self.config.as_of or datetime.now(UTC),
                    connection.partition_count, max(self.head, through), through).line()
        acks = await connection.send(
            [(MARK_KEY, mark, p) for p in range(connection.partition_count)])
        if not await self._acknowledged(acks, stop):
            return False
        self.marked_at = time.monotonic()
        self.marked = position
        return True

    async def _acknowledged(self, acks: Sequence[asyncio.Future[Any]],
                            stop: asyncio.Event) -> bool:
        """Wait until the broker acknowledged every message (raises the first failure);
        False when stopped before (after a short grace)."""
        if not acks:
            return True
        sending = asyncio.ensure_future(asyncio.gather(*acks))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            done, _ = await asyncio.wait({sending, stopping}, timeout=self.config.request_seconds,
                                         return_when=asyncio.FIRST_COMPLETED)
            if sending not in done and stopping in done:
                done, _ = await asyncio.wait({sending}, timeout=GRACE_SECONDS)
                if sending not in done:
                    return False
            if sending not in done:
                raise KafkaTimeoutError(f"{len(acks)} messages not acknowledged within "
                                        f"{self.config.request_seconds:g}s")
            sending.result()
            return True
        finally:
            stopping.cancel()
            if not sending.done():
                sending.cancel()

    # -- broker loss -------------------------------------------------------------------------
    async def _check_loss(self, ends: dict[int, int] | None = None) -> None:
        """Compare the topic's end offsets with those recorded; when any is below, say so
        and drive the whole log again from position 0."""
        connection = self._connection
        assert connection is not None
        if ends is None:
            ends = await connection.end_offsets()
        lost = lost_partitions(self.acknowledged.end_offsets, ends)
        if not lost:
            return
        shown = ", ".join(f"partition {p} ends at {now:,} < {then:,} recorded"
                          for p, (now, then) in lost.items())
        self.on_notice(f"topic {self.config.topic} on {self.config.bootstrap} lost events "
                       f"({shown}): it was deleted or the broker lost its data; re-driving "
                       f"the whole log from position 0 (was acknowledged up to "
                       f"{self.acknowledged.position:,})")
        self.redriven += 1
        self._record(Acknowledged(self.config.topic, 0, {}, self.config.bootstrap,
                                  now_text()))
        self.last_event = 0
        await connection.ensure_topic()

    def _record(self, acknowledged: Acknowledged) -> None:
        self.tracking.save(acknowledged)
        self.acknowledged = acknowledged


async def current_end_offsets(config: RelayConfig) -> dict[int, int]:
    """The topic's end offsets now (``dossier stream status``); raises KafkaError or OSError
    when the broker cannot say."""
    connection = Connection(config)
    try:
        await connection.open(idempotent=None)
        return await connection.end_offsets()
    finally:
        await connection.close()


class RelayError(Exception):
    """The relay cannot go on."""


class BrokerUnreachable(RelayError):
    def __init__(self, url: str, attempts: int, cause: str) -> None:
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
        super().__init__(f"Kafka broker {url} unreachable after {tries}: {cause}")
        self.url = url
        self.attempts = attempts
