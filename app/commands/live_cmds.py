"""Live analytics commands: follow the ledger into ClickHouse, replay it, read live rankings."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import TaskID
from rich.table import Table

from app.commands.live_hooks import WRITE_TABLES, live_tables, open_olap
from app.commands.rankings import (
    check_ranking_options,
    nothing_to_rank,
    print_ranking,
    print_ranking_json,
    ranking_csv,
    ranking_title,
    rulebook_and_period,
)
from app.commands.stores import require_ledger
from app.console import fail, local_text, out, parse_moment, progress_bar
from app.settings import Settings
from app.wiring import open_ledger_from_settings, runner_signing_key
from ledger.checkpoints import SigningKey, SigningKeyError
from ledger.merkle import MissingNode
from ledger.proofs import ProofRefused
from projections.clickhouse.cluster import write_cluster_ddl
from projections.clickhouse.moments import (
    KINDS,
    MomentKind,
    drop_moment_tables,
    list_moment_tables,
    moment_suffix,
)
from projections.clickhouse.queries import StoredScore, ranked_periods, ranking_scores
from projections.clickhouse.schema import write_ddl_files
from projections.clickhouse.writer import ClickHouseWriter
from projections.periods import to_datetime, to_instant
from streams.follower import Cycle, Follower, wall_clock
from streams.rebuild import replay
from streams.snapshots import RUNNER_STATE, Snapshots

console = Console(stderr=True)


def register(cli: typer.Typer) -> None:
    cli.command("follow")(follow_cmd)
    cli.command("replay")(replay_cmd)
    cli.command("live-rank")(live_rank_cmd)
    cli.command("clickhouse-ddl")(ddl_cmd)


AsOf = Annotated[str | None, typer.Option(
    "--as-of", help="RFC 3339 moment or date (YYYY-MM-DD, its end in local time)")]


def follow_cmd(
    once: Annotated[bool, typer.Option("--once", help="stop when caught up with the ledger")]
    = False,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="evaluate every score at this fixed moment instead of the wall "
        "clock (reproducible runs and tests)")] = None,
    poll: Annotated[float, typer.Option(help="seconds between polls when idle")] = 0.2,
    refresh: Annotated[float, typer.Option(
        help="seconds between rescoring the current periods (deadlines pass)")] = 30.0,
    batch: Annotated[int, typer.Option(help="most events per write cycle")] = 5000,
    catch_up: Annotated[int, typer.Option(
        help="most events per cycle while the backlog exceeds twice --batch")] = 50_000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no per-cycle lines")] = False,
    no_checkpoints: Annotated[bool, typer.Option(
        "--no-checkpoints", help="do not sign checkpoints even with a signing key")] = False,
    snapshot_every: Annotated[float, typer.Option(
        help="seconds between snapshots of the runner's state (a restart folds only the "
        "events after the latest); 0: none", min=0.0)] = 60.0,
    keep_ended: Annotated[float, typer.Option(
        help="hours (of ledger time) a dossier that ended stays in memory after its last "
        "event; then, at a snapshot, it moves to the runner's store on disk",
        min=0.0)] = 1.0,
) -> None:
    """Theo dõi sổ cái: fold new ledger events into scores and write them to ClickHouse.
    With a signing key (dossier keys signing --new), a signed checkpoint covers every score
    row before it is written, and the row records its size."""
    settings = Settings()
    fixed = parse_moment(as_of) if as_of else None
    require_ledger(settings, doing="follow")
    client = open_olap(settings)
    ledger = open_ledger_from_settings(settings)
    backlog = _CatchUpBar()

    def report(cycle: Cycle) -> None:
        backlog.advance(cycle)
        if not quiet and (cycle.events or cycle.scores):
            console.print(f"{'refresh' if cycle.refresh else 'events'} "
                          f"{cycle.first_position}–{cycle.position}: {cycle.events} events, "
                          f"{cycle.scores} scores, {cycle.rows} rows in {cycle.seconds:.3f}s",
                          highlight=False)

    follower = Follower(ledger, ClickHouseWriter(client),
                        pseudonym_key=settings.pseudonym_key.encode(),
                        clock=(lambda: fixed) if fixed else wall_clock,
                        poll_seconds=poll, refresh_seconds=refresh, batch_events=batch,
                        catch_up_events=catch_up,
                        on_cycle=report,
                        signing_key=None if no_checkpoints else _signing_key(settings),
                        snapshots=Snapshots(settings.data_dir / RUNNER_STATE)
                        if snapshot_every else None,
                        snapshot_seconds=snapshot_every,
                        keep_ended_hours=keep_ended)
    try:
        with progress_bar() as progress:
            task = progress.add_task("rebuilding engine state", total=None)
            resumed = follower.resume(lambda n: progress.advance(task, n))
        head = ledger.max_position()
        for skipped in follower.snapshot_skipped:
            console.print(f"snapshot not used: {skipped}", style="dim", highlight=False)
        loaded = follower.resumed_from
        console.print(f"resumed at position {resumed} (ledger head {head})"
                      + (f" from the snapshot at {loaded.position}, "
                         f"{resumed - loaded.position} events folded after it"
                         if loaded else ""), highlight=False)
        backlog.start(resumed, head)
        follower.run(once=once)
    except KeyboardInterrupt:
        follower.stop()
    except (ProofRefused, MissingNode) as error:
        fail(f"not publishing scores: {error}", code=1)
    finally:
        backlog.stop()
        ledger.close()
        client.close()
    console.print(f"stopped at position {follower.position}")


class _CatchUpBar:
    """A progress bar over the backlog found at start (what the ledger holds beyond the
    resumed position), gone once the runner has caught up with it."""

    def __init__(self) -> None:
        self.progress = progress_bar()
        self.task: TaskID | None = None
        self.first = self.head = 0

    def start(self, resumed: int, head: int) -> None:
        if head > resumed:
            self.first, self.head = resumed, head
            self.task = self.progress.add_task("catching up", total=head - resumed)
            self.progress.start()

    def advance(self, cycle: Cycle) -> None:
        if self.task is not None and not cycle.refresh:
            self.progress.update(self.task, completed=min(cycle.position, self.head) - self.first)
            if cycle.position >= self.head:
                self.stop()

    def stop(self) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None


AsRecorded = Annotated[str | None, typer.Option(
    "--as-recorded", help="RFC 3339 moment or date: what the ledger knew then (the log up to "
    "the last event recorded by then), scored then — the ranking exactly as it was shown")]


def replay_cmd(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="RFC 3339 moment or date: what had happened by then (events whose "
        "time `at` is at or before it), scored then")] = None,
    as_recorded: AsRecorded = None,
    list_: Annotated[bool, typer.Option(
        "--list", help="list the tables rebuilt as of a moment")] = False,
    remove: Annotated[bool, typer.Option(
        "--remove", help="drop the tables rebuilt with the --as-of/--as-recorded given")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="--list as JSON")] = False,
) -> None:
    """Dựng lại: rebuild every ClickHouse table from the ledger and swap the live ones for
    them. With --as-of or --as-recorded the live tables are left alone: the rebuild goes
    into tables of its own, named after the moment, that `live-rank` reads with the same
    option; --list shows them and --remove drops them."""
    if as_of is not None and as_recorded is not None:
        fail("give --as-of or --as-recorded, not both")
    settings = Settings()
    if list_:
        _list_moments(settings, as_json)
        return
    kind, moment = _moment(as_of, as_recorded)
    if remove:
        if kind is None or moment is None:
            fail("--remove needs the --as-of or --as-recorded moment of the tables to drop")
        client = open_olap(settings)
        try:
            dropped = drop_moment_tables(client, moment_suffix(kind, moment))
        finally:
            client.close()
        if not dropped:
            fail(f"no tables rebuilt {KINDS[kind]} {local_text(moment)}")
        console.print(f"đã xoá {dropped} bảng {KINDS[kind]} {local_text(moment)}",
                      highlight=False)
        return
    require_ledger(settings, doing="replay")
    client = open_olap(settings)
    ledger = open_ledger_from_settings(settings)
    try:
        with progress_bar() as progress:
            tasks: dict[str, TaskID] = {}

            def advance(stage: str, n: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(f"replaying {stage}", total=total)
                progress.update(tasks[stage], advance=n, total=total)

            result = replay(ledger, client, pseudonym_key=settings.pseudonym_key.encode(),
                            as_of=moment if kind == "asof" else None,
                            as_recorded=moment if kind == "asrec" else None,
                            progress=advance, state_dir=settings.data_dir / RUNNER_STATE)
    finally:
        ledger.close()
        client.close()
    rate = result.events / result.seconds if result.seconds else 0.0
    console.print(f"replayed {result.events} events to position {result.position}: "
                  f"{result.scores} scores, {result.rows} rows in {result.seconds:.2f}s "
                  f"({rate:,.0f} events/s), evaluated at {local_text(result.as_of)}",
                  highlight=False)
    if kind is None or moment is None:
        console.print("the live tables now hold the rebuild", highlight=False)
    else:
        console.print(f"into tables of their own (the live ones are unchanged); read them "
                      f"with: dossier live-rank -p PERIOD {KINDS[kind]} {moment.isoformat()}",
                      highlight=False)
    console.print("time per stage: " + ", ".join(
        f"{stage} {seconds:.2f}s" for stage, seconds in result.stages.items()), style="dim")


def _signing_key(settings: Settings) -> SigningKey | None:
    try:
        return runner_signing_key(settings)
    except SigningKeyError as error:
        fail(f"{settings.signing_key_path}: {error}")


def _moment(as_of: str | None, as_recorded: str | None
            ) -> tuple[MomentKind | None, datetime | None]:
    if as_of is not None:
        return "asof", parse_moment(as_of)
    if as_recorded is not None:
        return "asrec", parse_moment(as_recorded, option="--as-recorded")
    return None, None


def _list_moments(settings: Settings, as_json: bool) -> None:
    client = open_olap(settings)
    try:
        found = list_moment_tables(client)
    finally:
        client.close()
    if as_json:
        out.print_json(data=[{"option": m.option, "moment": local_text(m.moment),
                              "suffix": m.suffix, "position": m.position,
                              "scores": m.scores} for m in found])
        return
    if not found:
        console.print("no tables rebuilt as of a moment (dossier replay --as-of T makes one)")
        return
    table = Table(title="Bảng dựng lại theo thời điểm")
    for column in ("option", "thời điểm", "vị trí", "điểm số"):
        table.add_column(column, no_wrap=True)
    for m in found:
        table.add_row(m.option, local_text(m.moment), str(m.position), str(m.scores))
    out.print(table)


def live_rank_cmd(
    period: Annotated[str, typer.Option(
        "--period", "-p", help="month 2026-10, quarter 2026-Q4 or year 2026 (local time)")],
    kind: Annotated[str, typer.Option("--kind", "-k", help="province, department or commune")]
    = "province",
    province: Annotated[str | None, typer.Option(
        "--province", help="only the departments or communes of this province")] = None,
    rulebook: Annotated[str, typer.Option(
        "--rulebook", "-r", help="rulebook id (vn-766, vn-766-online12)")] = "vn-766",
    as_json: Annotated[bool, typer.Option(
        "--json", help="print JSON: `rank --json` objects with their ledger position")] = False,
    as_csv: Annotated[bool, typer.Option(
        "--csv", help="print CSV: `rank --csv` columns, then as_of and position")] = False,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="read the tables `dossier replay --as-of` rebuilt for this moment "
        "(what had happened by then)")] = None,
    as_recorded: Annotated[str | None, typer.Option(
        "--as-recorded", help="read the tables `dossier replay --as-recorded` rebuilt for "
        "this moment (the ranking as it was shown then)")] = None,
) -> None:
    """Bảng xếp hạng trực tiếp: the ranking as stored in ClickHouse (by `dossier follow` or
    `dossier replay`), with the moment and the ledger position it reflects; with --as-of or
    --as-recorded, the ranking a replay rebuilt for that moment."""
    check_ranking_options(kind, province, as_json, as_csv)
    book, span = rulebook_and_period(rulebook, period)
    if as_of is not None and as_recorded is not None:
        fail("give --as-of or --as-recorded, not both")
    moment_kind, moment = _moment(as_of, as_recorded)
    suffix, hint, hint_of = "", WRITE_TABLES, ""
    if moment_kind is not None and moment is not None:
        option = KINDS[moment_kind]
        suffix = moment_suffix(moment_kind, moment)
        hint_of = f"{option} {local_text(moment)}"
        hint = (f"no tables were rebuilt {option} {local_text(moment)}: run `dossier replay "
                f"{option} {moment.isoformat()}` first (`dossier replay --list` shows those "
                "that exist)")
    with live_tables(Settings(), hint=hint) as client:
        stored = ranking_scores(client, period=span.key, kind=kind, rulebook=book.id,
                                province=province, suffix=suffix)
        held = [] if stored else ranked_periods(client, kind=kind, rulebook=book.id,
                                                suffix=suffix)
    if not stored:
        where = "in the live tables" if not suffix else f"in the tables rebuilt {hint_of}"
        nothing_to_rank(kind, span.key, province, where + (
            f" (they hold {kind} rankings for {', '.join(held)})" if held else ""))
    rows = [_live_row(s) for s in stored]
    if as_json:
        print_ranking_json(rows)
    elif as_csv:
        print(ranking_csv(rows, extra=("as_of", "position", "checkpoint")), end="")
    else:
        shown_at = max(datetime.fromisoformat(row["as_of"]) for row in rows)
        evaluated = to_datetime(span.evaluation_time(to_instant(shown_at)))
        heading = "Bảng xếp hạng trực tiếp" if not suffix else (
            "Bảng xếp hạng dựng lại " + ("theo thời điểm" if moment_kind == "asof"
                                          else "như đã hiển thị"))
        print_ranking(rows, title=ranking_title(kind, span.key, evaluated, province,
                                                heading=heading),
                      caption=f"{book.id}@{book.version} · theo sổ cái đến vị trí "
                              f"{max(s.position for s in stored)} · ClickHouse",
                      province=province)


def _live_row(stored: StoredScore) -> dict[str, Any]:
    """A stored score as ``rank --json`` prints it, its moment in local time, the ledger
    position it reflects and the signed checkpoint covering it (null: none)."""
    as_of = local_text(datetime.fromisoformat(stored.score["as_of"]))
    return stored.score | {"as_of": as_of, "position": stored.position,
                           "checkpoint": stored.checkpoint or None}


def ddl_cmd(
    directory: Annotated[Path, typer.Argument(help="where to write the .sql files")]
    = Path("deploy/clickhouse"),
) -> None:
    """Write the ClickHouse DDL for servers from the schema module: one .sql file per table,
    and under cluster/ the replicated local tables with the distributed ones over them."""
    for path in [*write_ddl_files(directory), *write_cluster_ddl(directory / "cluster")]:
        console.print(f"wrote {path}")
