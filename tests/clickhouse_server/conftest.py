"""A ClickHouse HTTP endpoint over the real engine (tests/harness/clickhouse_http.py) in a
process of its own on a free loopback port, and simulated ledgers projected into chDB."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.clickhouse_server.runs import ROOT, Ledger, free_port, simulated_ledger, stop
from tests.conftest import skip_or_fail

START_SECONDS = 30.0


def answers_ping(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=1) as response:
            return bool(response.read() == b"Ok.\n")
    except OSError:
        return False


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a ClickHouse HTTP endpoint (chDB behind it), for the whole session; each
    test works in databases of its own."""
    directory = tmp_path_factory.mktemp("clickhouse-server")
    port, log = free_port(), directory / "server.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.harness.clickhouse_http", "--port", str(port),
             "--path", str(directory / "data")],
            cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not answers_ping(url):
            if server.poll() is not None or time.monotonic() > deadline:
                said = log.read_text(errors="replace")[-2000:]
                skip_or_fail(f"the ClickHouse HTTP harness did not start on {url} "
                             f"(exit {server.poll()}): {said}")
            time.sleep(0.1)
        yield url
    finally:
        stop(server)


@pytest.fixture(scope="session")
def ledger_a(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    """A simulated ledger (seed 0) and what the embedded runner made of it."""
    return simulated_ledger(tmp_path_factory.mktemp("ledger-a"), seed=0)


@pytest.fixture(scope="session")
def ledger_b(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    """Another (seed 1)."""
    return simulated_ledger(tmp_path_factory.mktemp("ledger-b"), seed=1)
