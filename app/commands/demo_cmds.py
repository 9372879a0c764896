"""``dossier demo``: the main job on the embedded default — simulate, score live, rank."""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from app.commands.live_hooks import open_olap
from app.console import fail, local_text
from app.demo import (
    DemoState,
    EngineScores,
    FollowerScores,
    LiveScores,
    ranking_json,
    ranking_table,
    run_demo,
)
from app.settings import Settings, Store
from app.simulator.calibration import DEFAULT_SCALE
from app.simulator.runner import Simulation
from app.wiring import open_ledger_from_settings, store_config
from domain.calendar import LOCAL_TZ, local_date
from ledger.application import DossierLedger
from projections.clickhouse.writer import ClickHouseWriter
from streams.follower import Follower

console = Console(stderr=True)
WORKING_DAYS = 5  # the demo replays the last five working days up to now
BUSY_HOURS_PER_DAY = 11  # one-stop counters and their back offices, 07:00–18:00
DEMO_SECONDS = 60  # the busy hours of those days take about a minute
IDLE_GAP = timedelta(minutes=20)  # nights, weekends and holidays flash by
MARKER = "DEMO"  # written into a data directory the demo created


def register(cli: typer.Typer) -> None:
    cli.command("demo")(demo_cmd)


def demo_cmd(
    days: Annotated[float | None, typer.Option(
        help="simulated days up to now (default: back to the start of the fifth working "
        "day before now, so that a run on a Sunday night or after a holiday still shows "
        "working days)")] = None,
    speed: Annotated[float | None, typer.Option(
        help="simulated seconds per real second (default: the working hours in about a "
        "minute; 0: as fast as possible); nights and weekends are skipped over")] = None,
    seed: Annotated[int, typer.Option(help="random seed of the workload")] = 0,
    scale: Annotated[float, typer.Option(help="share of real-world volume simulated")
                     ] = DEFAULT_SCALE,
    headless: Annotated[bool, typer.Option(
        help="plain progress lines instead of the live table; the final ranking as JSON on "
        "standard output (the `dossier rank --json` format)")] = False,
    olap: Annotated[bool, typer.Option(
        help="write the live scores to ClickHouse (chDB under the data directory)")] = True,
    fresh: Annotated[bool, typer.Option(
        help="start a new demo ledger: clears a data directory that an earlier demo made "
        "(refuses any other)")] = False,
    page: Annotated[bool, typer.Option(
        "--page/--no-page", help="serve the live ranking page while the demo runs (not with "
        "--headless or --no-olap)")] = True,
    port: Annotated[int, typer.Option(
        help="port of the live page on localhost (another, free one when it is taken)")]
    = 8000,
) -> None:
    """Simulate the 34 provinces' one-stop centres, score them live on the 100-point index
    and show the ranking refreshed as events arrive. A second run continues the same ledger
    (it can add only what happened since the first: the ledger refuses actions from the
    future); --fresh starts a new one."""
    settings = Settings()
    if fresh:
        _clear_demo(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = open_ledger_from_settings(settings)
    if ledger.max_position() == 0 and settings.ledger_store is Store.SQLITE:
        (settings.data_dir / MARKER).write_text(
            "This data directory was made by `dossier demo`; `dossier demo --fresh` may "
            "clear it.\n", encoding="utf-8")
    now = datetime.now(UTC)
    start = now - timedelta(days=days) if days else _working_days_back(ledger, now)
    span = (now - start).days + 1 if days is None else days
    simulation = Simulation(ledger, seed=seed, days=span, start=start, scale=scale)
    worked = simulation.end - simulation.start if days else _office_time(
        ledger, simulation.start, simulation.end)  # --days: the window asked for, as it is
    if worked < (timedelta(minutes=1) if days else timedelta(hours=1)):
        ledger.close()
        fail(f"the ledger already reaches now (its last event is at "
             f"{local_text(simulation.start)}, and the offices have not worked an hour "
             "since): the demo cannot simulate the future, so a run right after another "
             f"has nothing to add. Start a new demo ledger with `{_dossier()} demo --fresh`, "
             "or wait.", code=1)
    if simulation.shortened:
        console.print("sổ cái đã có dữ liệu mô phỏng; lần chạy này tiếp tục từ "
                      f"{local_text(simulation.start)}", highlight=False)
    pace = _speed(ledger, simulation, speed)
    scores: LiveScores = live_scores(ledger, settings, olap)
    stop_page, url = lambda: None, None
    if page and not headless and isinstance(scores, FollowerScores):
        stop_page, url = _serve_page(settings, scores, port)
    try:
        if headless:
            state = run_demo(simulation, scores, speed=pace, on_refresh=_progress_line,
                             idle_gap=IDLE_GAP)
        else:
            # As many rows as the terminal holds: a taller table could not be cleared.
            rows = max(5, console.height - (12 if url else 10))
            with Live(console=console, refresh_per_second=4, transient=True) as live:
                state = run_demo(simulation, scores, speed=pace, idle_gap=IDLE_GAP,
                                 on_refresh=lambda s: live.update(_with_page(
                                     ranking_table(s, rows), url)))
    finally:
        stop_page()
        scores.close()
        ledger.close()
    if headless:
        _summary(state, settings)
        sys.stdout.buffer.write(orjson.dumps(ranking_json(state), option=orjson.OPT_INDENT_2))
        sys.stdout.buffer.write(b"\n")
    else:
        # the final ranking's top rows stay on screen above the summary's dozen lines
        console.print(ranking_table(state, top=max(3, console.height - SUMMARY_LINES),
                                    dossier=_dossier()))
        _summary(state, settings)


SUMMARY_LINES = 20  # the summary, the table's title, header, caption and legend


def _with_page(table: Group, url: str | None) -> Group:
    """The live table, and under it the address of the page that shows the same ranking."""
    if url is None:
        return table
    return Group(table, Text(f"Trang xếp hạng trực tiếp: {url}", style="bold"))


def _serve_page(settings: Settings, scores: FollowerScores, port: int
                ) -> tuple[Callable[[], None], str | None]:
    """The live page and API served from this process while the demo runs (it owns chDB):
    reads of ClickHouse take the runner's lock. Returns how to stop it, and its address
    (None, with a note, when it cannot be served)."""
    from app.api.keys import KeyStore
    from app.api.server import keys_path, serve_in_thread
    from app.api.state import ApiState

    api_ledger = open_ledger_from_settings(settings)
    state = ApiState(ledger=api_ledger, keys=KeyStore(keys_path(settings)),
                     clock=lambda: datetime.now(UTC),
                     olap=scores.follower.writer.client, lock=scores.lock)
    for candidate in (port, _free_port()):
        try:
            stop = serve_in_thread(state, "127.0.0.1", candidate)
        except OSError:
            continue

        def stop_all(stop: Callable[[], None] = stop) -> None:
            stop()
            api_ledger.close()

        return stop_all, f"http://localhost:{candidate}/"
    api_ledger.close()
    console.print("trang trực tiếp không mở được (không có cổng trống)", highlight=False)
    return lambda: None, None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _working_days_back(ledger: DossierLedger, now: datetime) -> datetime:
    """07:00 local of the fifth working day before now (today counts when it is one)."""
    calendar = ledger.calendar
    day = local_date(now)
    if not calendar.is_working_day(day):
        day = calendar.previous_working_day(day)
    for _ in range(WORKING_DAYS - 1):
        day = calendar.previous_working_day(day)
    return datetime.combine(day, time(7, 0), tzinfo=LOCAL_TZ)


def _office_time(ledger: DossierLedger, start: datetime, end: datetime) -> timedelta:
    """How much of [start, end] falls in office hours (07:00–18:00 of working days)."""
    total = timedelta()
    day = local_date(start)
    while day <= local_date(end):
        if ledger.calendar.is_working_day(day):
            opens = datetime.combine(day, time(7, 0), tzinfo=LOCAL_TZ)
            closes = opens + timedelta(hours=BUSY_HOURS_PER_DAY)
            total += max(timedelta(), min(end, closes) - max(start, opens))
        day += timedelta(days=1)
    return total


def _speed(ledger: DossierLedger, simulation: Simulation, speed: float | None
           ) -> float | None:
    if speed is not None:
        return speed if speed > 0 else None
    calendar = ledger.calendar
    first, last = local_date(simulation.start), local_date(simulation.end)
    working = sum(calendar.is_working_day(first + timedelta(days=i))
                  for i in range((last - first).days + 1))
    busy = max(1, working) * BUSY_HOURS_PER_DAY * 3600
    return busy / DEMO_SECONDS


def _clear_demo(settings: Settings) -> None:
    """Remove what an earlier demo left in the data directory, and nothing else."""
    directory = settings.data_dir
    if not directory.exists():
        return
    if settings.ledger_store is not Store.SQLITE:
        fail("--fresh clears only the embedded SQLite ledger of a demo; the ledger here is "
             f"{settings.ledger_store.value}")
    held = {p.name for p in directory.iterdir()}
    if held and MARKER not in held:
        fail(f"--fresh refuses to clear {directory}: it was not made by `dossier demo` (no "
             f"{MARKER} file in it). Point DOSSIER_DATA_DIR at another directory.")
    for name in held:
        path = directory / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    console.print(f"đã xoá dữ liệu demo cũ trong {directory}", highlight=False)


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
    when = local_text(state.sim_time)[:16] if state.sim_time else "—"
    best = f"{leader.unit_name} {leader.rounded_total:.2f}" if leader else "—"
    console.print(f"{when}  sự kiện {state.events:>8,}  hồ sơ {state.dossiers:>6,}  "
                  f"kỳ {state.period}  #1 {best}", highlight=False)


def _dossier() -> str:
    """How to run ``dossier`` from here: the bare name when it is on PATH, else the path of
    the one running now (``.venv/bin/dossier`` from the project's folder)."""
    if shutil.which("dossier"):
        return "dossier"
    running = Path(sys.argv[0])
    if running.name != "dossier":
        running = Path(sys.executable).with_name("dossier")
    try:
        return str(running.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(running.resolve())


def _summary(state: DemoState, settings: Settings) -> None:
    ranked = sum(1 for s in state.ranking if s.rank is not None)
    d, p = _dossier(), state.period
    lines = [
        f"[bold]Xong.[/bold] {state.events:,} sự kiện, {state.dossiers:,} hồ sơ; "
        f"{ranked} tỉnh được xếp hạng kỳ {p}.",
        f"Sổ cái: {store_config(settings).describe()}",
        f"Điểm số: ClickHouse {settings.clickhouse_url or settings.olap_path}",
    ]
    if settings.data_dir != Path("data"):
        lines.append(f"Trước các lệnh: export DOSSIER_DATA_DIR={settings.data_dir}")
    lines += [
        f"Xem:      {d} live-rank -p {p}",
        f"          {d} rank -p {p} --csv",
        f"          {d} explain --unit 22 -p {p} --indicator 2.1",
        f"Kiểm tra: {d} verify --scores",
        f"          {d} history <mã hồ sơ>",
        f"Dựng lại: {d} replay [--as-of T | --as-recorded T]",
        f"Trang web: {d} serve → http://localhost:8000/",
        "Chạy lại `make demo` để mô phỏng lại từ đầu (dữ liệu demo cũ được xoá).",
    ]
    console.print("\n".join(lines), highlight=False, soft_wrap=True)
