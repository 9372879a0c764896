"""Shared CLI helpers: failing with a clear message, and reading moments from options."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from domain.calendar import LOCAL_TZ

_err = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` as an error and exit with ``code`` (no traceback)."""
    _err.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def parse_moment(text: str | None) -> datetime:
    """An RFC 3339 moment, or a date (its end, local time); None is now."""
    if text is None:
        return datetime.now(UTC)
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").date()
            return datetime.combine(day, time.max, tzinfo=LOCAL_TZ)
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--as-of {text!r} is neither an RFC 3339 time nor a date (YYYY-MM-DD)")
    if moment.tzinfo is None:
        fail(f"--as-of {text!r} has no UTC offset (write e.g. 2026-10-31T17:00:00+07:00)")
    return moment
