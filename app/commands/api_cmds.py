"""``dossier serve`` (the HTTP API, the live page and the runner in one process) and the API
key commands ``dossier keys create|list|revoke``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from app.commands.live_hooks import _chdb_log_held_back
from app.commands.proof_cmds import keys
from app.console import Col, err, fail, fitted_table, local_time, one_line, out, parse_moment
from app.settings import Settings

ROLES = ("admin", "agency", "auditor")


def register(cli: typer.Typer) -> None:
    cli.command("serve")(serve_cmd)
    keys.command("create")(create_cmd)
    keys.command("list")(list_cmd)
    keys.command("revoke")(revoke_cmd)


def serve_cmd(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    runner: Annotated[bool, typer.Option(
        help="run the runner (dossier follow) in this process; --no-runner beside a "
        "ClickHouse server (DOSSIER_CLICKHOUSE_URL) whose runner is another process")] = True,
    refresh: Annotated[float, typer.Option(
        help="seconds between rescoring the current periods (deadlines pass)")] = 30.0,
) -> None:
    """Phục vụ: the HTTP API for one-stop systems (docs/api.md) and the live ranking page at
    http://HOST:PORT/, with the runner folding the ledger into the live tables in the same
    process (chDB allows one process per data directory)."""
    from app.api.server import open_state, serve
    from projections.clickhouse.writer import OlapError

    settings = Settings()
    if not runner and not settings.clickhouse_url:
        fail("--no-runner needs a ClickHouse server (DOSSIER_CLICKHOUSE_URL): on the embedded "
             "default this process must own the chDB directory and run the runner")
    try:
        with _chdb_log_held_back():
            opened = open_state(settings, runner=runner, refresh_seconds=refresh)
    except OlapError as error:
        fail(str(error))
    except Exception as error:  # clickhouse-connect refusing, a bad URL
        if type(error).__module__.startswith("clickhouse_connect"):
            fail(f"cannot open ClickHouse {settings.clickhouse_url or settings.olap_path}: "
                 f"{one_line(str(error), limit=300)}")
        raise
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    err.print(f"Trang xếp hạng trực tiếp: http://{shown}:{port}/  ·  API: "
              f"http://{shown}:{port}/docs", highlight=False, soft_wrap=True)
    serve(opened, host, port)


def _store():  # type: ignore[no-untyped-def]
    from app.api.keys import KeyStore
    from app.api.server import keys_path

    return KeyStore(keys_path(Settings()))


def create_cmd(
    role: Annotated[str, typer.Option(help="admin, agency or auditor")],
    unit: Annotated[str | None, typer.Option(
        help="the unit the key acts for (required for agency): it covers the units below "
        "it too")] = None,
    expires: Annotated[str | None, typer.Option(
        help="RFC 3339 moment or date (its end, local time) after which the key is "
        "refused")] = None,
    note: Annotated[str, typer.Option(help="what the key is for")] = "",
) -> None:
    """Create an API key and print it once (only its hash is kept)."""
    from app.api.keys import KeyProblem, Role

    if role not in ROLES:
        fail(f"--role {role!r}: use one of {', '.join(ROLES)}")
    expires_at = parse_moment(expires, option="--expires") if expires else None
    try:
        key, secret = _store().create(Role(role), unit, datetime.now(UTC),
                                      expires_at=expires_at, note=note)
    except KeyProblem as error:
        fail(str(error))
    err.print(f"khóa {key.key_id} ({key.role.value}"
              f"{', ' + key.unit if key.unit else ''}): shown once, keep it secret",
              highlight=False)
    print(secret)


def list_cmd() -> None:
    """The API keys: id, role, unit, expiry, revocation (never the keys themselves)."""
    found = _store().listed()
    if not found:
        err.print("no API keys yet: dossier keys create --role admin")
        return
    now = datetime.now(UTC)
    rows = []
    for key in found:
        state = "thu hồi" if key.revoked_at else "hết hạn" if key.expired(now) else "hiệu lực"
        rows.append([key.key_id, key.role.value, key.unit or "*",
                     local_time(key.expires_at) if key.expires_at else "—", state,
                     key.note])
    out.print(fitted_table([Col("Mã khóa", whole=True), Col("Vai trò", whole=True),
                            Col("Đơn vị", whole=True), Col("Hết hạn", whole=True, drop=2),
                            Col("Trạng thái", whole=True), Col("Ghi chú", fold_to=8, drop=1)],
                           rows))


def revoke_cmd(
    key_id: Annotated[str, typer.Argument(help="the key's id (dossier keys list)")],
) -> None:
    """Revoke an API key: a running server refuses it from its next request."""
    from app.api.keys import KeyProblem

    try:
        key = _store().revoke(key_id, datetime.now(UTC))
    except KeyProblem as error:
        fail(str(error))
    err.print(f"đã thu hồi khóa {key.key_id}", highlight=False)
