"""A worker keeps its local tables only after a clean stop: killed or crashed, it restores
them from the changelogs at its next start (its local writes may be ones the changelogs
never got, which a worker that took its partitions over did not see)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from streams.faust_app import RUNNING, local_state


def worker(tmp_path: Path) -> tuple[Any, Any, Path]:
    tables = tmp_path / "v1" / "tables"
    (tables / "dossiers-0.db").mkdir(parents=True)
    (tables / "dossiers-0.db" / "000001.log").write_bytes(b"local writes")
    return SimpleNamespace(conf=SimpleNamespace(tabledir=tables)), \
        SimpleNamespace(stopped_by=None), tables


def test_a_clean_stop_keeps_the_local_tables(tmp_path: Path) -> None:
    app, runtime, tables = worker(tmp_path)
    said: list[str] = []
    for _ in range(2):
        with local_state(app, tmp_path, said.append, runtime):
            assert (tmp_path / RUNNING).exists()
        assert not (tmp_path / RUNNING).exists()
    assert (tables / "dossiers-0.db" / "000001.log").exists() and not said


@pytest.mark.parametrize("how", ["killed", "crashed"])
def test_after_a_kill_or_a_crash_the_tables_come_from_the_changelogs(
        tmp_path: Path, how: str) -> None:
    app, runtime, tables = worker(tmp_path)
    said: list[str] = []
    if how == "killed":  # the process ended inside: the marker stays
        with pytest.raises(KeyboardInterrupt), local_state(app, tmp_path, said.append,
                                                           runtime):
            raise KeyboardInterrupt
    else:  # an agent failed: faust stopped the worker, which says why
        runtime.stopped_by = RuntimeError("ClickHouse gone")
        with local_state(app, tmp_path, said.append, runtime):
            pass
        runtime.stopped_by = None
    assert (tmp_path / RUNNING).exists() and tables.exists()
    with local_state(app, tmp_path, said.append, runtime):
        assert not tables.exists()
    assert len(said) == 1 and "did not stop cleanly" in said[0]
    assert not (tmp_path / RUNNING).exists()
