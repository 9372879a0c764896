"""``dossier simulate``: write a seeded, calibrated workload for the 34 provinces."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from app.commands.labels import status_label
from app.console import Col, err, fail, fitted_table, local_time, out, parse_moment, say
from app.simulator.calibration import DEFAULT_SCALE, POPULATION_THOUSANDS
from app.simulator.runner import BatchReport, Simulation, SimulationSummary
from app.wiring import open_ledger_from_settings
from domain.units import builtin_units

console = err


def register(cli: typer.Typer) -> None:
    cli.command("simulate")(simulate_cmd)


def simulate_cmd(
    days: Annotated[float, typer.Option(help="simulated days")] = 7.0,
    seed: Annotated[int, typer.Option(help="random seed: the same seed, the same workload")] = 0,
    speed: Annotated[float | None, typer.Option(
        help="simulated seconds per real second (default: as fast as possible)")] = None,
    scale: Annotated[float, typer.Option(
        help="dossiers per real-world dossier (default: a week ≈ 3,000 dossiers)")
    ] = DEFAULT_SCALE,
    start: Annotated[str | None, typer.Option(
        help="first simulated moment (YYYY-MM-DD or RFC 3339; default: DAYS days ago)")] = None,
    province: Annotated[list[str] | None, typer.Option(
        "--province", "-p", help="only this province (official 2-digit code); repeatable")
    ] = None,
    follow: Annotated[bool, typer.Option(
        help="keep going past the real clock, in step with it, until DAYS are simulated")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Simulate dossiers, petitions and the procedure catalogue of the 34 provinces, written
    through the ledger. The simulated clock never passes the real clock: it stops there
    (or, with --follow, keeps pace with it); a later run continues after the last event."""
    codes = _provinces(province)
    ledger = open_ledger_from_settings()
    try:
        try:
            simulation = Simulation(ledger, seed=seed, days=days, scale=scale,
                                    start=_parse_start(start), provinces=codes,
                                    end_at_now=not follow)
        except ValueError as error:
            fail(str(error))
        if simulation.shortened:
            console.print(f"sổ cái đã có sự kiện đến {local_time(simulation.start)}; lần "
                          "chạy này tiếp tục từ đó", highlight=False)
        summary = _run_with_progress(simulation, speed)
    finally:
        ledger.close()
    if as_json:
        out.print_json(data=summary.as_dict())
    else:
        _show(summary)


def _run_with_progress(simulation: Simulation, speed: float | None) -> SimulationSummary:
    span = max(1.0, (simulation.end - simulation.start).total_seconds())
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.fields[events]:>8,} events  {task.fields[dossiers]:>7,} "
                             "dossiers"), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal
                  ) as progress:
        task = progress.add_task("mô phỏng", total=span, events=0, dossiers=0)

        def advance(report: BatchReport) -> None:
            done = (report.sim_time - simulation.start).total_seconds()
            progress.update(task, completed=done, description=local_time(report.sim_time),
                            events=simulation.summary.events_written,
                            dossiers=report.stats.dossiers)

        return simulation.run(speed=speed, on_batch=advance)


def _show(summary: SimulationSummary) -> None:
    data = summary.as_dict()
    say(f"Đã mô phỏng từ {local_time(summary.start)} đến {local_time(summary.end)} "
        f"(hạt giống {summary.seed}, tỷ lệ {summary.scale:g}): "
        f"{_count(summary.events_written)} sự kiện, {_count(summary.stats.dossiers)} hồ sơ, "
        f"{_count(summary.events_rejected)} sự kiện bị từ chối, ghi "
        f"{_count(round(summary.events_per_second))} sự kiện/giây")
    statuses = [[status_label(status), _count(count)]
                for status, count in data["dossiers_by_status"].items()]
    if statuses:
        out.print(fitted_table([Col("Trạng thái", fold_to=16), Col("Số hồ sơ", numeric=True)],
                               statuses, title="Hồ sơ theo trạng thái"))
    names = builtin_units()
    provinces = [[code, names[code].name, _count(counts["dossiers"]), _count(counts["events"])]
                 for code, counts in data["provinces"].items()]
    out.print(fitted_table([Col("Mã", whole=True), Col("Tỉnh, thành phố", fold_to=12),
                            Col("Hồ sơ", numeric=True), Col("Sự kiện", numeric=True)],
                           provinces, title="Theo tỉnh, thành phố"))
    for message in summary.errors[:5]:
        console.print(f"[yellow]bị từ chối:[/yellow] {escape(message)}", highlight=False)


def _count(number: int) -> str:
    """A count as written in Vietnamese: 12.345 (a dot between thousands)."""
    return f"{number:,}".replace(",", ".")


def _provinces(codes: list[str] | None) -> list[str] | None:
    if not codes:
        return None
    normalised = [f"{int(c):02d}" if c.isdigit() else c for c in codes]
    unknown = [c for c in normalised if c not in POPULATION_THOUSANDS]
    if unknown:
        fail(f"unknown province code(s): {', '.join(unknown)} (use the official 2-digit codes, "
             "e.g. 22 for Quảng Ninh)")
    return normalised


def _parse_start(text: str | None) -> datetime | None:
    if text is None:
        return None
    return parse_moment(text, option="--start", day_end=False)
