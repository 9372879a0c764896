"""``dossier stream relay`` killed (SIGKILL) at random moments while the ledger keeps growing,
and restarted each time: every event reaches the topic, none is skipped, each aggregate's
events stay in order, and the acknowledged position is never ahead of what the topic holds."""

from __future__ import annotations

import random
import signal
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path

from app.simulator.runner import Simulation
from ledger.application import DossierLedger
from ledger.config import StoreConfig
from streams.relay_tracking import TABLE
from tests.conftest import WORKLOAD_START
from tests.integration.test_clickhouse_live import simulate
from tests.kafka.checks import acked_on_topic, keys_keep_order, ledger_positions
from tests.kafka.conftest import (
    TOPIC,
    Broker,
    lines_of,
    read_topic,
    spawn_relay,
    stream,
    wait_for,
)

KILLS = 6


class Appender(threading.Thread):
    """Keeps appending a simulated workload, a small batch at a time, until stopped."""

    def __init__(self, data_dir: Path, provinces: tuple[str, ...] = ("22", "01"),
                 scale: float = 0.012) -> None:
        super().__init__(daemon=True)
        self.data_dir = data_dir
        self.provinces = provinces
        self.scale = scale
        self.stopping = threading.Event()
        self.appended = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        clock_at = WORKLOAD_START + timedelta(days=6)
        ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=self.data_dir / "ledger.sqlite"),
                               clock=lambda: clock_at)
        try:
            simulation = Simulation(ledger, seed=1, days=2, scale=self.scale,
                                    start=WORKLOAD_START + timedelta(days=3),
                                    provinces=list(self.provinces), batch_size=10,
                                    clock=lambda: clock_at)
            for report in simulation.iter_run():
                self.appended += len(report.recorded)
                time.sleep(0.05)  # not a timed wait on the event: libfaketime never ends one
                if self.stopping.is_set():
                    return
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            ledger.close()


def acknowledged(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "ledger.sqlite") as db:
        made = db.execute("SELECT count(*) FROM sqlite_master WHERE name = ?", (TABLE,))
        if not made.fetchone()[0]:
            return 0
        row = db.execute(f"SELECT position FROM {TABLE} WHERE topic = ?", (TOPIC,)).fetchone()
    return int(row[0]) if row else 0


def test_a_killed_relay_resumes_without_skipping(tmp_path: Path, broker: Broker) -> None:
    simulate(tmp_path, scale=0.002, days=1)
    appender = Appender(tmp_path)
    appender.start()
    rng = random.Random(11)
    history: list[int] = []
    heads: list[int] = []
    try:
        for _ in range(KILLS):
            relay = spawn_relay(tmp_path, broker.url, "--batch", "25", "--poll", "0.05")
            lines = lines_of(relay)
            for _ in range(rng.randint(1, 8)):  # then the next batch is likely in flight
                wait_for(lines, r"^published ")
            time.sleep(rng.uniform(0, 0.04))
            relay.send_signal(signal.SIGKILL)
            relay.wait()
            history.append(acknowledged(tmp_path))
            positions = ledger_positions(tmp_path)
            heads.append(positions[-1])
            acked_on_topic(history[-1], positions, read_topic(broker.url))
    finally:
        appender.stopping.set()
        deadline = time.monotonic() + 60
        while appender.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert appender.error is None, appender.error
    assert appender.appended > 0
    print(f"\nacknowledged position / ledger head at each kill: "
          f"{list(zip(history, heads, strict=True))}; {appender.appended} events appended")
    assert history == sorted(history)
    assert len(set(history)) >= 3, "the relay made too little progress between kills"
    assert all(a <= h for a, h in zip(history, heads, strict=True))

    final = stream(tmp_path, broker.url, "relay", "--once", "--batch", "500")
    assert final.returncode == 0, final.stderr
    expected = ledger_positions(tmp_path)
    records = read_topic(broker.url)
    on_topic = sorted({r.position for r in records})
    assert on_topic == expected, "an event is missing, or one was published that is not one"
    keys_keep_order(records)
    assert acknowledged(tmp_path) == expected[-1]
    print(f"{len(records)} records for {len(expected)} events "
          f"({len(records) - len(expected)} repeats after kills)")
