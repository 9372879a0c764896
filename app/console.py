"""Shared CLI helpers: the two consoles, failing in one clear line, times in local time, moments
read from options, and tables that fit the terminal (80 columns on a pipe)."""

from __future__ import annotations

import os
import re
import sys
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from domain.calendar import LOCAL_TZ

PIPE_WIDTH = 80


def _pipe_width() -> int | None:
    """80 columns when standard output is not a terminal and COLUMNS is unset (rich would
    otherwise take the width of whatever terminal standard input or error is attached to)."""
    if os.environ.get("COLUMNS"):
        return None
    try:
        return None if sys.stdout.isatty() else PIPE_WIDTH
    except (AttributeError, ValueError):  # no standard output, or a closed one
        return PIPE_WIDTH


out = Console(width=_pipe_width())
"""Standard output: results (tables, JSON)."""
err = Console(stderr=True)
"""Standard error: progress, notes and errors."""

DEBUG_HINT = "rerun with DOSSIER_DEBUG=1 to see the traceback"


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` as an error on one line and exit with ``code`` (no traceback)."""
    err.print(f"[bold red]error:[/bold red] {escape(one_line(message))}", highlight=False,
              soft_wrap=True)
    raise typer.Exit(code)


def unexpected(error: BaseException) -> NoReturn:
    """The last resort for an error no command foresaw: one line, a hint, exit 1."""
    what = one_line(str(error), limit=400)
    name = type(error).__name__
    err.print(f"[bold red]error:[/bold red] {escape(f'{name}: {what}' if what else name)}",
              highlight=False, soft_wrap=True)
    err.print(f"({DEBUG_HINT})", style="dim", highlight=False, soft_wrap=True)
    raise SystemExit(1)


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` with its line breaks and runs of spaces folded into single spaces."""
    flat = " ".join(text.split())
    return flat if limit is None or len(flat) <= limit else flat[: limit - 1] + "…"


def progress_bar() -> Progress:
    """The CLI's progress bar (on standard error when it is a terminal, gone when done)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=True,
                    disable=not err.is_terminal)


def local_text(moment: datetime) -> str:
    """A moment as people here read it: local time (Asia/Ho_Chi_Minh) with its offset."""
    return moment.astimezone(LOCAL_TZ).isoformat()


