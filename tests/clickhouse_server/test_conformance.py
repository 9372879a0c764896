"""The same ledger projected by `dossier follow` into chDB and, with DOSSIER_CLICKHOUSE_URL,
into a ClickHouse server gives the same rows; the commands that read them say the same."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from projections.clickhouse.schema import DEPLOYED, INDICATOR_HISTORY
from tests.clickhouse_server.runs import (
    FOLLOW,
    Ledger,
    dossier,
    free_port,
    fresh_database,
    spawn,
    stop,
)
from tests.clickhouse_server.tables import WALL_CLOCK, read_tables


@pytest.fixture(scope="module")
def served(clickhouse_server: str, ledger_a: Ledger,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A copy of ledger A projected into the server: its data dir and its database's URL."""
    url = fresh_database(clickhouse_server, "conformance")
    data_dir = ledger_a.copy(tmp_path_factory.mktemp("served") / "data")
    dossier(data_dir, *FOLLOW, url=url)
    yield data_dir, url


def test_the_server_holds_the_rows_chdb_holds(served: tuple[Path, str],
                                              ledger_a: Ledger) -> None:
    import clickhouse_connect

    data_dir, url = served
    assert not (data_dir / "olap").exists(), "the server run opened chDB"
    client = clickhouse_connect.get_client(dsn=url)
    try:
        on_server = read_tables(client)
    finally:
        client.close()
    embedded = ledger_a.embedded
    assert set(embedded) == {table.name for table in DEPLOYED} | {INDICATOR_HISTORY}
    assert WALL_CLOCK.issubset(name for table in DEPLOYED for name, _ in table.columns)
    assert set(on_server) == set(embedded)
    assert embedded["dossier_events"] and len(embedded["dossier_events"]) == ledger_a.events
    for table in embedded:
        assert embedded[table], f"{table}: no rows to compare"
        assert on_server[table] == embedded[table], table


@pytest.mark.parametrize(("period", "kind"), [("2026-10", "province"),
                                               ("2026-Q4", "department")])
def test_live_rank_reads_the_same_ranking_through_the_server(
        served: tuple[Path, str], ledger_a: Ledger, period: str, kind: str) -> None:
    data_dir, url = served
    asked = ("live-rank", "--period", period, "--kind", kind, "--json")
    through_server = json.loads(dossier(data_dir, *asked, url=url).stdout)
    from_chdb = json.loads(dossier(ledger_a.embedded_dir, *asked).stdout)
    assert through_server == from_chdb
    assert len(through_server) > 1


def test_verify_scores_checks_the_server_rows_against_the_ledger(
        served: tuple[Path, str]) -> None:
    data_dir, url = served
    checked = dossier(data_dir, "verify", "--scores", url=url).stdout
    assert checked.startswith("OK:"), checked


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def ready(port: int) -> bool:
    try:
        return bool(get_json(f"http://127.0.0.1:{port}/ready")["ready"])
    except OSError:
        return False


def test_the_api_beside_a_server_serves_the_ranking_chdb_holds(
        served: tuple[Path, str], ledger_a: Ledger) -> None:
    data_dir, url = served
    port = free_port()
    api = spawn(data_dir, "serve", "--no-runner", "--port", str(port), url=url)
    try:
        deadline = time.monotonic() + 30
        while not ready(port):
            if api.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dossier serve did not start (exit {api.poll()})")
            time.sleep(0.2)
        served_rows = get_json(f"http://127.0.0.1:{port}/v1/rankings?period=2026-10")["rows"]
    finally:
        stop(api)
    from_chdb = json.loads(dossier(ledger_a.embedded_dir, "live-rank", "--period", "2026-10",
                                   "--json").stdout)
    assert served_rows == [{k: v for k, v in row.items() if k != "checkpoint"}
                           for row in from_chdb]
