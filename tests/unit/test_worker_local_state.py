"""A worker keeps its local tables as they are only after a clean stop: killed or crashed,
each store is rolled back at its next start to its latest checkpoint proven acknowledged
(its local writes since may be ones the changelogs never got, which a worker that took its
partitions over did not see), or restored from its changelog when it has none."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rocksdict import Rdict

from streams.checkpoints import DIRECTORY, Checkpoints, roll_back
from streams.faust_app import RUNNING, local_state


def worker(tmp_path: Path) -> tuple[Any, Any, Path]:
    tables = tmp_path / "v1" / "tables"
    tables.mkdir(parents=True)
    db = Rdict(str(tables / "partitions-0.db"))
    db[b"k"] = b"local writes"
    db.close()
    return SimpleNamespace(conf=SimpleNamespace(tabledir=tables)), \
        SimpleNamespace(stopped_by=None), tables


def read(path: Path) -> dict[bytes, bytes]:
    db = Rdict(str(path))
    try:
        return dict(db.items())
    finally:
        db.close()


def test_a_clean_stop_keeps_the_local_tables(tmp_path: Path) -> None:
    app, runtime, tables = worker(tmp_path)
    said: list[str] = []
    for _ in range(2):
        with local_state(app, tmp_path, said.append, runtime):
            assert (tmp_path / RUNNING).exists()
        assert not (tmp_path / RUNNING).exists()
    assert read(tables / "partitions-0.db") == {b"k": b"local writes"} and not said


def stop_uncleanly(app: Any, runtime: Any, tmp_path: Path, how: str,
                   said: list[str]) -> None:
    if how == "killed":  # the process ended inside: the marker stays
        with pytest.raises(KeyboardInterrupt), local_state(app, tmp_path, said.append,
                                                           runtime):
            raise KeyboardInterrupt
    else:  # an agent failed: faust stopped the worker, which says why
        runtime.stopped_by = RuntimeError("ClickHouse gone")
        with local_state(app, tmp_path, said.append, runtime):
            pass
        runtime.stopped_by = None
    assert (tmp_path / RUNNING).exists()


@pytest.mark.parametrize("how", ["killed", "crashed"])
def test_after_a_kill_or_a_crash_a_store_without_checkpoint_comes_from_its_changelog(
        tmp_path: Path, how: str) -> None:
    app, runtime, tables = worker(tmp_path)
    said: list[str] = []
    stop_uncleanly(app, runtime, tmp_path, how, said)
    with local_state(app, tmp_path, said.append, runtime):
        assert not (tables / "partitions-0.db").exists()
    assert len(said) == 1 and "did not stop cleanly" in said[0]
    assert "1 restored from their changelogs" in said[0]
    assert not (tmp_path / RUNNING).exists()


def test_after_a_kill_a_store_goes_back_to_its_latest_proven_checkpoint(
        tmp_path: Path) -> None:
    """Writes after the proven checkpoint (acknowledged or not) are gone from the store; a
    later checkpoint not proven is not used, and is deleted."""
    app, runtime, tables = worker(tmp_path)
    checkpoints = Checkpoints(tables)
    db = Rdict(str(tables / "partitions-0.db"))
    db[b"snapshot"] = b"1"
    first = checkpoints.take("partitions-0", db)
    db[b"snapshot"] = b"2"
    second = checkpoints.take("partitions-0", db)
    checkpoints.prove("partitions-0", second)  # acknowledgements may come out of order:
    checkpoints.prove("partitions-0", first)  # the one proven last is as good a state
    db[b"snapshot"] = b"3"
    unproven = checkpoints.take("partitions-0", db)
    db[b"after"] = b"never sent"
    db.close()
    assert read(first.parent / "partitions-0.proven") == {b"k": b"local writes",
                                                         b"snapshot": b"1"}
    said: list[str] = []
    stop_uncleanly(app, runtime, tmp_path, "killed", said)
    with local_state(app, tmp_path, said.append, runtime):
        assert read(tables / "partitions-0.db") == {b"k": b"local writes", b"snapshot": b"1"}
    assert "1 rolled back to their latest checkpoint" in said[0]
    assert not unproven.exists()
    assert [p.name for p in (tables / DIRECTORY).iterdir()] == ["partitions-0.proven"]

    # killed again before the next checkpoint: back to the same one (the store opened and
    # written meanwhile did not change the checkpoint it was made from)
    db = Rdict(str(tables / "partitions-0.db"))
    db[b"snapshot"] = b"4, never proven"
    db.compact_range(None, None)
    db.close()
    assert read(first.parent / "partitions-0.proven") == {b"k": b"local writes",
                                                         b"snapshot": b"1"}
    said.clear()
    stop_uncleanly(app, runtime, tmp_path, "killed", said)
    with local_state(app, tmp_path, said.append, runtime):
        assert read(tables / "partitions-0.db") == {b"k": b"local writes", b"snapshot": b"1"}
    assert "1 rolled back to their latest checkpoint" in said[0]


def test_rolling_back_leaves_stores_without_a_store_file_alone(tmp_path: Path) -> None:
    tables = tmp_path / "tables"
    (tables / DIRECTORY).mkdir(parents=True)
    assert roll_back(tables) == ([], [])
