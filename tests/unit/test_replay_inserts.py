"""The replay's insert thread writes batches in order and hands its first error back."""

from __future__ import annotations

import threading

import pytest

from projections.clickhouse.writer import Batch
from streams.rebuild import _Inserts


class Recorder:
    """Stands in for the ClickHouse writer: records the batches, fails on a chosen one."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.written: list[int] = []
        self.fail_at = fail_at
        self.threads: set[str] = set()

    def write(self, batch: Batch) -> None:
        self.threads.add(threading.current_thread().name)
        if batch.position == self.fail_at:
            raise RuntimeError(f"insert of batch {batch.position} refused")
        self.written.append(batch.position)


def test_batches_are_written_in_order_by_their_own_thread() -> None:
    recorder = Recorder()
    with _Inserts(recorder) as inserts:  # type: ignore[arg-type]
        for position in range(1, 21):
            inserts.put(Batch(position=position))
        inserts.close()
    assert recorder.written == list(range(1, 21))
    assert recorder.threads == {"replay-inserts"}


def test_the_first_error_stops_the_writes_and_reaches_the_replay() -> None:
    recorder = Recorder(fail_at=3)
    with pytest.raises(RuntimeError, match="batch 3 refused"), _Inserts(
            recorder) as inserts:  # type: ignore[arg-type]
        for position in range(1, 50):
            inserts.put(Batch(position=position))
        inserts.close()
    assert recorder.written == [1, 2]  # nothing after the failed batch
