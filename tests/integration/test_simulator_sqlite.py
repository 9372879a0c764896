"""A simulated workload written through a real SQLite ledger: every event accepted, the chain
verifies, and a second run continues the first."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import typer
from typer.testing import CliRunner

from app.commands import simulate_cmds
from app.simulator.runner import Simulation
from ledger.application import DossierLedger
from ledger.audit import verify
from ledger.config import StoreConfig
from tests.conftest import WORKLOAD_START

RECORDED_AT = WORKLOAD_START + timedelta(days=10)


def sqlite_ledger(path: Path) -> DossierLedger:
    return DossierLedger(StoreConfig("sqlite", sqlite_path=path / "ledger.sqlite"),
                         clock=lambda: RECORDED_AT)


def test_a_small_run_is_accepted_verified_and_a_second_run_continues(tmp_path: Path) -> None:
    ledger = sqlite_ledger(tmp_path)
    start = WORKLOAD_START
    first = Simulation(ledger, seed=5, days=2, start=start, scale=0.01,
                       provinces=["22", "46"], clock=lambda: RECORDED_AT)
    began = time.perf_counter()
    summary = first.run()
    elapsed = time.perf_counter() - began
    assert summary.events_rejected == 0, summary.errors[:3]
    assert summary.events_written == summary.stats.events == ledger.max_position()
    assert summary.stats.dossiers > 50
    print(f"\n{summary.events_written} events in {elapsed:.2f} s "
          f"({summary.events_written / elapsed:,.0f} events/s including generation; "
          f"{summary.events_per_second:,.0f} events/s writing)")

    second = Simulation(ledger, seed=6, days=2, start=start, scale=0.01,
                        provinces=["22", "46"], clock=lambda: RECORDED_AT)
    assert second.shortened and second.start > first.start
    again = second.run()
    assert again.events_rejected == 0, again.errors[:3]
    assert again.stats.by_type["procedure.registered"] < summary.stats.by_type[
        "procedure.registered"]  # the catalogue is reused, only renewals are new
    assert "unit.registered" not in again.stats.by_type
    assert again.stats.dossiers > 5  # a weekend, perhaps: counters are closed
    report = verify(ledger)
    assert report.ok, report.summary()
    assert report.events == summary.events_written + again.events_written
    ledger.close()


def test_the_command_prints_a_json_summary(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOSSIER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DOSSIER_STORE", "sqlite")
    cli = typer.Typer()
    simulate_cmds.register(cli)
    cli.command("noop")(lambda: None)  # a group, as in the real CLI
    result = CliRunner().invoke(cli, ["simulate", "--days", "1", "--seed", "2", "-p", "22",
                                      "--start", "2026-10-05", "--json"])
    assert result.exit_code == 0, result.output
    assert '"events_rejected": 0' in result.output
    assert '"22"' in result.output
