"""``dossier dashboards build|publish``: Grafana dashboards and alert rules as code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.console import fail, say


def register(cli: typer.Typer) -> None:
    group = typer.Typer(name="dashboards", no_args_is_help=True,
                        help="Grafana dashboards and alert rules generated from code.")
    group.command("build")(build_cmd)
    group.command("publish")(publish_cmd)
    cli.add_typer(group)


def build_cmd(
    out_dir: Annotated[Path, typer.Option(
        "--out", help="directory to write dashboards/*.json and alerting/*.json into")]
    = Path("deploy/grafana/generated"),
) -> None:
    """Write every dashboard and the alert rules as JSON (same code, same bytes)."""
    from dashboards.build import write

    for path in write(out_dir):
        say(f"wrote {path}")


def publish_cmd(
    url: Annotated[str, typer.Option("--url", envvar="GRAFANA_URL",
                                     help="Grafana's address, e.g. http://localhost:3000")],
    token: Annotated[str, typer.Option("--token", envvar="GRAFANA_TOKEN",
                                       help="a service account token with the Admin role")],
    ch_host: Annotated[str, typer.Option(help="ClickHouse host as Grafana reaches it")]
    = "clickhouse",
    ch_port: Annotated[int, typer.Option(help="ClickHouse port (9000 native, 8123 http)")]
    = 9000,
    ch_protocol: Annotated[str, typer.Option(help="native or http")] = "native",
    ch_user: Annotated[str, typer.Option(help="the read-only ClickHouse user")]
    = "grafana_reader",
    ch_password: Annotated[str, typer.Option(
        envvar="DOSSIER_GRAFANA_CH_PASSWORD", help="its password (sent when the data "
        "source is created or updated; Grafana never returns it)")] = "",
    ch_database: Annotated[str, typer.Option(help="the database holding the tables")]
    = "default",
    timeout: Annotated[float, typer.Option(help="seconds to wait for each request")] = 10.0,
) -> None:
    """Create or update the ClickHouse data source, the folder, every dashboard and the alert
    rules in Grafana; a second run changes nothing and says so."""
    from dashboards.publish import Change, ClickHouseSource, PublishError, publish

    def report(change: Change) -> None:
        say(f"{change.action:9} {change.kind}: {change.name}")

    source = ClickHouseSource(ch_host, ch_port, ch_protocol, ch_user, ch_password,
                              ch_database)
    try:
        changes = publish(url.rstrip("/"), token, source, report, timeout)
    except PublishError as error:
        fail(str(error))
    changed = [c for c in changes if c.action != "unchanged"]
    if not changed:
        say(f"nothing changed: all {len(changes)} objects in {url} are up to date")
    else:
        created = sum(c.action == "created" for c in changed)
        say(f"published to {url}: {created} created, {len(changed) - created} updated, "
            f"{len(changes) - len(changed)} unchanged")
