"""Every command of ``dossier --help``, run as a user would on a data directory that is missing,
empty, a ledger without ClickHouse tables, or one whose chDB directory another process holds:
no traceback, and one clear line with a non-zero exit where there is nothing to show.

The commands are enumerated from the Typer app, so a new command is covered as soon as it is
registered (with no arguments, until it gets minimal ones below)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import typer

from app.cli import cli
from tests.conftest import EXAMPLE_EVENTS

DOSSIER = shutil.which("dossier", path=str(Path(sys.executable).parent)) or shutil.which("dossier")
AS_OF = "2026-10-31"  # every score at a fixed moment: nothing depends on the day tests run
RECORD = orjson.dumps({"type": "unit.registered", "id": "22.STTTT",
                       "at": "2026-09-01T08:00:00+07:00",
                       "data": {"name": "Sở Thông tin và Truyền thông tỉnh Quảng Ninh",
                                "parent": "22", "kind": "department"}}).decode()
MINIMAL_ARGS: dict[str, list[str]] = {
    "record": [RECORD],
    "import": [str(EXAMPLE_EVENTS)],
    "export": [],
    "verify": [],
    "history": ["d-0001", "--as-of", AS_OF],
    "score": ["-u", "22", "-p", "2026-10", "--as-of", AS_OF],
    "rank": ["-p", "2026-10", "--as-of", AS_OF],
    "explain": ["-u", "22", "-p", "2026-10", "-i", "2.1", "--as-of", AS_OF],
    "simulate": ["--days", "0.2", "--scale", "0.001", "-p", "22", "--start", "2026-10-05"],
    "follow": ["--once", "--quiet", "--as-of", AS_OF],
    "replay": [],
    "live-rank": ["-p", "2026-10"],
    "clickhouse-ddl": ["{tmp}/ddl"],
    "demo": ["--headless", "--days", "0.05", "--speed", "0", "--scale", "0.001"],
    "dashboards": ["build", "--out", "{tmp}/grafana"],
    "keys": ["signing"],
    "checkpoint": [],
    "prove": ["1"],
    "bundle": ["--dossier", "d-0001", "--out", "{tmp}/bundle.json"],
    "verify-bundle": ["{tmp}/bundle.json"],
    "erase": ["--applicant", "ref-000.00.22.H40-261001-0001"],
    "stream": ["status"],
}
NEEDS_SETUP = {"keys": "dossier keys signing --new", "checkpoint": "dossier keys signing --new",
               "prove": "run `dossier checkpoint`", "bundle": "dossier keys signing --new",
               "verify-bundle": "write one with `dossier bundle`",
               "erase": "DOSSIER_PERSONAL_DATA_KEY_FILE", "stream": "DOSSIER_KAFKA_URL"}
"""Commands refused, in one line saying what to do first, until a signing key or a checkpoint
exists."""
WRITERS = {"record", "import", "simulate", "clickhouse-ddl", "demo", "dashboards"}
"""Commands that create what they need; every other one reads, and refuses an empty place."""
OLAP = {"follow", "replay", "live-rank", "verify --scores", "demo", "serve"}
"""Commands that open the chDB directory."""
LONG_RUNNING = {"demo", "serve"}
"""Run only where they exit at once (a held chDB directory)."""


def commands() -> list[str]:
    group = typer.main.get_command(cli)
    assert isinstance(group, typer.core.TyperGroup)
    return [*sorted(group.commands), "verify --scores"]


def command_args(name: str, tmp: Path) -> list[str]:
    head, _, option = name.partition(" ")
    args = [a.replace("{tmp}", str(tmp)) for a in MINIMAL_ARGS.get(head, [])]
    return [head, *([option] if option else []), *args]


def env_for(data_dir: Path) -> dict[str, str]:
    env = os.environ | {"DOSSIER_DATA_DIR": str(data_dir), "COLUMNS": "80",
                        "DOSSIER_PSEUDONYM_KEY": "test-key"}
    for name in ("DOSSIER_PG_DSN", "DOSSIER_STORE", "DOSSIER_CLICKHOUSE_URL", "DOSSIER_DEBUG"):
        env.pop(name, None)
    return env


def dossier(data_dir: Path, *args: str, timeout: float = 180
            ) -> subprocess.CompletedProcess[str]:
    """The installed ``dossier`` command on ``data_dir``, its output piped, 80 columns."""
    if DOSSIER is None:
        pytest.fail("the `dossier` command is not installed (run `make setup`)")
    return subprocess.run([DOSSIER, *args], env=env_for(data_dir), capture_output=True,
                          text=True, timeout=timeout, check=False)


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    said = result.stdout + result.stderr
    assert "Traceback" not in said, said[-3000:]
    assert "Cannot lock file" not in said and "Code: 76" not in said, said[-3000:]


def assert_one_line_refusal(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


def example_ledger(directory: Path) -> Path:
    result = dossier(directory, "import", str(EXAMPLE_EVENTS))
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture(scope="module")
def ledger_without_tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return example_ledger(tmp_path_factory.mktemp("example") / "data")


@pytest.fixture(scope="module")
def held_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example ledger whose chDB directory a running ``dossier follow`` holds."""
    data = example_ledger(tmp_path_factory.mktemp("held") / "data")
    holder = subprocess.Popen([DOSSIER or "dossier", "follow", "--quiet", "--as-of", AS_OF],
                              env=env_for(data), text=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (data / "olap" / "status").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        assert holder.poll() is None, "the follower holding the chDB directory has stopped"
        yield data
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("place", ["missing", "empty"])
@pytest.mark.parametrize("name", [c for c in commands() if c not in LONG_RUNNING])
def test_no_command_shows_a_traceback_where_there_is_no_ledger(
        name: str, place: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    if place == "empty":
        data.mkdir()
    result = dossier(data, *command_args(name, tmp_path))
    assert_no_traceback(result)
    if name.partition(" ")[0] in WRITERS:
        assert result.returncode == 0, result.stderr
        return
    assert_one_line_refusal(result)
    if place == "missing":
        assert not data.exists(), f"`dossier {name}` created the data directory it lacked"
    else:
        assert list(data.iterdir()) == [], f"`dossier {name}` created {list(data.iterdir())}"


@pytest.mark.parametrize("name", [c for c in commands() if c not in LONG_RUNNING])
def test_no_command_shows_a_traceback_on_a_ledger_without_clickhouse_tables(
        name: str, ledger_without_tables: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ledger_without_tables, data)
    result = dossier(data, *command_args(name, tmp_path))
    assert_no_traceback(result)
    if name in ("live-rank", "verify --scores"):
        assert_one_line_refusal(result)
        assert "dossier follow --once" in result.stderr
        (data / "olap").mkdir()  # a chDB directory without the tables: the table is named
        again = dossier(data, *command_args(name, tmp_path))
        assert_no_traceback(again)
        assert_one_line_refusal(again)
        assert re.search(r"no table \w+ in ClickHouse", again.stderr), again.stderr
    elif name in NEEDS_SETUP:
        assert_one_line_refusal(result)
        assert NEEDS_SETUP[name] in result.stderr, result.stderr
    else:
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", commands())
def test_no_command_shows_a_traceback_while_another_process_holds_chdb(
        name: str, held_directory: Path, tmp_path: Path) -> None:
    result = dossier(held_directory, *command_args(name, tmp_path))
    assert_no_traceback(result)
    if name in OLAP:
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[-1].startswith("error: ") and "in use by another process" in lines[-1]
        assert str((held_directory / "olap").resolve()) in lines[-1]
    elif name in NEEDS_SETUP:
        assert_one_line_refusal(result)
    else:
        assert result.returncode == 0, result.stderr


def test_an_unforeseen_error_is_one_line_with_a_hint_and_the_traceback_under_debug(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "ledger.sqlite").write_bytes(b"this is not a SQLite database " * 100)
    result = dossier(data, "export")
    assert_no_traceback(result)
    assert result.returncode == 1
    first, hint = result.stderr.strip().splitlines()
    assert first.startswith("error: ") and "not a database" in first
    assert "DOSSIER_DEBUG=1" in hint
    env = env_for(data) | {"DOSSIER_DEBUG": "1"}
    debug = subprocess.run([DOSSIER or "dossier", "export"], env=env, capture_output=True,
                           text=True, timeout=120, check=False)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
