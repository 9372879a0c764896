"""Ledger commands: record, import, export, verify, history."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from eventsourcing.persistence import DatabaseError
from rich.markup import escape

from app.commands import labels
from app.commands.stores import ledger_to_read, require_ledger
from app.console import (
    AsOfOption,
    AsRecordedOption,
    Col,
    err,
    fail,
    fitted_table,
    local_time,
    one_line,
    out,
    parse_moments,
    progress_bar,
    say,
)
from app.settings import Settings
from app.wiring import open_ledger_from_settings
from domain.base import LedgerRuleError
from ledger.audit import NOT_COVERED, Anchor, History, history, verify
from ledger.errors import LedgerError
from ledger.transfer import import_lines, write_export
from ledger.wire import JsonError, WireError, decode_json

console = err


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
    text = sys.stdin.buffer.read() if event == "-" else event
    try:
        raw = decode_json(text)
    except JsonError as error:
        fail(f"[json] {error}")
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

    def lines() -> Iterator[bytes]:  # streamed: read once for its hash, once to apply it
        with file.open("rb") as stream:
            yield from stream

    try:
        with progress_bar() as progress:
            task = progress.add_task("importing", total=sum(1 for _ in lines()))
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
    ledger = ledger_to_read(doing="export")
    try:
        write_export(ledger, sys.stdout.buffer, since=since)
        sys.stdout.buffer.flush()
    finally:
        ledger.close()


def verify_cmd(
    scores: Annotated[bool, typer.Option(
        "--scores", help="recompute the score rows in ClickHouse from the ledger")] = False,
    checkpoint: Annotated[Path | None, typer.Option(
        help="also check the log against this signed checkpoint, kept outside the ledger",
        dir_okay=False)] = None,
    key: Annotated[str | None, typer.Option(
        help="the published verifier key (or its file) that signed --checkpoint; default: "
             "the one of the signing key in the settings")] = None,
) -> None:
    """Re-hash every stored event and its chain, and check the Merkle tree at every
    checkpoint (the ledger's own, and --checkpoint); exit 1 naming the first problem."""
    if scores:
        from app.commands import live_hooks

        settings = Settings()
        require_ledger(settings, doing="verify")
        live_hooks.refuse_missing_olap(settings)
        with live_hooks.missing_tables_refused(settings):
            live_hooks.verify_scores()
        return
    outside = [] if checkpoint is None else [_outside_anchor(checkpoint, key)]
    try:
        ledger = ledger_to_read(doing="verify")
    except (sqlite3.DatabaseError, DatabaseError) as error:
        out.print(f"[red]FAILED: the ledger cannot be opened: {escape(one_line(str(error)))}"
                  "[/red]")
        raise typer.Exit(1) from None
    try:
        with progress_bar() as progress:
            task = progress.add_task("verifying", total=ledger.max_position())
            report = verify(ledger, progress=lambda n: progress.advance(task, n),
                            anchors=outside)
    finally:
        ledger.close()
    if report.ok:
        out.print(report.summary())
        if not outside:
            say(NOT_COVERED, style="dim")
    else:
        out.print(f"[red]{escape(report.summary())}[/red]")
        raise typer.Exit(1)


def _outside_anchor(path: Path, key_text: str | None) -> Anchor:
    """The checkpoint in ``path``, its signature checked by the given verifier key."""
    from ledger.proofcheck import ProofError, parse_verifier_key, verify_note

    if key_text is None:
        from app.commands.proof_cmds import signing_key

        own = Settings().signing_key_path
        if not own.is_file():
            fail("--checkpoint needs --key: the ledger's published verifier key, or a file "
                 f"holding it (there is no signing key at {own} to take it from)")
        key_text = signing_key(own).verifier_key()
    elif Path(key_text).is_file():
        key_text = Path(key_text).read_text()
    try:
        note = path.read_text(encoding="utf-8")
        body = verify_note(note, parse_verifier_key(key_text))
    except (OSError, UnicodeDecodeError, ProofError) as error:
        out.print(f"[red]FAILED: the checkpoint {escape(str(path))}: "
                  f"{escape(one_line(str(error)))}[/red]")
        raise typer.Exit(1) from None
    return Anchor(body.size, body.root, body.time, f"the checkpoint {path.name}")


def history_cmd(
    dossier: Annotated[str, typer.Argument(help="the dossier's id or code (mã hồ sơ)")],
    as_of: AsOfOption = None,
    as_recorded: AsRecordedOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """A dossier's timeline and its state (status, due date, open supplement, late so far)
    as it stood at a moment: --as-of (what had happened by then) or --as-recorded (what the
    ledger knew then)."""
    moment, recorded_by = parse_moments(as_of, as_recorded)
    ledger = ledger_to_read(doing="show")
    try:
        result = history(ledger, dossier, moment, recorded_by)
    except LedgerError as error:
        fail(str(error))
    finally:
        ledger.close()
    if as_json:
        out.print_json(data=result.as_dict())
    else:
        _show_history(result)


def _show_history(result: History) -> None:
    say(f"Hồ sơ {result.code} ({result.dossier_id}) — tính đến "
        f"{local_time(result.as_of, seconds=True)}", style="bold")
    columns = [Col("#", numeric=True), Col("Vị trí", numeric=True, drop=1),
               Col("Sự kiện", fold_to=12), Col("Xảy ra / ghi sổ", whole=True),
               Col("Nội dung", fold_to=24), Col("Mã băm", whole=True, drop=2)]
    rows = [[str(e["seq"]), str(e.get("position") or ""), labels.event_label(e["type"]),
             f"{local_time(e['at'])}\n{local_time(e['recorded_at'])}", _short(e["data"]),
             e["hash"][:10]]
            for e in result.events]
    out.print(fitted_table(columns, rows))
    state = [[labels.STATE_FIELDS.get(key, key), _state_value(key, value)]
             for key, value in result.state.items()]
    out.print(fitted_table([Col("Trạng thái hồ sơ", whole=True), Col("", fold_to=20)], state))


def _state_value(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "có" if value else "không"
    if key in ("status", "ended_by"):
        return labels.status_label(str(value))
    if key == "channel":
        return labels.CHANNELS.get(str(value), str(value))
    return _shown(value)


def _shown(value: Any) -> str:
    """A field's value: moments in local time with their offset, the rest as it is."""
    return local_time(value) if _is_moment(value) else str(value)


def _is_moment(value: Any) -> bool:
    if not (isinstance(value, str) and len(value) >= 20 and value[10:11] == "T"):
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _short(data: dict[str, Any]) -> str:
    """An event's fields on one line: its papers counted, its code left out (the heading
    names it)."""
    data = {k: v for k, v in data.items() if k not in ("code", "components")} | (
        {"components": len(data["components"])} if "components" in data else {})
    # a moment in one piece ("T"), so that folding never parts its date from its time
    text = "; ".join(f"{k}: {_shown(v).replace(' ', 'T', 1) if _is_moment(v) else v}"
                     for k, v in data.items())
    return text if len(text) <= 160 else text[:159] + "…"
