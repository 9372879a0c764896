"""A large import: its events wait on disk, not in memory, and go to the store chunk by chunk in
one transaction — all of them or none, on every store, whichever chunk fails."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from bench.workload import workload_lines
from ledger import staging, unit_of_work
from ledger.application import DossierLedger
from ledger.audit import verify
from ledger.errors import ConcurrencyConflict
from ledger.merkle import log_leaf, root_of
from ledger.staging import StagedEvents
from ledger.transfer import export_lines, import_lines

ROOT = Path(__file__).resolve().parents[2]
SMALL_CHUNK = 64
LINES = workload_lines(3000)
HEAD = 500  # imported first: the large import continues a log, a tree and a chain


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staging, "CHUNK", SMALL_CHUNK)


class SpillCounting(StagedEvents):
    """The real staging, counting the chunks read back from its spill file."""

    spilled_chunks = 0

    def _write_out(self) -> None:
        SpillCounting.spilled_chunks += 1
        super()._write_out()


class DuplicateInLateChunk(StagedEvents):
    """Staging whose next-to-last chunk repeats an event of the first: the store refuses it
    (duplicate key) after most of the file is inserted."""

    def chunks(self) -> Iterator[list[StoredEvent]]:
        chunks = list(super().chunks())
        chunks[-2] = [chunks[0][0], *chunks[-2][1:]]
        yield from chunks


class KilledInLateChunk(StagedEvents):
    """Staging that dies (the disk gone, the process stopped) before its last chunk."""

    def chunks(self) -> Iterator[list[StoredEvent]]:
        chunks = list(super().chunks())
        yield from chunks[:-1]
        raise OSError("the spill file's disk went away")


def as_given(exported: list[bytes], given: list[bytes]) -> list[dict]:
    """The exported events with only the fields of the given lines (an export adds the
    ledger's fields, and the due date it computed for a dossier received without one)."""
    shown = []
    for line, given_line in zip(exported, given, strict=True):
        event, wanted = orjson.loads(line), orjson.loads(given_line)
        extra = set(event["data"]) - set(wanted["data"])
        assert extra <= ({"due_at"} if event["type"] == "dossier.received" else set())
        event["data"] = {k: v for k, v in event["data"].items() if k in wanted["data"]}
        shown.append({k: event[k] for k in wanted})
    return shown


def log_state(ledger: DossierLedger) -> tuple[int, list, bytes]:
    size = ledger.max_position()
    rows = ledger.recorder.select_log(1, size + 10)  # type: ignore[attr-defined]
    with ledger.recorder.tree() as view:  # type: ignore[attr-defined]
        return size, rows, view.root(size)


def test_an_import_spanning_many_chunks_verifies_and_exports_its_lines(
        ledger: DossierLedger, small_chunks: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unit_of_work, "StagedEvents", SpillCounting)
    import_lines(ledger, LINES[:HEAD])
    before = ledger.max_position()
    SpillCounting.spilled_chunks = 0
    result = import_lines(ledger, LINES[HEAD:])
    assert SpillCounting.spilled_chunks >= (len(LINES) - HEAD) // SMALL_CHUNK
    assert (result.events, result.first_position, result.last_position) == (
        len(LINES) - HEAD, before + 1, before + len(LINES) - HEAD)
    assert ledger.max_position() == before + result.events + 1  # and the import's request
    assert verify(ledger).ok
    exported = list(export_lines(ledger))
    assert as_given(exported, LINES) == [orjson.loads(line) for line in LINES]
    rows = ledger.recorder.select_log(1, len(LINES) + 10)  # type: ignore[attr-defined]
    assert [r.position for r in rows] == list(range(1, ledger.max_position() + 1))
    assert len({r.recorded_at for r in rows[before + 1:]}) == 1  # one commit, one stamp
    with ledger.recorder.tree() as view:  # type: ignore[attr-defined]
        for size in (before + 1, before + SMALL_CHUNK + 3, len(rows) - 1, len(rows)):
            assert view.root(size) == root_of([log_leaf(r.log_hash) for r in rows[:size]])


@pytest.mark.parametrize("staging_class", [DuplicateInLateChunk, KilledInLateChunk])
def test_an_import_that_fails_in_a_late_chunk_leaves_nothing(
        ledger: DossierLedger, small_chunks: None, monkeypatch: pytest.MonkeyPatch,
        staging_class: type[StagedEvents]) -> None:
    import_lines(ledger, LINES[:HEAD])
    before = log_state(ledger)
    monkeypatch.setattr(unit_of_work, "StagedEvents", staging_class)
    expected = ConcurrencyConflict if staging_class is DuplicateInLateChunk else OSError
    with pytest.raises(expected):
        import_lines(ledger, LINES[HEAD:])
    assert log_state(ledger) == before
    assert verify(ledger).ok
    # the write lock was let go, and the tree's frontier kept in memory was not believed
    monkeypatch.setattr(unit_of_work, "StagedEvents", StagedEvents)
    ledger.record({"type": "unit.capability_set", "id": "22", "at": "2026-11-01T08:00:00Z",
                   "data": {"capability": "e_certified_copy", "enabled": True}})
    result = import_lines(ledger, LINES[HEAD:])
    assert result.events == len(LINES) - HEAD
    assert verify(ledger).ok
    _, rows, root = log_state(ledger)
    assert root == root_of([log_leaf(r.log_hash) for r in rows])


def test_a_command_records_without_a_spill_file(memory_ledger: DossierLedger,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unit_of_work, "StagedEvents", SpillCounting)
    SpillCounting.spilled_chunks = 0
    recorded = memory_ledger.record_many(
        [{"type": "unit.capability_set", "id": "22", "at": "2026-11-01T08:00:00Z",
          "data": {"capability": f"c{n}", "enabled": True}} for n in range(50)],
        idempotency_key="k-1")
    assert [r.position for r in recorded] == list(range(1, 51))
    assert SpillCounting.spilled_chunks == 0


# -- memory --------------------------------------------------------------------------------------

PEAK_SCRIPT = """
import resource, sys
from pathlib import Path
from ledger.application import DossierLedger
from ledger.config import StoreConfig
from ledger.transfer import import_lines
source, db = Path(sys.argv[1]), Path(sys.argv[2])
ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=db))
def lines():
    with source.open("rb") as f:
        yield from f
result = import_lines(ledger, lines)
print(result.events, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def capability_lines(count: int) -> Iterator[bytes]:
    """``count`` capability changes of three units: many lines, few aggregates."""
    start = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    units = ("22", "01", "79")
    for n in range(count):
        yield orjson.dumps({
            "type": "unit.capability_set", "stream": "unit", "id": units[n % 3],
            "seq": n // 3 + 1, "at": (start + timedelta(minutes=n)).isoformat(),
            "data": {"capability": f"capability-{n % 7}", "enabled": n % 2 == 0}}) + b"\n"


def peak_of_import(tmp_path: Path, count: int) -> int:
    source = tmp_path / f"{count}.jsonl"
    with source.open("wb") as out:
        out.writelines(capability_lines(count))
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(source), str(tmp_path / f"{count}.sqlite")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=600, check=True)
    events, peak = done.stdout.split()
    assert int(events) == count
    return int(peak)


def test_peak_memory_of_an_import_grows_with_its_aggregates_not_its_lines(
        tmp_path: Path) -> None:
    """Ten times the lines on the same three aggregates: the peak stays put (holding the whole
    file until its commit made it about twice the small import's peak)."""
    small, large = peak_of_import(tmp_path, 5_000), peak_of_import(tmp_path, 50_000)
    print(f"\npeak RSS: 5k lines {small / 1024:.0f} MB, 50k lines {large / 1024:.0f} MB")
    assert large < 1.3 * small
