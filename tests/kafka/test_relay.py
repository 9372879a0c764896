"""``dossier stream relay`` against a real Kafka-protocol broker (tansu): every event on the
topic in the export format, each aggregate on one partition in order; a broker that lost its
topic is noticed and the log driven again; an unreachable broker ends in one line."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import orjson
import pytest

from ledger.application import DossierLedger
from ledger.chain import event_hash
from ledger.config import StoreConfig
from ledger.transfer import export_lines, import_lines
from ledger.wire import validate_event
from projections.facts import is_folded
from streams.relay import Relay, RelayConfig, lost_partitions, message_of
from streams.relay_tracking import Acknowledged, tracking_for
from streams.routing import Mark, Trees, partition_for, read_record
from tests.conftest import EXAMPLE_EVENTS
from tests.integration.test_clickhouse_live import simulate
from tests.kafka.checks import acked_on_topic, keys_keep_order, ledger_positions
from tests.kafka.conftest import (
    MARK,
    TOPIC,
    Broker,
    Record,
    drain,
    free_port,
    lines_of,
    read_topic,
    spawn_relay,
    stream,
    topic_partitions,
    wait_for,
)


def test_a_partition_below_its_recorded_end_offset_is_a_loss() -> None:
    assert lost_partitions({0: 5, 1: 0, 2: 7}, {0: 5, 1: 0, 2: 9}) == {}
    assert lost_partitions({0: 5, 1: 3}, {0: 6, 1: 2}) == {1: (2, 3)}
    assert lost_partitions({0: 5, 1: 3}, {}) == {0: (0, 5), 1: (0, 3)}  # topic gone
    assert lost_partitions({}, {}) == {}


def test_the_key_is_the_aggregate_id_and_the_value_the_export_line() -> None:
    envelope = {"type": "dossier.withdrawn", "stream": "dossier", "id": "D1", "seq": 3,
                "at": "2026-10-05T08:30:00+07:00", "data": {}, "position": 42}
    key, value = message_of(envelope)
    assert key == b"dossier:D1"
    assert value == b'{"at":"2026-10-05T08:30:00+07:00","data":{},"id":"D1","position":42,' \
                    b'"seq":3,"stream":"dossier","type":"dossier.withdrawn"}'


def marks_follow_their_events(records: list[Record], last_event: int, head: int) -> None:
    """On every partition, a mark at P comes after each of the partition's events up to P and
    before every later one (and after every record up to the position it says the log is
    sent through); the last mark of each partition is at the log's last event the scores
    fold, sent through the ledger's head."""
    last: dict[int, int] = {}
    through: dict[int, int] = {}
    for record in records:  # in (partition, offset) order
        if record.key == MARK:
            mark = read_record(record.value)
            assert isinstance(mark, Mark) and mark.partitions == 4
            assert mark.position >= last.get(record.partition, 0)
            assert mark.covered >= mark.position
            last[record.partition] = mark.position
            through[record.partition] = mark.covered
        else:
            assert record.position > through.get(record.partition, 0), record
    assert sorted(last) == [0, 1, 2, 3] and set(last.values()) == {last_event}, last
    assert set(through.values()) == {head}, through


def test_once_puts_every_event_on_the_topic_once_in_the_export_format(
        tmp_path: Path, broker: Broker) -> None:
    head = simulate(tmp_path, scale=0.004)
    began = time.perf_counter()
    result = stream(tmp_path, broker.url, "relay", "--once", "--batch", "200")
    seconds = time.perf_counter() - began
    assert result.returncode == 0, result.stderr
    assert f"acknowledged position {head:,}" in result.stdout, result.stdout
    expected = ledger_positions(tmp_path)
    records = read_topic(broker.url)
    print(f"\n{len(records)} events published in {seconds:.2f}s with the CLI's start "
          f"({result.stdout.strip()})")

    assert sorted(r.position for r in records) == expected  # each exactly once
    partition_of = keys_keep_order(records)
    assert len(set(partition_of.values())) > 1, "every key on one partition"
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=tmp_path / "ledger.sqlite"))
    try:
        exported = {orjson.loads(line)["position"]: line.rstrip(b"\n")
                    for line in export_lines(ledger)}
    finally:
        ledger.close()
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=tmp_path / "ledger.sqlite"))
    try:
        trees = Trees(ledger, remembered=10)  # most dossiers' units read back from the ledger
        for record in records:
            assert record.value == exported[record.position]  # byte for byte `dossier export`
            event = record.event
            assert record.key == f"{event['stream']}:{event['id']}"
            assert event_hash(event) == event["hash"]
            validate_event(event)
            # the partition of the event's unit tree (so also one partition per key)
            assert record.partition == partition_for(trees.root_of(event), 4), event
    finally:
        ledger.close()
    last_folded = max(r.position for r in records if is_folded(r.event))
    marks_follow_their_events(read_topic(broker.url, marks=True), last_folded, head)

    again = stream(tmp_path, broker.url, "relay", "--once")
    assert again.returncode == 0, again.stderr
    assert "published 0 events" in again.stdout
    assert len(read_topic(broker.url)) == len(records)

    status = stream(tmp_path, broker.url, "status", "--json")
    assert status.returncode == 0, status.stderr
    report = orjson.loads(status.stdout)
    assert (report["ledger_head"], report["acknowledged_position"], report["lag"],
            report["lost"]) == (head, head, 0, False)
    assert [p["partition"] for p in report["partitions"]] == [0, 1, 2, 3]
    shown = stream(tmp_path, broker.url, "status")
    assert shown.returncode == 0, shown.stderr
    assert f"acknowledged {head:,} · lag 0 events" in shown.stdout
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80


