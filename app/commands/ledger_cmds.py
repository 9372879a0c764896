"""Ledger commands: record, import, export, verify, history."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.console import fail, parse_moment, progress_bar
from app.wiring import open_ledger_from_settings
from domain.base import LedgerRuleError
from domain.calendar import LOCAL_TZ
from ledger.audit import History, history, verify
from ledger.errors import LedgerError
from ledger.transfer import import_lines, write_export
from ledger.wire import WireError

console = Console(stderr=True)
out = Console()


def register(cli: typer.Typer) -> None:
    cli.command("record")(record_cmd)
    cli.command("import")(import_cmd)
    cli.command("export")(export_cmd)
    cli.command("verify")(verify_cmd)
    cli.command("history")(history_cmd)


def record_cmd(
    event: Annotated[str, typer.Argument(help="the action as JSON ({type, id, at, data}), "
                                         "or - to read it from standard input")],
    idempotency_key: Annotated[str | None, typer.Option(
        "--idempotency-key", "-k", help="repeat-safe key: the same key and action record once")
    ] = None,
) -> None:
    """Record one action (a wire-format event) and print where it landed, as JSON."""
    text = sys.stdin.read() if event == "-" else event
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        fail(f"not valid JSON: {error}")
    if not isinstance(raw, dict):
        fail("the action must be a JSON object")
    ledger = open_ledger_from_settings()
    try:
        recorded = ledger.record(raw, idempotency_key=idempotency_key)
    except (WireError, LedgerRuleError, LedgerError) as error:
        fail(str(error))
    finally:
        ledger.close()
    out.print_json(data=recorded.as_dict())


def import_cmd(
    file: Annotated[Path, typer.Argument(help="a .jsonl file of events (docs/events.md)",
                                         exists=True, dir_okay=False, readable=True)],
) -> None:
    """Append a file of events, all or nothing: one bad line rejects the whole file."""
    ledger = open_ledger_from_settings()
    lines = file.read_bytes().splitlines(keepends=True)
    try:
        with progress_bar() as progress:
            task = progress.add_task("importing", total=len(lines))
            result = import_lines(ledger, lines,
                                  progress=lambda n: progress.advance(task, n))
    except LedgerError as error:
        fail(str(error))
    finally:
        ledger.close()
    if result.already_imported:
        console.print(f"{file}: already imported (same content); nothing recorded")
    else:
        console.print(f"imported {result.events} events from {file} "
                      f"(positions {result.first_position}–{result.last_position})")


def export_cmd(
    since: Annotated[int, typer.Option(help="only events after this position")] = 0,
) -> None:
    """Write the ledger's events as JSON lines on standard output, with position,
    recorded_at, prev_hash and hash."""
    ledger = open_ledger_from_settings()
    try:
        write_export(ledger, sys.stdout.buffer, since=since)
        sys.stdout.buffer.flush()
    finally:
        ledger.close()


def verify_cmd(
    scores: Annotated[bool, typer.Option(
        "--scores", help="recompute the score rows in ClickHouse from the ledger")] = False,
) -> None:
    """Re-hash every stored event and its chain; exit 1 naming the first altered event."""
    if scores:
        from app.commands import live_hooks

        live_hooks.verify_scores()
        return
    ledger = open_ledger_from_settings()
    try:
        with progress_bar() as progress:
            task = progress.add_task("verifying", total=ledger.max_position())
            report = verify(ledger, progress=lambda n: progress.advance(task, n))
    finally:
        ledger.close()
    if report.ok:
        out.print(report.summary())
    else:
        out.print(f"[red]{escape(report.summary())}[/red]")
        raise typer.Exit(1)


def history_cmd(
    dossier: Annotated[str, typer.Argument(help="the dossier's id or code (mã hồ sơ)")],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="show the dossier as it stood then (RFC 3339 or YYYY-MM-DD)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """A dossier's timeline and its state (status, due date, open supplement, late so far)."""
    moment = parse_moment(as_of)
    ledger = open_ledger_from_settings()
    try:
        result = history(ledger, dossier, moment)
    except LedgerError as error:
        fail(str(error))
    finally:
        ledger.close()
    if as_json:
        out.print_json(data=result.as_dict())
    else:
        _show_history(result)


def _show_history(result: History) -> None:
    table = Table(title=f"Hồ sơ {result.code} ({result.dossier_id}) — as of "
                  f"{result.as_of.isoformat(timespec='seconds')}")
    table.add_column("#", justify="right")
    table.add_column("pos.", justify="right")
    table.add_column("sự kiện / event", no_wrap=True)
    table.add_column("at", no_wrap=True)
    table.add_column("recorded_at", no_wrap=True)
    table.add_column("data", overflow="fold")
    table.add_column("hash", no_wrap=True)
    for e in result.events:
        table.add_row(str(e["seq"]), str(e.get("position") or ""), e["type"].split(".", 1)[1],
                      _local(e["at"]), _local(e["recorded_at"]), _short(e["data"]),
                      e["hash"][:10])
    out.print(table)
    state = Table(title="Trạng thái / state", show_header=False)
    for key, value in result.state.items():
        state.add_row(key, "—" if value is None else str(value))
    out.print(state)


def _local(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def _short(data: dict[str, Any]) -> str:
    if "components" in data:
        data = {k: v for k, v in data.items() if k != "components"} | {
            "components": len(data["components"])}
    text = ", ".join(f"{k}={v}" for k, v in data.items())
    return text if len(text) < 90 else text[:87] + "…"


