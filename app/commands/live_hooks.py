"""The live path's pieces that other commands call: opening the analytics store, score checks."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

from app.console import fail, one_line, progress_bar
from app.settings import Settings
from app.wiring import open_ledger_from_settings
from projections.clickhouse.writer import OlapError, OlapLocked, open_client
from streams.verify import verify_scores as check_scores

console = Console(stderr=True)
out = Console()


WRITE_TABLES = "`dossier follow --once` or `dossier replay` writes them"


def open_olap(settings: Settings, *, create: bool = True) -> Any:
    """The ClickHouse client named by the settings (chDB under <data_dir>/olap by default);
    exits with a clear message when another process holds the chDB directory, or (with
    ``create=False``, for commands that only read) when there is no chDB directory yet."""
    if not create:
        refuse_missing_olap(settings)
    try:
        with _chdb_log_held_back():
            return open_client(settings.clickhouse_url, settings.olap_path)
    except OlapError as error:
        fail(str(error))
    except Exception as error:  # clickhouse-connect's errors: a server refusing, a bad URL
        if type(error).__module__.startswith("clickhouse_connect"):
            fail(f"cannot open ClickHouse {settings.clickhouse_url or settings.olap_path}: "
                 f"{one_line(str(error), limit=300)}")
        raise


def refuse_missing_olap(settings: Settings) -> None:
    """Exit 2 when the embedded chDB directory does not exist (reading must not create it)."""
    if not settings.clickhouse_url and not settings.olap_path.is_dir():
        fail(f"no live tables yet: no chDB directory at {settings.olap_path.resolve()} "
             f"(DOSSIER_DATA_DIR); {WRITE_TABLES}")


@contextmanager
def live_tables(settings: Settings, hint: str = WRITE_TABLES) -> Iterator[Any]:
    """A client for reading the live tables (nothing created); a table not written yet ends
    the command with one line naming it and ``hint``."""
    client = open_olap(settings, create=False)
    try:
        with missing_tables_refused(settings, hint):
            yield client
    finally:
        client.close()


@contextmanager
def missing_tables_refused(settings: Settings, hint: str = WRITE_TABLES) -> Iterator[None]:
    """Turn a query on a table that does not exist into one line naming it, and ``hint``."""
    try:
        yield
    except Exception as error:
        table = _unknown_table(error)
        if table is None:
            raise
        where = settings.clickhouse_url or settings.olap_path.resolve()
        fail(f"no table {table} in ClickHouse ({where}) yet: {hint}")


def _unknown_table(error: Exception) -> str | None:
    """The table an UNKNOWN_TABLE error of ClickHouse names ('?' if unnamed), else None."""
    if getattr(error, "name", None) != "UNKNOWN_TABLE" and getattr(error, "code", None) != 60:
        return None
    found = re.search(r"(?:identifier|Table) '?([\w.]+)", str(error))
    return found.group(1) if found else "?"


@contextmanager
def _chdb_log_held_back() -> Iterator[None]:
    """chDB's C++ engine logs to file descriptor 2 while it opens (``Code: 76 … Cannot lock
    file`` when another process holds the directory). Hold what it writes back; pass it on
    unless the failure is the one we explain ourselves (the held directory)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        locked = False
        try:
            yield
        except OlapLocked:
            locked = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if not locked:
                held.seek(0)
                said = held.read()
                if said:
                    os.write(2, said)



def verify_scores() -> None:
    """``dossier verify --scores``: recompute from the ledger every current row of
    rankings_current (every column, at the row's position, rulebook and as_of), the latest
    score_history row of each of its indicators, and every dossier_facts and dossier_events
    row; print each difference (table, key, column, stored, recomputed) and exit 1."""
    settings = Settings()
    client = open_olap(settings)
    ledger = open_ledger_from_settings(settings)
    try:
        with progress_bar() as progress:
            task = progress.add_task("checking rows", total=None)

            def advance(n: int, total: int) -> None:
                progress.update(task, advance=n, total=total)

            check = check_scores(
                ledger, client, pseudonym_key=settings.pseudonym_key.encode(), progress=advance,
                connect=lambda: open_client(settings.clickhouse_url, settings.olap_path))
    finally:
        ledger.close()
        client.close()
    for difference in check.differences:
        out.print(difference.describe(), highlight=False, markup=False, soft_wrap=True)
    checked = (f"{check.scores} current score rows with {check.history} score_history rows, "
               f"{check.facts} dossier_facts rows and {check.events} dossier_events rows")
    if not check.ok:
        more = f" ({check.unlisted} not listed)" if check.unlisted else ""
        out.print(f"[red]{check.count} differences{more} in {checked}[/red]", soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"OK: {checked} match a recomputation from the ledger", soft_wrap=True)
