"""Who may do what: the key a request carries (``Authorization: Bearer …`` or ``X-API-Key``),
its role and its unit. Every refusal is logged with the key's id, never the key."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import ApiError, translate
from app.api.keys import ApiKey, KeyRefused, Role
from app.api.state import ApiState

log = logging.getLogger("dossier.api.access")

WRITERS = (Role.ADMIN, Role.AGENCY)
READERS = (Role.ADMIN, Role.AGENCY, Role.AUDITOR)
AUDITORS = (Role.ADMIN, Role.AUDITOR)
ADMINS = (Role.ADMIN,)
ROLES = "x-roles"  # an operation's roles, in its OpenAPI entry
GATE_KEY = "api_key"


def roles_extra(roles: tuple[Role, ...]) -> dict[str, Any]:
    """An operation's ``openapi_extra``: the roles whose keys it accepts (none: public)."""
    return {ROLES: [r.value for r in roles], "security": [{"apiKey": []}]}


class Gate:
    """ASGI middleware: the key of a request to a protected operation is checked before
    anything else (a bad body from someone without a valid key is a 401, not a 422)."""

    def __init__(self, app: ASGIApp, state: ApiState, routes: Callable[[], list[BaseRoute]]
                 ) -> None:
        self.app = app
        self.state = state
        self.routes = routes
        self._table: list[tuple[re.Pattern[str], set[str], tuple[Role, ...], str | None]] \
            | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            roles, command, match = self._roles(scope)
            if roles:
                request = Request(scope)
                try:
                    key = caller(request, self.state, roles)
                except ApiError as error:
                    status, payload = translate(error)
                    response = JSONResponse(payload, status_code=status, headers=error.headers)
                    await response(scope, receive, send)
                    return
                scope.setdefault("state", {})[GATE_KEY] = key
                if command and match is not None:
                    from app.api.commands import handle_command

                    await handle_command(scope, receive, send, self.state, key, command,
                                         match.group("id"))
                    return
        await self.app(scope, receive, send)

    def _roles(self, scope: Scope
               ) -> tuple[tuple[Role, ...], str | None, re.Match[str] | None]:
        """The roles a request's operation accepts (none: public), the event type when it is
        a command, and the match of its path."""
        if self._table is None:  # built at the first request, once every route is added
            self._table = [(route.path_regex, route.methods or set(), roles,
                            (route.openapi_extra or {}).get("x-command"))
                           for route in self.routes() if isinstance(route, APIRoute)
                           and (roles := tuple(Role(r) for r in (route.openapi_extra or {})
                                               .get(ROLES, ())))]
        path, method = scope["path"], scope["method"]
        for pattern, methods, roles, command in self._table:
            if method in methods and (match := pattern.match(path)):
                return roles, command, match
        return (), None, None


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
    """The request's key when it is valid and has one of ``roles``; else 401 or 403 (the
    gate has checked it already, before the body was read: its answer is reused)."""
    checked = request.scope.get("state", {}).get(GATE_KEY)
    if isinstance(checked, ApiKey) and checked.role in roles:
        return checked
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
