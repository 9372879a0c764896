"""One endpoint per command of the lifecycle: ``POST /v1/{stream}s/{id}/{event}`` records
one action (the wire format's ``at``, ``data`` and optional ``seq``), repeat-safe with an
``Idempotency-Key`` header."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.api.access import WRITERS, caller, require_unit, roles_extra
from app.api.errors import FORESEEN, INTERNAL, ApiError, body, log, responses, translate
from app.api.keys import ApiKey
from app.api.state import ApiState
from ledger import wire

AT = "2026-10-05T08:30:00+07:00"
DATA_EXAMPLES: dict[str, dict[str, Any]] = {
    "unit.registered": {"name": "Sở Xây dựng tỉnh Quảng Ninh", "parent": "22",
                        "kind": "department"},
    "unit.capability_set": {"capability": "e_certified_copy", "enabled": True},
    "procedure.registered": {
        "code": "1.009994", "name": "Cấp giấy phép xây dựng", "unit": "22.SXD",
        "statutory_days": 15, "fee_vnd": 150000, "requires_result_document": True,
        "full_online_eligible": True, "citizen_target": True,
        "legal_basis_effective_on": "2026-01-01"},
    "procedure.decision_issued": {"decision_on": "2026-09-20"},
    "procedure.published": {"components_complete": True},
    "procedure.online_level_set": {"level": "full"},
    "procedure.payment_integrated": {"integrated": True},
    "dossier.submitted": {
        "code": "G22.99-261005-0001", "procedure": "P-22.SXD-1", "unit": "22.SXD",
        "channel": "online", "applicant_kind": "citizen", "applicant_ref": "CCCD-0123",
        "vneid_verified": True,
        "components": [{"name": "Đơn đề nghị", "digitized": True, "reused": False,
                        "from_personal_store": False, "from_population_db": True}]},
    "dossier.received": {"due_at": None},
    "dossier.refused": {"reason": "thiếu giấy tờ"},
    "dossier.supplement_requested": {"reason": "bổ sung bản vẽ"},
    "dossier.transferred": {"to_unit": "22", "kind": "inter_agency"},
    "dossier.appraised": {"by": "chuyên viên A"},
    "dossier.approved": {"by": "lãnh đạo B"},
    "dossier.signed": {"by": "lãnh đạo B"},
    "dossier.fee_requested": {"amount_vnd": 150000},
    "dossier.fee_paid": {"amount_vnd": 150000, "method": "national_portal"},
    "dossier.resolved": {"electronic_result": True, "pushed_to_personal_store": True},
    "dossier.result_returned": {"method": "online"},
    "dossier.apology_issued": {"new_due_at": "2026-10-30T17:00:00+07:00",
                               "reason": "cần xác minh thêm"},
    "dossier.rejected": {"reason": "không đủ điều kiện"},
    "dossier.stopped": {"reason": "theo yêu cầu cơ quan"},
    "dossier.rated": {"satisfied": True},
    "petition.received": {"unit": "22.SXD", "kind": "staff_conduct", "dossier": None},
    "petition.rated": {"likes": 1, "dislikes": 0},
}
CREATORS = {"unit.registered", "procedure.registered", "dossier.submitted",
            "petition.received"}


class Recorded(BaseModel):
    """Where the action landed: its stream, id, seq, hash and ledger position."""

    type: str = Field(examples=["dossier.received"])
    stream: str = Field(examples=["dossier"])
    id: str = Field(examples=["D-0001"])
    seq: int = Field(examples=[2])
    hash: str = Field(examples=["3f7a…"])
    position: int | None = Field(examples=[1042])


def body_model(kind: str) -> type[BaseModel]:
    """``{"at", "seq", "data"}`` for one event type, with an example."""
    data_model = wire.DATA_MODELS[kind]
    extra: Any = {"examples": [{"at": AT, "data": DATA_EXAMPLES.get(kind, {})}]}
    name = "".join(part.title() for part in kind.replace(".", "_").split("_")) + "Body"
    return create_model(
        name,
        __config__=ConfigDict(extra="forbid", json_schema_extra=extra),
        at=(wire.Instant, Field(description="when it happened (RFC 3339 with offset)")),
        seq=(int | None, Field(None, ge=1, le=wire.MAX_COUNT,
                               description="the aggregate's next seq (optional: checked "
                                           "when given)")),
        data=(data_model, Field(description=f"the fields of {kind}")),
    )


def router(state: ApiState) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["commands"])
    for kind in wire.DATA_MODELS:
        _add(api, state, kind)
    return api


IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", max_length=200,
    description="repeat-safe key: the same key with the same body answers as the first "
                "time and records nothing new; with another body: 409")]


def _add(api: APIRouter, state: ApiState, kind: str) -> None:
    stream, action = kind.split(".", 1)
    model = body_model(kind)

    async def record(request: Request, body: model,  # type: ignore[valid-type]
                     key_id: Annotated[str, Path(alias="id", min_length=1, max_length=128)],
                     idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        key = caller(request, state, WRITERS)
        event = command_event(kind, key_id, await request.body())
        return await state.writer.submit(_record, request, state, key, event,
                                            idempotency_key)

    record.__annotations__["body"] = model  # a class made here: not a name to resolve
    record.__name__ = f"record_{stream}_{action}"
    api.add_api_route(
        f"/{stream}s/{{id}}/{action}", record, methods=["POST"],
        status_code=status.HTTP_201_CREATED, response_model=Recorded,
        summary=f"Record {kind}", name=f"record_{stream}_{action}",
        description=f"Record one `{kind}` action on {stream} `id` (docs/api.md). An agency "
                    "key may act only on its unit and the units below it.",
        responses=responses(400, 401, 403, 404, 409, 422),
        openapi_extra=roles_extra(WRITERS) | {COMMAND: kind})


COMMAND = "x-command"  # a command operation's event type, in its OpenAPI entry
BODY_FIELDS = {"at", "seq", "data"}
MAX_IDEMPOTENCY_KEY = 200


def command_event(kind: str, ident: str, body: bytes) -> dict[str, Any]:
    """The wire event a command's body makes (``at``, ``data`` and optional ``seq``; the
    ledger checks their values with the wire format's models)."""
    raw = wire.decode_json(body)
    if not isinstance(raw, dict):
        raise ApiError(422, "invalid", "the body must be a JSON object {at, data}")
    for name in ("at", "data"):
        if name not in raw:
            raise ApiError(422, "invalid", f"{name}: missing field", field=name)
    for name in raw:
        if name not in BODY_FIELDS:
            raise ApiError(422, "invalid", f"{name}: unknown field", field=str(name)[:64])
    if not 1 <= len(ident) <= 128:
        raise ApiError(422, "invalid", "id: between 1 and 128 characters", field="id")
    event = {"type": kind, "id": ident, "at": raw["at"], "data": raw["data"]}
    if raw.get("seq") is not None:
        event["seq"] = raw["seq"]
    return event


