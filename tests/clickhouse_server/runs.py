"""The installed ``dossier`` command run as a user would, on a data directory, into chDB or
into the ClickHouse server a URL names; and the tables a run leaves."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WORKLOAD_AS_OF, WORKLOAD_START

ROOT = Path(__file__).resolve().parents[2]
DOSSIER = shutil.which("dossier", path=str(Path(sys.executable).parent)) or shutil.which("dossier")
# Small cycles (many requests per run), the same for every run compared: a score row records
# the ledger position of the cycle that wrote it.
FOLLOW = ("follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF, "--batch", "100",
          "--catch-up", "100", "--snapshot-every", "0")
Tables = dict[str, list[list[Any]]]


def env_for(data_dir: Path, url: str | None = None) -> dict[str, str]:
    env = os.environ | {"DOSSIER_DATA_DIR": str(data_dir), "DOSSIER_STORE": "sqlite",
                        "DOSSIER_PSEUDONYM_KEY": "test-key", "COLUMNS": "200"}
    env.pop("DOSSIER_PG_DSN", None)
    env.pop("DOSSIER_CLICKHOUSE_URL", None)
    if url:
        env["DOSSIER_CLICKHOUSE_URL"] = url
    return env


def command(*args: str) -> list[str]:
    if DOSSIER is None:
        pytest.fail("the `dossier` command is not installed (run `make setup`)")
    return [DOSSIER, *args]


def dossier(data_dir: Path, *args: str, url: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``dossier ARGS`` on ``data_dir`` (and the server at ``url``); it must succeed."""
    done = subprocess.run(command(*args), env=env_for(data_dir, url),
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (f"dossier {' '.join(args)} exited {done.returncode}:\n"
                                  f"{done.stdout}\n{done.stderr}")
    return done


def spawn(data_dir: Path, *args: str, url: str) -> subprocess.Popen[str]:
    """Start ``dossier ARGS`` on ``data_dir`` and the server at ``url``."""
    return subprocess.Popen(command(*args), env=env_for(data_dir, url), cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def tables_in_chdb(data_dir: Path) -> Tables:
    """The tables the embedded run left under ``data_dir``/olap (read in a process of its
    own: chDB allows one data directory per process)."""
    done = subprocess.run([sys.executable, "-m", "tests.clickhouse_server.tables",
                           str(data_dir / "olap")], env=env_for(data_dir), cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    tables: Tables = json.loads(done.stdout)
    return tables


@dataclass
class Ledger:
    """A simulated ledger (never projected: copy it before a run), and the copy the embedded
    runner projected into chDB, with the tables it made."""

    path: Path
    events: int
    embedded_dir: Path
    embedded: Tables

    def copy(self, to: Path) -> Path:
        shutil.copytree(self.path, to)
        return to


def simulated_ledger(directory: Path, seed: int) -> Ledger:
    """Two days of two provinces, simulated with ``seed``; then projected into chDB by
    ``dossier follow`` in a copy."""
    ledger = directory / "ledger"
    done = dossier(ledger, "simulate", "--json", "--seed", str(seed), "--days", "2",
                   "--scale", "0.002", "--start", WORKLOAD_START.isoformat(),
                   "-p", "22", "-p", "01")
    events = int(json.loads(done.stdout)["events_written"])
    embedded = shutil.copytree(ledger, directory / "embedded")
    dossier(embedded, *FOLLOW)
    return Ledger(ledger, events, embedded, tables_in_chdb(embedded))


def fresh_database(url: str, name: str) -> str:
    """An empty database ``name`` on the server at ``url``; the URL that names it."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=url)
    try:
        client.command(f"DROP DATABASE IF EXISTS {name}")
        client.command(f"CREATE DATABASE {name}")
    finally:
        client.close()
    return f"{url}/{name}"


def stop(process: subprocess.Popen[Any]) -> None:
    """Ask a process started by a test to end (SIGTERM), and kill it after 10 s."""
    process.terminate()
    try:
        process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
