"""What a worker says of faust's and the Kafka client's logs: warnings and errors in one line
each, without faust's back-pressure notices; and what it keeps of the records it holds
until a snapshot acknowledges them (not their values)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from streams.faust_app import OneLine, stripped


def record(name: str, level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_warnings_are_said_in_one_line_and_back_pressure_notices_are_not() -> None:
    said: list[str] = []
    handler = OneLine(said.append)
    handler.handle(record("faust.transport.producer", logging.WARNING,
                          "producer buffer full size 2270"))
    handler.handle(record("aiokafka.consumer.group_coordinator", logging.ERROR,
                          "Heartbeat failed:\n  the group is rebalancing"))
    handler.handle(record("faust.transport.producer", logging.WARNING,
                          "producer could not reach the broker"))
    assert said == [
        "error: aiokafka.consumer.group_coordinator: Heartbeat failed: the group is "
        "rebalancing",
        "warning: faust.transport.producer: producer could not reach the broker"]


def test_a_held_record_keeps_what_acknowledging_it_needs_and_not_its_value() -> None:
    message = SimpleNamespace(value=b"{...}" * 200, offset=41, tp=("dossier-events", 2))
    event = SimpleNamespace(value=message.value, message=message)
    held = stripped(event)
    assert held is event and held.value is None and held.message.value is None
    assert (held.message.offset, held.message.tp) == (41, ("dossier-events", 2))