def local_time(moment: datetime | str, *, seconds: bool = False) -> str:
    """A moment for tables and titles: ``2026-10-01 08:10+07:00`` (local time, its offset)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    local = moment.astimezone(LOCAL_TZ)
    shown = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return shown + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]


_MOMENT_SPACE = re.compile(r"(\d{4}-\d{2}-\d{2}) (?=\d{2}:\d{2})")
_KEPT = "\u00a0"  # textwrap breaks only at ASCII whitespace


def wrapped(text: str, width: int | None = None) -> str:
    """``text`` broken into lines of at most ``width`` cells (default: standard output's) at
    spaces, never inside a moment: ``2026-10-31 23:59:59+07:00`` stays on one line."""
    width = out.width if width is None else width
    kept = _MOMENT_SPACE.sub(lambda m: m.group(1) + _KEPT, text)
    lines = textwrap.wrap(kept, width=width, break_on_hyphens=False) or [""]
    return "\n".join(lines).replace(_KEPT, " ")


def say(text: str | Text, *, style: str | None = None) -> None:
    """A line (or a paragraph) on standard output, wrapped by :func:`wrapped`."""
    plain = text.plain if isinstance(text, Text) else text
    out.print(Text(wrapped(plain), style=style or (text.style if isinstance(text, Text)
                                                   else "")), soft_wrap=True)


AS_OF_HELP = ("what had happened by this moment (events whose time `at` is at or before it), "
              "evaluated then: RFC 3339 or a date (its end, local time); default now")
AS_RECORDED_HELP = ("what the ledger knew at this moment (the log up to the last event "
                    "recorded by then), evaluated then: the figures exactly as shown then")
AsOfOption = Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)]
AsRecordedOption = Annotated[str | None, typer.Option("--as-recorded", help=AS_RECORDED_HELP)]


def parse_moments(as_of: str | None, as_recorded: str | None
                  ) -> tuple[datetime, datetime | None]:
    """The evaluation moment, and the recording moment when --as-recorded was given (the
    two options exclude each other)."""
    if as_of is not None and as_recorded is not None:
        fail("give --as-of or --as-recorded, not both")
    if as_recorded is not None:
        moment = parse_moment(as_recorded, option="--as-recorded")
        return moment, moment
    return parse_moment(as_of), None


def parse_moment(text: str | None, *, option: str = "--as-of", day_end: bool = True
                 ) -> datetime:
    """An RFC 3339 moment, or a date (local time: its end, or with ``day_end=False`` its
    start); None is now (in local time). ``option`` names the option in error messages."""
    if text is None:
        return datetime.now(LOCAL_TZ)
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


@dataclass(frozen=True, slots=True)
class Col:
    """A column of a fitted table."""

    header: str
    numeric: bool = False  # right-aligned, never wrapped nor cut
    whole: bool = False  # text never wrapped nor cut (codes, times)
    fold_to: int = 10  # the narrowest a wrapped text column may become
    drop: int = 0  # 0: always shown; short of width, the highest numbers are left out first


GAP = 2  # between two columns: a space of padding and the (blank) separator


def fitted_table(columns: Sequence[Col], rows: Iterable[Sequence[str | Text]], *,
                 width: int | None = None, **options: Any) -> Table:
    """A table of ``rows`` that fits ``width`` (default: standard output's): numbers and
    whole columns as they are, text folded no narrower than its ``fold_to``, and columns
    with a ``drop`` rank left out, highest first, while even that is too wide."""
    cells = [[cell if isinstance(cell, Text) else Text(cell) for cell in row] for row in rows]
    width = out.width if width is None else width
    natural = [max([_cell_width(Text(column.header)), *(_cell_width(row[i]) for row in cells)])
               for i, column in enumerate(columns)]
    least = [n if c.numeric or c.whole else min(n, max(c.fold_to, _longest_word(c.header)))
             for n, c in zip(natural, columns, strict=True)]
    shown = list(range(len(columns)))
    for index in sorted((i for i, c in enumerate(columns) if c.drop),
                        key=lambda i: -columns[i].drop):
        if _needed(least, shown) <= width:
            break
        shown.remove(index)
    widths = _text_widths(columns, shown, natural, least, width)
    for part in ("title", "caption"):  # wrapped here, moments kept whole
        if isinstance(options.get(part), str):
            options[part] = wrapped(options[part], width)
    if options.get("title"):  # as wide as its title, so that it is not folded above the table
        options.setdefault("min_width", min(width, _cell_width(Text(options["title"]))))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True,
                  **options)
    for i in shown:
        column = columns[i]
        if column.numeric:
            table.add_column(column.header, justify="right", no_wrap=True, min_width=natural[i])
        elif column.whole:
            table.add_column(column.header, no_wrap=True, min_width=natural[i])
        else:
            table.add_column(column.header, overflow="fold", width=widths.get(i))
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    return table


def _cell_width(text: Text) -> int:
    return max((cell_len(line) for line in text.plain.splitlines()), default=0)


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=1)


def _needed(least: list[int], shown: list[int]) -> int:
    return sum(least[i] for i in shown) + GAP * (len(shown) - 1)


def _text_widths(columns: Sequence[Col], shown: list[int], natural: list[int],
                 least: list[int], width: int) -> dict[int, int]:
    """Widths of the folded text columns when their natural widths do not fit: each gets its
    least, then the room left goes one cell at a time to the narrowest that wants more."""
    text = [i for i in shown if not (columns[i].numeric or columns[i].whole)]
    room = width - _needed(least, shown) + sum(least[i] for i in text)
    if sum(natural[i] for i in text) <= room:
        return {}
    widths = {i: least[i] for i in text}
    spare = room - sum(widths.values())
    while spare > 0:
        wanting = [i for i in text if widths[i] < natural[i]]
        if not wanting:
            break
        widths[min(wanting, key=lambda i: widths[i])] += 1
        spare -= 1
    return widths
