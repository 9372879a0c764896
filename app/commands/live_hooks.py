"""The live path's pieces that other commands call: opening the analytics store, score checks."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from app.console import fail, progress_bar
from app.settings import Settings
from app.wiring import open_ledger_from_settings
from projections.clickhouse.writer import OlapError, open_client
from streams.verify import verify_scores as check_scores

console = Console(stderr=True)
out = Console()


def open_olap(settings: Settings) -> Any:
    """The ClickHouse client named by the settings (chDB under <data_dir>/olap by default);
    exits with a clear message when another process holds the chDB directory."""
    try:
        return open_client(settings.clickhouse_url, settings.olap_path)
    except OlapError as error:
        fail(str(error))



def verify_scores() -> None:
    """``dossier verify --scores``: recompute every current score row in ClickHouse from the
    ledger (at the row's position, rulebook and as_of); print each difference and exit 1."""
    settings = Settings()
    client = open_olap(settings)
    ledger = open_ledger_from_settings(settings)
    try:
        with progress_bar() as progress:
            task = progress.add_task("recomputing scores", total=None)

            def advance(n: int, total: int) -> None:
                progress.update(task, advance=n, total=total)

            check = check_scores(ledger, client, progress=advance)
    finally:
        ledger.close()
        client.close()
    for difference in check.differences:
        out.print(difference.describe(), highlight=False, markup=False)
    if not check.ok:
        out.print(f"[red]{len(check.differences)} differences in {check.rows} score rows[/red]")
        raise typer.Exit(1)
    out.print(f"OK: {check.rows} current score rows match a recomputation from the ledger")
