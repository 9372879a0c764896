"""What a worker says of faust's and the Kafka client's logs: warnings and errors in one line
each, without faust's back-pressure notices; what it says while its tables are not ready
(faust's own timers wait for them); and what it keeps of the records it holds until a
snapshot acknowledges them (not their values)."""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace

from streams.faust_app import OneLine, Runtime, stripped


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


def recovery(**state: object) -> SimpleNamespace:
    defaults: dict[str, object] = {"in_recovery": False, "active_tps": set(),
                                   "remaining": {}, "completed": threading.Event()}
    found = SimpleNamespace(**(defaults | state))
    found.active_remaining = lambda: found.remaining
    return found


def test_a_worker_whose_tables_are_not_ready_says_what_it_waits_for() -> None:
    from faust.types import TP

    state = recovery()
    said: list[str] = []
    runtime = SimpleNamespace(app=SimpleNamespace(tables=SimpleNamespace(recovery=state)),
                              say=said.append)
    began = time.monotonic()
    assert Runtime.not_ready(runtime, began)  # type: ignore[arg-type]
    assert "no partition assigned to this worker yet" in said[-1]
    changelog = "dossier-workers-partitions-changelog"
    state.active_tps = {TP(changelog, 3), TP(changelog, 1)}
    assert Runtime.not_ready(runtime, began)  # type: ignore[arg-type]
    assert "2 table partitions assigned, restore not started" in said[-1]
    state.remaining = {TP(changelog, 3): 75, TP(changelog, 1): 0}
    state.in_recovery = True
    assert Runtime.not_ready(runtime, began)  # type: ignore[arg-type]
    assert said[-1].endswith(f"records still to read: {changelog} [3] 75 (none arriving "
                             "means the broker does not serve them)")
    state.completed.set()  # restored: it says no more, and the thread ends
    assert not Runtime.not_ready(runtime, began)  # type: ignore[arg-type]
    assert len(said) == 3
