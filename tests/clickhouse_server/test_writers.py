"""Two runners write through one server at the same time, each into its own database, and
each ends with the rows chDB holds for its ledger."""

from __future__ import annotations

from pathlib import Path

from tests.clickhouse_server.runs import FOLLOW, Ledger, fresh_database, spawn
from tests.clickhouse_server.tables import read_tables


def test_two_runners_write_through_one_server_at_once(
        clickhouse_server: str, ledger_a: Ledger, ledger_b: Ledger, tmp_path: Path) -> None:
    import clickhouse_connect

    runs = {name: (ledger, fresh_database(clickhouse_server, f"writer_{name}"))
            for name, ledger in (("a", ledger_a), ("b", ledger_b))}
    runners = {name: spawn(ledger.copy(tmp_path / name), *FOLLOW, url=url)
               for name, (ledger, url) in runs.items()}
    for name, runner in runners.items():
        _, said = runner.communicate(timeout=120)
        assert runner.returncode == 0, f"runner {name}: {said}"

    cycles = {}
    for name, (ledger, url) in runs.items():
        client = clickhouse_connect.get_client(dsn=url)
        try:
            assert read_tables(client) == ledger.embedded, f"runner {name}"
            cycles[name] = client.query("SELECT min(started_at), max(started_at) "
                                        "FROM runner_cycles").result_rows[0]
        finally:
            client.close()
    # they did write at the same time: each started a cycle while the other was running
    (a_first, a_last), (b_first, b_last) = cycles["a"], cycles["b"]
    assert a_first < b_last and b_first < a_last, cycles
