"""Who may do what: the key a request carries (``Authorization: Bearer …`` or ``X-API-Key``),
its role and its unit. Every refusal is logged with the key's id, never the key."""

from __future__ import annotations

import logging

from fastapi import Request

from app.api.errors import ApiError
from app.api.keys import ApiKey, KeyRefused, Role
from app.api.state import ApiState

log = logging.getLogger("dossier.api.access")

WRITERS = (Role.ADMIN, Role.AGENCY)
READERS = (Role.ADMIN, Role.AGENCY, Role.AUDITOR)


def _secret(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key") or None


def refuse(request: Request, status: int, reason: str, key_id: str | None = None,
           *, rule: str) -> ApiError:
    """Log a refused attempt (method, path, client, the key's id if known, why) and the
    error to raise."""
    client = request.client.host if request.client else "?"
    log.warning("refused %s %s from %s key=%s: %s", request.method, request.url.path, client,
                key_id or "-", reason)
    code = "unauthorized" if status == 401 else "forbidden"
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return ApiError(status, code, reason, field="Authorization" if status == 401 else None,
                    rule=rule, headers=headers)


def caller(request: Request, state: ApiState, roles: tuple[Role, ...]) -> ApiKey:
    """The request's key when it is valid and has one of ``roles``; else 401 or 403."""
    secret = _secret(request)
    if secret is None:
        raise refuse(request, 401, "an API key is required (Authorization: Bearer <key>)",
                     rule="authentication")
    try:
        key = state.keys.authenticate(secret, state.clock())
    except KeyRefused as refused:
        raise refuse(request, 401, f"{refused.reason}: the API key opens nothing",
                     refused.key_id, rule="authentication") from None
    if key.role not in roles:
        raise refuse(request, 403, f"the {key.role.value} key may not do this (it needs: "
                     f"{', '.join(r.value for r in roles)})", key.key_id, rule="role")
    return key


def require_unit(request: Request, state: ApiState, key: ApiKey, units: list[str],
                 what: str) -> None:
    """403 unless one of ``units`` is the key's unit or lies below it (a key without a unit
    covers every unit)."""
    if key.unit is None:
        return
    if any(state.within(unit, key.unit) for unit in units):
        return
    raise refuse(request, 403, f"the key of unit {key.unit} may not act on {what} "
                 f"(unit {', '.join(units) or 'unknown'} is not {key.unit} nor below it)",
                 key.key_id, rule="unit")