@pytest.mark.parametrize("moment", ["idle", "publishing"])
def test_a_broker_that_lost_the_topic_gets_the_whole_log_again(
        tmp_path: Path, broker: Broker, moment: str) -> None:
    """The broker is replaced by an empty one on the same port while the relay waits for new
    events, or in the middle of a catch-up (the new one then starts once the relay has
    noticed the outage: tansu's memory storage mixes up a partition's offsets when a
    retried produce arrives while it creates the topic)."""
    head = simulate(tmp_path, scale=0.002 if moment == "idle" else 0.01)
    batch = "300" if moment == "idle" else "10"
    relay = spawn_relay(tmp_path, broker.url, "--poll", "0.05", "--check-every", "0.5",
                        "--batch", batch, "--timeout", "2")
    lines = lines_of(relay)
    try:
        if moment == "idle":
            wait_for(lines, rf"published \d+–{head}:")
            assert len(read_topic(broker.url)) == len(ledger_positions(tmp_path))
            broker.restart_empty()  # same port, no topic: a broker restarted in memory
        else:
            wait_for(lines, r"published \d+–\d+:")
            time.sleep(0.2)
            broker.stop()
            wait_for(lines, rf"Kafka broker {broker.url}: .* retry 1 of 8")
            broker.start()
        wait_for(lines, r"lost events")
        wait_for(lines, rf"published \d+–{head}:")
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(20) == 0
    finally:
        if relay.poll() is None:
            relay.kill()
            relay.wait()
    stderr = "".join(drain(lines))
    assert "Traceback" not in stderr
    records = read_topic(broker.url)
    assert sorted({r.position for r in records}) == ledger_positions(tmp_path)
    keys_keep_order(records)


def test_an_unreachable_broker_ends_in_one_line_after_the_retries(tmp_path: Path) -> None:
    simulate(tmp_path, scale=0.001)
    url = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = stream(tmp_path, url, "relay", "--once", "--retries", "2")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    retries = [line for line in lines if "retry" in line]
    assert len(retries) == 2 and all(url in line for line in retries), lines
    assert lines[-1].startswith(f"error: Kafka broker {url} unreachable after 3 attempts"), \
        lines[-1]

    missing = stream(tmp_path / "nowhere", url, "relay", "--once")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no ledger at"), missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.postgres
def test_the_acknowledged_position_is_kept_in_postgresql(pg_dsn: str, broker: Broker) -> None:
    ledger = DossierLedger(StoreConfig("postgres", pg_dsn=pg_dsn))
    try:
        imported = import_lines(ledger, EXAMPLE_EVENTS.read_bytes().splitlines())
        tracking = tracking_for(ledger)
        tracking.ensure()
        tracking.ensure()  # again: nothing to do
        assert tracking.load(TOPIC) == Acknowledged(TOPIC)

        relay = Relay(ledger, tracking, RelayConfig(broker.url, batch_events=7))
        assert asyncio.run(relay.run(once=True)) == ledger.max_position()
        stored = tracking_for(ledger).load(TOPIC)
        assert stored.position == ledger.max_position()
        assert stored.broker == broker.url
        assert sorted(stored.end_offsets) == asyncio.run(topic_partitions(broker.url, TOPIC))
        assert relay.published == imported.events
        acked_on_topic(stored.position, list(range(1, imported.events + 1)),
                       read_topic(broker.url))
    finally:
        ledger.close()
