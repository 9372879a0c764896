"""The HTTP application, built by a factory from its parts, and ``dossier serve``'s server:
the API, the live page and (on the embedded default) the runner in one process."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.api import admin, commands, errors, reads, stream
from app.api.access import Gate
from app.api.keys import FILE_NAME, KeyStore
from app.api.live import Changes, LiveRunner
from app.api.state import ApiState
from app.settings import Settings, Store
from app.wiring import open_ledger_from_settings, runner_signing_key
from ledger.application import DossierLedger
from projections.clickhouse.writer import ClickHouseWriter, open_client
from streams.follower import Follower, wall_clock
from streams.snapshots import RUNNER_STATE, Snapshots

DESCRIPTION = """\
Sổ cái hồ sơ thủ tục hành chính — the ledger's HTTP API (docs/api.md).

* **Commands** (`POST /v1/{stream}s/{id}/{event}`): one per action of the lifecycle, with an
  `Idempotency-Key` header; agency keys act on their unit and the units below it.
* **Reads**: histories and explanations (auditor, admin, or the unit's agency), proofs
  (auditor, admin); scores, rankings (JSON, CSV) and their stream are public.
* **Errors** are JSON: `{"code", "message", "field", "rule"}`; a refused request records
  nothing.

Keys go in `Authorization: Bearer <key>` (or `X-API-Key`); `dossier keys create` makes them.
"""


def static_dir() -> Path:
    return Path(str(resources.files("app.api") / "static"))


def create_app(state: ApiState) -> FastAPI:
    """The application over ``state`` (nothing is opened here)."""
    app = FastAPI(title="Dossier ledger API", version="1", description=DESCRIPTION,
                  openapi_tags=[{"name": "commands", "description": "record lifecycle actions"},
                                {"name": "audit", "description": "histories, explanations, "
                                 "proofs"},
                                {"name": "scores"}, {"name": "rankings"}, {"name": "admin"},
                                {"name": "health"}])
    errors.install(app)
    routers = [commands.router(state), reads.router(state), admin.router(state),
               stream.router(state)]
    for router in routers:
        app.include_router(router)
    # the gate reads the operations' roles from the routers' own routes (with their prefix)
    app.add_middleware(Gate, state=state,
                       routes=lambda: [route for router in routers for route in router.routes])
    assets = static_dir()
    app.mount("/static", StaticFiles(directory=assets), name="static")

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def page() -> FileResponse:
        return FileResponse(assets / "index.html", media_type="text/html; charset=utf-8")

    app.state.api = state
    plain_schema = app.openapi

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            found = plain_schema()
            found.setdefault("components", {})["securitySchemes"] = {"apiKey": {
                "type": "http", "scheme": "bearer",
                "description": "an API key from `dossier keys create` (or the X-API-Key "
                               "header)"}}
            app.openapi_schema = found
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]
    return app


@dataclass
class Opened:
    """What ``open_state`` opened, to close in order."""

    state: ApiState
    closers: list[Callable[[], Any]]

    def close(self) -> None:
        self.state.writer.stop()
        if self.state.runner is not None:
            self.state.runner.stop()
        for close in reversed(self.closers):
            try:
                close()
            except Exception:  # closing what is left: one failure must not keep the rest
                logging.getLogger("dossier.api").exception("closing failed")


def open_state(settings: Settings, *, runner: bool = True,
               clock: Callable[[], datetime] = wall_clock,
               ledger_clock: Callable[[], datetime] | None = None,
               refresh_seconds: float = 30.0) -> Opened:
    """The ledger, the keys, the live tables, and (``runner``) the runner in a background
    thread of this process. ``clock`` is the scores' and keys' now; ``ledger_clock`` the
    ledger's recording time (both the wall clock unless fixed, for reproducible runs)."""
    if settings.ledger_store is Store.SQLITE:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    closers: list[Callable[[], Any]] = []

    def ledger_of() -> DossierLedger:
        ledger = open_ledger_from_settings(settings)
        if ledger_clock is not None:
            ledger.clock = ledger_clock
        closers.append(ledger.close)
        return ledger

    ledger = ledger_of()
    olap = open_client(settings.clickhouse_url, settings.olap_path)
    closers.append(olap.close)
    state = ApiState(ledger=ledger, keys=KeyStore(keys_path(settings)), clock=clock,
                     olap=olap, changes=Changes())
    if runner:
        follower = Follower(ledger_of(), ClickHouseWriter(olap),
                            pseudonym_key=settings.pseudonym_key.encode(), clock=clock,
                            refresh_seconds=refresh_seconds, on_cycle=state.changes.cycle,
                            signing_key=runner_signing_key(settings),
                            snapshots=Snapshots(settings.data_dir / RUNNER_STATE))
        state.runner = LiveRunner(follower, follower.ledger, state.lock,
                                  refresh_seconds=refresh_seconds)
        state.runner.start()
    return Opened(state, closers)


def keys_path(settings: Settings) -> Path:
    """Where the API keys' hashes are kept: ``<data dir>/api-keys.json``."""
    return settings.data_dir / FILE_NAME


def serve_in_thread(state: ApiState, host: str, port: int) -> Callable[[], None]:
    """Serve ``state`` from a daemon thread (the demo serves its page while it runs); the
    function that stops it. OSError when the port cannot be had."""
    import threading
    import time

    import uvicorn

    config = uvicorn.Config(create_app(state), host=host, port=port, log_level="critical",
                            access_log=False, lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dossier-page", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise OSError(f"cannot serve on {host}:{port}")
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(5)

    return stop


def serve(opened: Opened, host: str, port: int, *, on_ready: Callable[[], None] | None = None
          ) -> None:
    """Serve until interrupted (uvicorn), then stop the runner and close everything."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(opened.state)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False,
                            lifespan="off", timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    try:
        if on_ready is not None:
            on_ready()
        server.run()
    finally:
        opened.close()