async def handle_command(scope: Scope, receive: Receive, send: Send, state: ApiState,
                         key: ApiKey, kind: str, ident: str) -> None:
    """A command without FastAPI's routing and body validation (the hot path of one-stop
    systems; the same checks, made by the ledger's wire format): the gate calls it."""
    request = Request(scope, receive)
    try:
        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key is not None and len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
            raise ApiError(422, "invalid", f"Idempotency-Key: at most {MAX_IDEMPOTENCY_KEY} "
                           "characters", field="Idempotency-Key")
        event = command_event(kind, ident, await request.body())
        answer = await state.writer.submit(_record, request, state, key, event,
                                            idempotency_key)
        response = Response(orjson.dumps(answer), status_code=201,
                            media_type="application/json")
    except FORESEEN as error:
        status_code, payload = translate(error)
        response = Response(orjson.dumps(payload), status_code=status_code,
                            media_type="application/json")
    except Exception:  # as the app's last resort: logged, and one JSON line to the client
        log.exception("unexpected error on POST %s", scope["path"])
        response = Response(orjson.dumps(body("internal", INTERNAL)), status_code=500,
                            media_type="application/json")
    await response(scope, receive, send)


def _record(request: Request, state: ApiState, key: ApiKey, event: dict[str, Any],
            idempotency_key: str | None) -> dict[str, Any]:
    """Check the key's unit, then record (a refusal records nothing)."""
    kind, ident, data = event["type"], event["id"], event["data"]
    stream = kind.split(".", 1)[0]
    what = f"{stream} {ident}"
    if kind in CREATORS or stream == "unit":
        require_unit(request, state, key, _named_units(kind, ident, data), what)
    elif key.unit is not None:
        oid = f"{stream}:{ident}"
        held = state.units_held.get(oid)
        if held is None or not any(state.within(u, key.unit) for u in held):
            held = _units_of(state, stream, ident, kind)  # a transfer may have moved it
            state.units_held[oid] = held
            while len(state.units_held) > UNITS_HELD:
                state.units_held.pop(next(iter(state.units_held)))
        require_unit(request, state, key, list(held), what)
    with state.writes:
        recorded = state.ledger.record(event, idempotency_key=idempotency_key or None)
    return recorded.as_dict()


UNITS_HELD = 100_000  # aggregates whose units are remembered (they only grow: transfers)


def _named_units(kind: str, key: str, data: dict[str, Any]) -> list[str]:
    """The unit an action that creates an aggregate names (the parent, for a new unit; the
    unit itself for a capability)."""
    if kind == "unit.registered":
        return [data["parent"]] if isinstance(data.get("parent"), str) else []
    if kind == "unit.capability_set":
        return [key]
    return [data["unit"]] if isinstance(data.get("unit"), str) else []


def _units_of(state: ApiState, stream: str, key: str, kind: str) -> tuple[str, ...]:
    """The units an aggregate belongs to: its own, and the holder a transfer gave a dossier.
    404 when it does not exist yet."""
    aggregate, _ = state.ledger.load(f"{stream}:{key}")
    if aggregate is None:
        raise ApiError(404, "not_found", f"no {stream} {key!r} yet: {kind} refused (its "
                       f"first event must be recorded first); nothing recorded", field="id")
    held = [getattr(aggregate, "holder_unit", None), getattr(aggregate, "unit", None)]
    return tuple(unit for unit in held if isinstance(unit, str))
