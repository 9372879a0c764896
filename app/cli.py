"""The ``dossier`` command line: ledger, audit, scoring and live commands."""

from __future__ import annotations

import inspect
import os

import typer

from app.commands import (
    api_cmds,
    bundle_cmds,
    dashboard_cmds,
    demo_cmds,
    ledger_cmds,
    live_cmds,
    personal_cmds,
    proof_cmds,
    scoring_cmds,
    simulate_cmds,
    stream_cmds,
)
from app.console import unexpected

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
proof_cmds.register(cli)
bundle_cmds.register(cli)
personal_cmds.register(cli)
dashboard_cmds.register(cli)
api_cmds.register(cli)
stream_cmds.register(cli)


def _reflow(doc: str) -> str:
    """A docstring as help: the lines of each paragraph joined (rich keeps a docstring's hard
    line breaks inside its panel, which wraps them again: ragged lines)."""
    return "\n\n".join(" ".join(line.strip() for line in paragraph.splitlines())
                       for paragraph in doc.split("\n\n"))


def _help_reflowed(app: typer.Typer) -> None:
    for command in app.registered_commands:
        if command.help is None and command.callback is not None and command.callback.__doc__:
            command.help = _reflow(inspect.getdoc(command.callback) or "")
    for group in app.registered_groups:
        if isinstance(group.typer_instance, typer.Typer):
            _help_reflowed(group.typer_instance)


_help_reflowed(cli)


def main() -> None:
    """The ``dossier`` command. Errors the commands foresee end in one line of their own; any
    other becomes one line too (``error: <what>``, exit 1), with its traceback only under
    DOSSIER_DEBUG=1."""
    try:
        cli()
    except Exception as error:  # the last resort: no traceback reaches a user
        if os.environ.get("DOSSIER_DEBUG", "") not in ("", "0"):
            raise
        unexpected(error)
