"""``dossier stream relay`` + ``dossier stream worker`` (faust-streaming) against a real
Kafka-protocol broker (tansu) and a ClickHouse endpoint (the real engine behind HTTP): the
rows are those the embedded runner writes for the same ledger, also when the relay and the
workers are killed at random moments while events keep arriving; every row they write
passes ``verify --scores``."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.simulator.runner import Simulation
from ledger.application import DossierLedger
from ledger.config import StoreConfig
from projections.facts import is_folded
from tests.clickhouse_server.runs import fresh_database
from tests.conftest import WORKLOAD_AS_OF, WORKLOAD_START
from tests.integration.test_clickhouse_live import dossier
from tests.kafka.conftest import Broker, spawn_relay, stream
from tests.kafka.test_relay_kills import Appender
from tests.kafka.workers import (
    chdb_views,
    read_views,
    spawn_worker,
    wait_until_tracked,
    worker_env,
)

PROVINCES = ("22", "01", "79", "48", "31", "92")  # on every partition of four
MIDWAY = "2026-10-06T12:00:00+07:00"  # the second of the two simulated days
PARTITIONS = 4


def simulate(data_dir: Path, *, days: float = 2, scale: float = 0.002) -> int:
    clock_at = WORKLOAD_START + timedelta(days=days + 1)
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data_dir / "ledger.sqlite"),
                           clock=lambda: clock_at)
    try:
        summary = Simulation(ledger, seed=0, days=days, start=WORKLOAD_START, scale=scale,
                             provinces=list(PROVINCES), clock=lambda: clock_at).run()
        assert summary.events_rejected == 0, summary.errors[:3]
        return ledger.max_position()
    finally:
        ledger.close()


def last_folded(data_dir: Path) -> int:
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data_dir / "ledger.sqlite"))
    try:
        return max(e["position"] for e in ledger.read_envelopes() if is_folded(e))
    finally:
        ledger.close()


def embedded_views(data_dir: Path, copy: Path, as_of: str = WORKLOAD_AS_OF
                   ) -> dict[str, list[Any]]:
    """The same ledger projected by the embedded runner (`follow --once`), at the same
    evaluation time."""
    copy.mkdir()
    shutil.copy(data_dir / "ledger.sqlite", copy / "ledger.sqlite")
    dossier(copy, "follow", "--once", "--quiet", "--as-of", as_of)
    return chdb_views(copy / "olap")


def stop(process: subprocess.Popen[Any]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def the_same_rows(data_dir: Path, url: str, tmp_path: Path, as_of: str = WORKLOAD_AS_OF
                  ) -> None:
    import clickhouse_connect

    embedded = embedded_views(data_dir, tmp_path / "embedded", as_of)
    client = clickhouse_connect.get_client(dsn=url)
    try:
        partitioned = read_views(client)
    finally:
        client.close()
    for name, rows in embedded.items():
        assert rows, f"{name}: nothing to compare"
        assert partitioned[name] == rows, f"{name}: {differences(rows, partitioned[name])}"
    verified = subprocess.run(
        dossier_command("verify", "--scores"), env=worker_env(data_dir, "", url, tmp_path),
        capture_output=True, text=True, timeout=600)
    assert "OK:" in verified.stdout, verified.stdout[-3000:] + verified.stderr[-2000:]


def differences(embedded: list[Any], partitioned: list[Any]) -> str:
    """The rows only one side has, keyed by their first columns, briefly."""
    def keyed(rows: list[Any]) -> dict[str, str]:
        return {repr(row[:6]): repr(row[6:12])[:160] for row in rows}

    mine, theirs = keyed(embedded), keyed(partitioned)
    shown = [f"{key}: embedded {mine.get(key)} / workers {theirs.get(key)}"
             for key in sorted(set(mine) | set(theirs)) if mine.get(key) != theirs.get(key)]
    return f"{len(shown)} differ: " + "\n".join(shown[:8])


def dossier_command(*args: str) -> list[str]:
    import sys

    from tests.kafka.conftest import CLI

    return [sys.executable, "-c", CLI, *args]


@pytest.fixture
def database(clickhouse_server: str, request: pytest.FixtureRequest) -> str:
    return fresh_database(clickhouse_server, f"w_{request.node.name[:40]}")


@pytest.mark.parametrize("as_of", [WORKLOAD_AS_OF, MIDWAY], ids=["after", "midway"])
def test_relay_and_two_workers_write_the_rows_of_the_embedded_runner(
        tmp_path: Path, broker: Broker, database: str, as_of: str) -> None:
    """Scores due after the last event; and due midway (the events after it make every
    score one at a past moment: the counters are ahead, each unit's dossiers are read,
    those taken out of memory through the RocksDB index of their unit)."""
    import clickhouse_connect

    data = tmp_path / "data"
    data.mkdir()
    head = simulate(data)
    position = last_folded(data)
    relayed = stream(data, broker.url, "relay", "--once", "--as-of", as_of)
    assert relayed.returncode == 0, relayed.stderr
    logs = [tmp_path / f"worker{i}.log" for i in (1, 2)]
    workers = [spawn_worker(data, broker.url, database, tmp_path / f"state{i}", log)
               for i, log in zip((1, 2), logs, strict=True)]
    client = clickhouse_connect.get_client(dsn=database)
    try:
        wait_until_tracked(client, position, PARTITIONS, logs)
        deadline = time.monotonic() + 10  # cycle rows are written within a second
        while len(held := client.query("SELECT runner, max(position), max(ledger_head) "
                                       "FROM runner_cycles GROUP BY runner"
                                       ).result_rows) < PARTITIONS + 1 \
                and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        client.close()
        for worker in workers:
            stop(worker)
    # each partition's cycles reach the ledger's head (the pipeline shows no lag), though
    # its rows stand at the last event the scores fold
    assert {r: (p, h) for r, p, h in held if r.startswith("worker-p")} \
        == {f"worker-p{p}": (head, head) for p in range(PARTITIONS)}, held
    said = [log.read_text() for log in logs]
    assert all("folding from its start" in text for text in said), \
        "a worker held no partition: " + "\n".join(said)
    the_same_rows(data, database, tmp_path, as_of)


def test_killed_relay_and_workers_end_with_the_rows_of_a_clean_run(
        tmp_path: Path, broker: Broker, database: str) -> None:
    import clickhouse_connect

    data = tmp_path / "data"
    data.mkdir()
    simulate(data, days=1)
    appender = Appender(data, PROVINCES, scale=0.006)
    logs = {name: tmp_path / f"{name}.log" for name in ("w1", "w2")}

    def start(name: str) -> subprocess.Popen[Any]:
        if name == "relay":
            return spawn_relay(data, broker.url, "-q", "--batch", "50", "--poll", "0.05",
                               "--tick", "0.5", "--as-of", WORKLOAD_AS_OF)
        return spawn_worker(data, broker.url, database, tmp_path / f"state-{name}",
                            logs[name])

    running = {name: start(name) for name in ("relay", "w1", "w2")}
    rng = random.Random(5)
    killed: list[str] = []
    # caught up first, so that snapshots are there to resume from (kills during a catch-up
    # that rebalances keep moving could otherwise leave none, as on a loaded machine)
    client = clickhouse_connect.get_client(dsn=database)
    try:
        wait_until_tracked(client, last_folded(data), PARTITIONS, list(logs.values()),
                           seconds=180)
    except BaseException:
        for process in running.values():
            stop(process)
        raise
    finally:
        client.close()
    appender.start()
    try:
        for _ in range(6):
            time.sleep(rng.uniform(1.0, 4.0))
            name = rng.choice(sorted(running))
            running[name].send_signal(signal.SIGKILL)
            running[name].wait()
            killed.append(name)
            running[name] = start(name)
    finally:
        appender.stopping.set()
        appender.join(60)
    assert appender.error is None, appender.error
    print(f"\nkilled in turn: {killed}; {appender.appended} events appended meanwhile")
    client = clickhouse_connect.get_client(dsn=database)
    try:
        found = wait_until_tracked(client, last_folded(data), PARTITIONS, list(logs.values()),
                                   seconds=180)
    finally:
        client.close()
        for process in running.values():
            stop(process)
    print(f"tracked: {found}")
    said = "\n".join(log.read_text() for log in logs.values())
    assert "resumed from the snapshot" in said, said[-3000:]
    the_same_rows(data, database, tmp_path)


def append(data_dir: Path, events: int = 300) -> None:
    """More of the workload: dossiers of the same provinces, days later."""
    clock_at = WORKLOAD_START + timedelta(days=6)
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data_dir / "ledger.sqlite"),
                           clock=lambda: clock_at)
    try:
        simulation = Simulation(ledger, seed=4, days=1, start=WORKLOAD_START + timedelta(days=3),
                                scale=0.001, provinces=list(PROVINCES), batch_size=50,
                                clock=lambda: clock_at)
        written = 0
        for report in simulation.iter_run():
            written += len(report.recorded)
            if written >= events:
                return
    finally:
        ledger.close()


def test_a_broker_that_lost_its_data_is_driven_again_and_the_workers_follow(
        tmp_path: Path, broker: Broker, database: str) -> None:
    import clickhouse_connect

    data = tmp_path / "data"
    data.mkdir()
    simulate(data, days=1)
    assert stream(data, broker.url, "relay", "--once", "--as-of", WORKLOAD_AS_OF).returncode == 0
    logs = [tmp_path / f"worker{i}.log" for i in (1, 2)]
    workers = [spawn_worker(data, broker.url, database, tmp_path / f"state{i}", log)
               for i, log in zip((1, 2), logs, strict=True)]
    client = clickhouse_connect.get_client(dsn=database)
    try:
        wait_until_tracked(client, last_folded(data), PARTITIONS, logs)
        broker.restart_empty()  # as after a lost cluster: no topic, no group, no changelog
        append(data)
        again = stream(data, broker.url, "relay", "--once", "--as-of", WORKLOAD_AS_OF)
        assert again.returncode == 0, again.stderr
        assert "re-driving the whole log from position 0" in " ".join(again.stderr.split())
        wait_until_tracked(client, last_folded(data), PARTITIONS, logs, seconds=180)
    finally:
        client.close()
        for worker in workers:
            stop(worker)
    said = " ".join(" ".join(log.read_text() for log in logs).split())
    assert "the topic was made again" in said, said[-3000:]
    the_same_rows(data, database, tmp_path)


def test_a_quiet_worker_snapshots_so_that_a_restart_folds_nothing_again(
        tmp_path: Path, broker: Broker, database: str) -> None:
    """Snapshots due only hourly: the one taken once the partitions went quiet is what the
    worker, killed, resumes from — at the last position, with every record acknowledged; a
    SIGTERM as it snapshots quiet partitions again is a clean stop."""
    import clickhouse_connect

    from streams.faust_app import QUIET_SECONDS

    data = tmp_path / "data"
    data.mkdir()
    simulate(data, days=1)
    position = last_folded(data)
    assert stream(data, broker.url, "relay", "--once", "--as-of", WORKLOAD_AS_OF).returncode == 0
    first, second, third = (tmp_path / f"{n}.log" for n in ("first", "second", "third"))
    worker = spawn_worker(data, broker.url, database, tmp_path / "state", first,
                          "--snapshot-every", "3600")
    client = clickhouse_connect.get_client(dsn=database)
    try:
        wait_until_tracked(client, position, PARTITIONS, [first])
        time.sleep(QUIET_SECONDS + 3)
        assert worker.poll() is None, first.read_text()[-3000:]
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker = spawn_worker(data, broker.url, database, tmp_path / "state", second,
                              "--snapshot-every", "3600")
        # the same marks again: each partition loads its snapshot, and finds them done
        again = stream(data, broker.url, "relay", "--once", "--as-of", WORKLOAD_AS_OF)
        assert again.returncode == 0, again.stderr
        deadline = time.monotonic() + 60
        while second.read_text().count("resumed from the snapshot") < PARTITIONS \
                and time.monotonic() < deadline:
            time.sleep(0.25)
        # stopped (SIGTERM) as the quiet partitions are snapshotted: a clean stop all the
        # same (faust stops its producer before the worker's timers), its stores kept
        time.sleep(QUIET_SECONDS)
        stop(worker)
        assert worker.returncode == 0, second.read_text()[-3000:]
        worker = spawn_worker(data, broker.url, database, tmp_path / "state", third,
                              "--snapshot-every", "3600")
        deadline = time.monotonic() + 30
        while "worker of group" not in third.read_text() and time.monotonic() < deadline:
            time.sleep(0.25)
        time.sleep(2)
    finally:
        client.close()
        stop(worker)
    said = " ".join(second.read_text().split())
    assert said.count(f"resumed from the snapshot at position {position:,}") == PARTITIONS, said
    assert "folding from its start" not in said and "again" not in said, said
    assert "did not stop cleanly" not in third.read_text(), third.read_text()
