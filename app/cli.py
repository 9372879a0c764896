"""The ``dossier`` command line: ledger, audit, scoring and live commands."""

from __future__ import annotations

import typer

from app.commands import demo_cmds, ledger_cmds, live_cmds, scoring_cmds, simulate_cmds

cli = typer.Typer(
    name="dossier",
    help="Sổ cái hồ sơ thủ tục hành chính — event-sourced ledger of administrative dossiers "
    "with real-time service-quality scoring (Decision 766/QĐ-TTg).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
ledger_cmds.register(cli)
scoring_cmds.register(cli)
simulate_cmds.register(cli)
live_cmds.register(cli)
demo_cmds.register(cli)

def main() -> None:
    cli()
