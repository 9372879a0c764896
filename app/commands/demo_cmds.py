"""``dossier demo``: the main job on the embedded default — simulate, score live, rank."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.live import Live

from app.commands.live_hooks import open_olap
from app.demo import (
    DemoState,
    EngineScores,
    FollowerScores,
    LiveScores,
    ranking_json,
    ranking_table,
    run_demo,
)
from app.settings import Settings
from app.simulator.calibration import DEFAULT_SCALE
from app.simulator.runner import Simulation
from app.wiring import open_ledger_from_settings, store_config
from ledger.application import DossierLedger
from projections.clickhouse.writer import ClickHouseWriter
from streams.follower import Follower

console = Console(stderr=True)
SECONDS_PER_MINUTE_FOR_A_WEEK = 7 * 86400 / 60  # a simulated week in about a minute


def register(cli: typer.Typer) -> None:
    cli.command("demo")(demo_cmd)


def demo_cmd(
    days: Annotated[float, typer.Option(help="simulated days")] = 7.0,
    speed: Annotated[float, typer.Option(
        help="simulated seconds per real second (default: a week in about a minute; 0: as fast "
        "as possible)")
    ] = SECONDS_PER_MINUTE_FOR_A_WEEK,
    seed: Annotated[int, typer.Option(help="random seed of the workload")] = 0,
    scale: Annotated[float, typer.Option(help="share of real-world volume simulated")
                     ] = DEFAULT_SCALE,
    headless: Annotated[bool, typer.Option(
        help="plain progress lines instead of the live table; the final ranking as JSON on "
        "standard output (the `dossier rank --json` format)")] = False,
    olap: Annotated[bool, typer.Option(
        help="write the live scores to ClickHouse (chDB under the data directory)")] = True,
) -> None:
    """Simulate the 34 provinces' one-stop centres, score them live on the 100-point index
    and show the ranking refreshed as events arrive. A second run continues the same ledger."""
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = open_ledger_from_settings(settings)
    scores: LiveScores = live_scores(ledger, settings, olap)
    pace = speed if speed > 0 else None
    try:
        simulation = Simulation(ledger, seed=seed, days=days, scale=scale)
        if simulation.shortened:
            console.print("the ledger already holds a simulation; this run continues it from "
                          f"{simulation.start:%Y-%m-%d %H:%M}", highlight=False)
        if headless:
            state = run_demo(simulation, scores, speed=pace, on_refresh=_progress_line)
        else:
            with Live(console=console, refresh_per_second=4, transient=False) as live:
                state = run_demo(simulation, scores, speed=pace,
                                 on_refresh=lambda s: live.update(ranking_table(s)))
    finally:
        scores.close()
        ledger.close()
    _summary(state, settings)
    if headless:
        sys.stdout.buffer.write(orjson.dumps(ranking_json(state), option=orjson.OPT_INDENT_2))
        sys.stdout.buffer.write(b"\n")


def live_scores(ledger: DossierLedger, settings: Settings, olap: bool) -> LiveScores:
    """The demo's live scoring: the ClickHouse runner (chDB under the data directory, or the
    server of DOSSIER_CLICKHOUSE_URL), or, with --no-olap, scores in memory only."""
    if not olap:
        return EngineScores(ledger)
    client = open_olap(settings)
    follower = Follower(ledger, ClickHouseWriter(client),
                        pseudonym_key=settings.pseudonym_key.encode(), refresh_seconds=3600)
    return FollowerScores(follower, client.close)


def _progress_line(state: DemoState) -> None:
    leader = state.ranking[0] if state.ranking else None
    when = f"{state.sim_time:%Y-%m-%d %H:%M}" if state.sim_time else "—"
    best = f"{leader.unit_name} {leader.rounded_total:.2f}" if leader else "—"
    console.print(f"{when}  events {state.events:>8,}  dossiers {state.dossiers:>6,}  "
                  f"period {state.period}  #1 {best}", highlight=False)


def _summary(state: DemoState, settings: Settings) -> None:
    ranked = sum(1 for s in state.ranking if s.rank is not None)
    console.print(
        f"\n[bold]Done.[/bold] {state.events:,} events written this run "
        f"({state.dossiers:,} dossiers); {ranked} provinces ranked for {state.period}.\n"
        f"Ledger: {store_config(settings).describe()}\n"
        f"Scores: ClickHouse {settings.clickhouse_url or settings.olap_path} (tables "
        "score_history, rankings_current, dossier_facts, dossier_events)\n"
        f"Query:  dossier rank --kind province --period {state.period} [--json|--csv]\n"
        f"        dossier score --unit 22 --period {state.period}\n"
        f"        dossier explain --unit 22 --period {state.period} --indicator 2.1\n"
        f"        dossier live-rank -p {state.period}   (from ClickHouse)\n"
        f"Audit:  dossier verify · dossier verify --scores · dossier history <mã hồ sơ>\n"
        f"Replay: dossier replay [--as-of TIME]   (rebuilds ClickHouse from the ledger)\n"
        f"Run again to continue the same ledger (data dir: {settings.data_dir}).",
        highlight=False,
    )
