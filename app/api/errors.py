"""Errors as JSON (``{"code", "message", "field", "rule"}``): what the API refuses, and why,
in one object; nothing else, and never a traceback, reaches a client."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.base import LedgerRuleError
from domain.units import UnitError
from ledger.dispatch import StreamNotFound
from ledger.errors import (
    ConcurrencyConflict,
    DossierNotFound,
    IdempotencyConflict,
    IdempotencyReserved,
    ImportRejected,
    LedgerError,
)
from ledger.wire import JsonError, WireError
from projections.periods import InvalidPeriod
from projections.rulebook import RulebookError

log = logging.getLogger("dossier.api")


class ErrorBody(BaseModel):
    """Every refusal: a stable ``code``, a sentence naming the field or the rule."""

    code: str = Field(examples=["rule"])
    message: str = Field(examples=["dossier D1: received refused: the dossier is already "
                                   "received"])
    field: str | None = Field(None, examples=["data.due_at"])
    rule: str | None = Field(None, examples=["lifecycle"])


class ApiError(Exception):
    """A refusal the API itself decides (access, a missing live table, a bad parameter)."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 rule: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.rule = rule
        self.headers = headers


def body(code: str, message: str, field: str | None = None, rule: str | None = None
         ) -> dict[str, Any]:
    return {"code": code, "message": message, "field": field, "rule": rule}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of an endpoint (for the OpenAPI schema)."""
    said = {400: "bad request", 401: "missing, unknown, revoked or expired API key",
            403: "the key's role or unit does not allow this",
            404: "not found", 409: "refused by a ledger rule, or an idempotency conflict",
            422: "a field is invalid", 503: "the live tables are not ready"}
    return {s: {"model": ErrorBody, "description": said[s]} for s in statuses}


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
          ) -> JSONResponse:
    return JSONResponse(payload, status_code=status, headers=headers)


def translate(error: Exception) -> tuple[int, dict[str, Any]]:
    """The status and body of a refusal the ledger, the wire format or the scoring raised."""
    if isinstance(error, ApiError):
        return error.status, body(error.code, error.message, error.field, error.rule)
    if isinstance(error, WireError):
        return 422, body("invalid", str(error), field=error.field or None)
    if isinstance(error, JsonError):
        return 400, body("json", str(error))
    if isinstance(error, StreamNotFound):
        return 404, body("not_found", str(error), field="id", rule=error.rule)
    if isinstance(error, LedgerRuleError):
        return 409, body("rule", str(error), rule=getattr(error, "rule", None))
    if isinstance(error, DossierNotFound):
        return 404, body("not_found", str(error))
    if isinstance(error, IdempotencyConflict | IdempotencyReserved):
        return 409, body("idempotency_conflict", str(error), field="Idempotency-Key")
    if isinstance(error, ConcurrencyConflict):
        return 409, body("concurrency_conflict", str(error))
    if isinstance(error, ImportRejected):
        return 422, body("import_rejected", str(error), field=f"line {error.line}",
                         rule=error.rule)
    if isinstance(error, LedgerError):
        return 409, body("refused", str(error))
    if isinstance(error, InvalidPeriod):
        return 422, body("invalid", str(error), field="period")
    if isinstance(error, RulebookError):
        return 422, body("invalid", str(error), field="rulebook")
    if isinstance(error, UnitError):
        return 404, body("not_found", str(error), field="unit")
    raise error


INTERNAL = ("internal error: nothing was recorded by this request unless its answer said so; "
            "the server log has the details")
FORESEEN = (ApiError, WireError, JsonError, LedgerRuleError, LedgerError, InvalidPeriod,
            RulebookError, UnitError)


def install(app: FastAPI) -> None:
    """Every refusal and every unforeseen error as an ``ErrorBody``."""

    async def foreseen(request: Request, error: Exception) -> JSONResponse:
        status, payload = translate(error)
        headers = error.headers if isinstance(error, ApiError) else None
        return _json(status, payload, headers)

    async def invalid(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0] if error.errors() else {}
        where = [str(p) for p in first.get("loc", ()) if p != "body"]
        field = ".".join(where[1:] if where[:1] in (["query"], ["path"], ["header"])
                         else where) or None
        message = str(first.get("msg", "invalid request"))
        if first.get("type") == "missing":
            message = "missing field"
        elif first.get("type") == "extra_forbidden":
            message = "unknown field"
        return _json(422, body("invalid", f"{field}: {message}" if field else message,
                               field=field))

    async def http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http")
        return _json(error.status_code, body(code, str(error.detail)),
                     dict(error.headers) if error.headers else None)

    async def unforeseen(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _json(500, body("internal", INTERNAL))

    for kind in FORESEEN:
        app.add_exception_handler(kind, foreseen)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(Exception, unforeseen)
