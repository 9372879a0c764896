"""Shared CLI helpers: failing with a clear message, and reading moments from options."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from domain.calendar import LOCAL_TZ

_err = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` as an error and exit with ``code`` (no traceback)."""
    _err.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def progress_bar() -> Progress:
    """The CLI's progress bar (on standard error, gone when done)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=_err, transient=True)


def local_text(moment: datetime) -> str:
    """A moment as people here read it: local time (Asia/Ho_Chi_Minh) with its offset."""
    return moment.astimezone(LOCAL_TZ).isoformat()


def parse_moment(text: str | None, *, option: str = "--as-of", day_end: bool = True
                 ) -> datetime:
    """An RFC 3339 moment, or a date (local time: its end, or with ``day_end=False`` its
    start); None is now. ``option`` names the option in error messages."""
    if text is None:
        return datetime.now(UTC)
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").date()
            return datetime.combine(day, time.max if day_end else time.min, tzinfo=LOCAL_TZ)
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is neither an RFC 3339 time nor a date (YYYY-MM-DD)")
    if moment.tzinfo is None:
        fail(f"{option} {text!r} has no UTC offset (write e.g. 2026-10-31T17:00:00+07:00)")
    return moment
