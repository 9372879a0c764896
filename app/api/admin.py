"""Admin endpoints: importing a file of events (all or nothing) and managing API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from app.api import examples
from app.api.access import ADMINS, caller, roles_extra
from app.api.errors import ApiError, responses
from app.api.examples import answer
from app.api.keys import KeyProblem, Role
from app.api.state import ApiState
from ledger.transfer import import_lines

ADMIN = ADMINS


class NewKey(BaseModel):
    """A key to create: its role, its unit (required for an agency key), its expiry."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"role": "agency", "unit": "22.SXD", "expires_at": "2027-12-31T23:59:59+07:00",
         "note": "một cửa Sở Xây dựng"}]})

    role: Literal["admin", "agency", "auditor"]
    unit: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    expires_at: datetime | None = None
    note: Annotated[str, Field(max_length=200)] = ""


class ImportAnswer(BaseModel):
    events: int = Field(examples=[120])
    first_position: int | None = Field(examples=[1001])
    last_position: int | None = Field(examples=[1120])
    already_imported: bool = Field(examples=[False])


def router(state: ApiState) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["admin"])

    @api.post("/imports", status_code=status.HTTP_201_CREATED, response_model=ImportAnswer,
              responses=responses(400, 401, 403, 409, 422),
              summary="Import a JSONL file of events, all or nothing",
              openapi_extra=roles_extra(ADMIN) | {"requestBody": {"required": True, "content": {
                  "application/x-ndjson": {"schema": {"type": "string"}, "example":
                      '{"type":"unit.registered","id":"22.SXD","at":"2026-10-01T08:00:00'
                      '+07:00","data":{"name":"Sở Xây dựng","parent":"22",'
                      '"kind":"department"}}\n'}}}})
    async def import_events(request: Request) -> dict[str, Any]:
        """The body is a file of events, one JSON object a line (docs/events.md). One bad
        line rejects the whole file (422 naming the line and the rule); the same file
        again records nothing. Admin only."""
        caller(request, state, ADMIN)
        payload = await request.body()
        if len(payload) > state.max_import_bytes:
            raise ApiError(413, "too_large", f"the file is larger than "
                           f"{state.max_import_bytes} bytes: import it in parts")
        lines = payload.splitlines(keepends=True)
        def imported() -> Any:
            with state.writes:
                return import_lines(state.ledger, lines)

        result = await run_in_threadpool(imported)
        return {"events": result.events, "first_position": result.first_position,
                "last_position": result.last_position,
                "already_imported": result.already_imported}

    @api.get("/keys", responses=responses(401, 403) | answer([examples.KEY]),
             summary="The API keys (no secrets)",
             openapi_extra=roles_extra(ADMIN))
    def list_keys(request: Request) -> list[dict[str, Any]]:
        caller(request, state, ADMIN)
        return [k.public() for k in state.keys.listed()]

    @api.post("/keys", status_code=status.HTTP_201_CREATED,
              responses=responses(401, 403, 422) | {201: {
                  "description": "the key, shown once", "content": {"application/json": {
                      "example": examples.KEY | {"key": "dk_3f9a1c0b7d2e_…"}}}}},
              summary="Create an API key",
              openapi_extra=roles_extra(ADMIN))
    def create_key(request: Request, new: NewKey) -> dict[str, Any]:
        """The answer holds the key itself, once: only its hash is kept."""
        caller(request, state, ADMIN)
        if new.expires_at is not None and new.expires_at.tzinfo is None:
            raise ApiError(422, "invalid", "expires_at: an offset is required",
                           field="expires_at")
        try:
            key, secret = state.keys.create(Role(new.role), new.unit, state.clock(),
                                            expires_at=new.expires_at, note=new.note)
        except KeyProblem as error:
            raise ApiError(422, "invalid", str(error), field="unit") from None
        return key.public() | {"key": secret}

    @api.delete("/keys/{key_id}", responses=responses(401, 403, 404) | answer(
        examples.KEY | {"revoked_at": examples.AS_OF}),
                summary="Revoke an API key", openapi_extra=roles_extra(ADMIN))
    def revoke_key(request: Request,
                   key_id: Annotated[str, Path(min_length=1, max_length=32)]
                   ) -> dict[str, Any]:
        caller(request, state, ADMIN)
        try:
            return state.keys.revoke(key_id, state.clock()).public()
        except KeyProblem as error:
            raise ApiError(404, "not_found", str(error), field="key_id") from None

    return api
