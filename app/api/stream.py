"""Health, readiness, and the server-sent-events stream of ranking changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from app.api import examples
from app.api.errors import ApiError
from app.api.examples import answer
from app.api.reads import KindQ, PeriodQ, ProvinceQ, RulebookQ, ranking_answer
from app.api.state import ApiState

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
EXTERNAL_SECONDS = 2.0
READY_LAG = 10_000  # positions behind the ledger's head at most, to be ready


def router(state: ApiState) -> APIRouter:
    api = APIRouter()

    @api.get("/health", tags=["health"], summary="Liveness",
             responses=answer({"status": "ok"}))
    def health() -> dict[str, Any]:
        """200 while the process answers."""
        return {"status": "ok"}

    @api.get("/ready", tags=["health"], summary="Readiness: ledger reachable, runner lag",
             responses=answer(examples.READY) | {
                 503: {"description": "not ready (the body says why)"}})
    def ready() -> JSONResponse:
        """Ready when the ledger answers and the runner (when this process runs it) has
        resumed and is at most a few thousand positions behind the ledger."""
        body: dict[str, Any] = {"ledger": "ok", "runner": None}
        ok = True
        try:
            head = state.ledger.max_position()
            body["ledger_position"] = head
        except Exception as error:  # any failure to reach the store means: not ready
            body["ledger"] = f"unreachable: {type(error).__name__}"
            return JSONResponse(body | {"ready": False}, status_code=503)
        runner = state.runner
        if runner is not None:
            lag = max(0, head - runner.position)
            body["runner"] = {"resumed": runner.resumed, "position": runner.position,
                              "lag": lag, "error": runner.error}
            ok = runner.resumed and lag <= READY_LAG and runner.error is None
        elif state.olap is None:
            body["runner"] = "none: live tables unavailable"
        return JSONResponse(body | {"ready": ok}, status_code=200 if ok else 503)

    @api.get("/v1/stream/rankings", tags=["rankings"],
             summary="Server-sent events: the ranking each time it changes (public)",
             responses={200: {"content": {"text/event-stream": {"example":
                        "event: ranking\ndata: {\"period\": \"2026-10\", \"rows\": []}\n\n"}},
                        "description": "a `ranking` event at once, then one per change"}},
             response_class=StreamingResponse)
    async def stream(request: Request, period: PeriodQ = None, kind: KindQ = "province",
                     province: ProvinceQ = None, rulebook: RulebookQ = "vn-766"
                     ) -> StreamingResponse:
        """Each event is the ``GET /v1/rankings`` JSON of the same query; a comment line
        keeps the connection open every 15 s."""

        async def read() -> bytes | None:
            try:
                data = await run_in_threadpool(ranking_answer, state, period, kind, province,
                                               rulebook)
            except ApiError as error:
                if error.status == 503:
                    return None
                raise
            return orjson.dumps(data)

        first = await read()  # a bad query is refused here, as JSON, before streaming

        async def events() -> AsyncIterator[bytes]:
            last, seen, quiet, unread = first, state.changes.version, 0.0, 0.0
            if first is not None:
                yield b"event: ranking\ndata: " + first + b"\n\n"
            while not await request.is_disconnected():
                await asyncio.sleep(POLL_SECONDS)
                quiet += POLL_SECONDS
                unread += POLL_SECONDS
                # a runner in another process (beside a ClickHouse server) tells nothing:
                # re-read every few seconds then
                if state.changes.version != seen or (state.runner is None
                                                     and unread >= EXTERNAL_SECONDS):
                    seen, unread = state.changes.version, 0.0
                    current = await read()
                    if current is not None and current != last:
                        last, quiet = current, 0.0
                        yield b"event: ranking\ndata: " + current + b"\n\n"
                if quiet >= KEEPALIVE_SECONDS:
                    quiet = 0.0
                    yield b": keepalive\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})

    return api
