"""Who may call what: 401 without a valid key, 403 with the wrong role or unit, on every
operation of the schema; nothing is recorded by a refused request, and the key never
reaches the log."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from app.api.commands import DATA_EXAMPLES
from tests.api.conftest import InProcess, bearer

PUBLIC = {"/health", "/ready", "/v1/scores/{unit}", "/v1/scores/{unit}/series", "/v1/rankings",
          "/v1/periods", "/v1/stream/rankings"}
PATH_VALUES = {"id": "d-0001", "ref": "d-0001", "unit": "22", "key_id": "000000000000"}
QUERY_VALUES = {"/v1/explain": {"unit": "22.SXD", "indicator": "2.1", "period": "2026-10"},
                "/v1/proofs/inclusion": {"event": "1"}}


def operations(api: InProcess) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (method, path, operation) of the app's own schema."""
    found = []
    for path, methods in api.client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        for method, operation in methods.items():
            found.append((method.upper(), path, operation))
    return found


def call(api: InProcess, method: str, path: str, headers: dict[str, str]) -> Any:
    url = path
    for name, value in PATH_VALUES.items():
        url = url.replace("{" + name + "}", value)
    body: Any = None
    if path.startswith("/v1/") and method == "POST" and "/imports" not in path \
            and "/keys" not in path:
        kind = ".".join(path.split("/")[2:5:2]).replace("s.", ".", 1)
        body = {"at": "2026-10-20T08:00:00+07:00", "data": DATA_EXAMPLES.get(kind, {})}
    if path == "/v1/keys" and method == "POST":
        body = {"role": "auditor"}
    if path == "/v1/imports":
        return api.client.request(method, url, headers=headers, content=b"{}\n")
    return api.client.request(method, url, headers=headers, json=body,
                              params=QUERY_VALUES.get(path))


def test_every_operation_is_public_or_refuses_a_missing_or_wrong_key(api: InProcess) -> None:
    before = api.export()
    protected = 0
    for method, path, operation in operations(api):
        if path == "/v1/stream/rankings":
            continue  # a stream: checked by the served tests
        roles = operation.get("x-roles")
        if path in PUBLIC:
            assert not roles, path
            answer = call(api, method, path, {})
            assert answer.status_code not in (401, 403), (method, path, answer.text)
            continue
        assert roles, f"{method} {path} is neither public nor given roles"
        protected += 1
        for headers in ({}, bearer("dk_000000000000_nope"), bearer("not a key"),
                        bearer(api.keys.expired), bearer(api.keys.revoked),
                        {"X-API-Key": api.keys.expired}):
            answer = call(api, method, path, headers)
            assert answer.status_code == 401, (method, path, headers, answer.text)
            assert answer.json()["code"] == "unauthorized"
    assert protected >= 31 + 6
    assert api.export() == before


ROLE_KEYS = ("admin", "agency_22", "auditor")


def test_roles_matrix(api: InProcess) -> None:
    """An auditor changes nothing; an agency neither imports, manages keys nor reads proofs;
    an admin is refused nowhere for its role."""
    before = api.export()
    for method, path, operation in operations(api):
        roles = operation.get("x-roles")
        if not roles:
            continue
        for name in ROLE_KEYS:
            role = "agency" if name.startswith("agency") else name
            answer = call(api, method, path, bearer(getattr(api.keys, name)))
            if role in roles:
                assert answer.status_code not in (401,) and not (
                    answer.status_code == 403 and answer.json()["rule"] == "role"), \
                    (method, path, name, answer.text)
            else:
                assert answer.status_code == 403, (method, path, name, answer.text)
                assert answer.json()["rule"] == "role"
    recorded = len(api.export()) - len(before)
    # the admin's and agency's calls were allowed: at most one event each per command
    assert recorded <= 2 * 31


def test_agency_acts_only_on_its_unit_and_below(api: InProcess) -> None:
    before = api.export()
    refused = api.client.post("/v1/dossiers/d-0001/appraised", headers=bearer(
        api.keys.agency_01), json={"at": "2026-10-20T08:00:00+07:00", "data": {"by": "x"}})
    assert refused.status_code == 403 and refused.json()["rule"] == "unit"
    assert "01" in refused.json()["message"]
    submitted = api.client.post("/v1/dossiers/n-1/submitted", headers=bearer(
        api.keys.agency_01), json={"at": "2026-10-20T08:00:00+07:00",
                                   "data": DATA_EXAMPLES["dossier.submitted"]})
    assert submitted.status_code == 403  # a dossier of 22.SXD, not of Hà Nội
    assert api.export() == before
    history = api.client.get("/v1/dossiers/d-0001/history", headers=bearer(api.keys.agency_01))
    assert history.status_code == 403
    # the province's key covers its department; the department's key covers itself
    for key in (api.keys.agency_22, api.keys.agency_sxd):
        assert api.client.get("/v1/dossiers/d-0001/history",
                              headers=bearer(key)).status_code == 200
    recorded = api.client.post("/v1/dossiers/n-2/submitted", headers=bearer(
        api.keys.agency_sxd), json={"at": "2026-10-20T08:00:00+07:00",
                                    "data": DATA_EXAMPLES["dossier.submitted"] | {
                                        "procedure": "p-xd-001", "code": "N-2"}})
    assert recorded.status_code == 201, recorded.text
    assert len(api.export()) == len(before) + 1


def test_refused_attempts_are_logged_without_the_key(
        api: InProcess, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dossier.api.access")
    secret = api.keys.auditor
    api.client.post("/v1/dossiers/d-0001/synced", headers=bearer(secret),
                    json={"at": "2026-10-20T08:00:00+07:00", "data": {}})
    api.client.get("/v1/keys", headers=bearer(api.keys.expired))
    text = caplog.text
    assert "refused POST /v1/dossiers/d-0001/synced" in text and "expired key" in text
    assert secret not in text and api.keys.expired not in text
    assert secret.split("_")[1] in text  # the key's id names it


def test_the_key_is_checked_before_the_body_is_read(api: InProcess) -> None:
    for path in ("/v1/dossiers/d-0001/synced", "/v1/imports", "/v1/keys"):
        answer = api.client.post(path, content=b"{not json",
                                 headers={"Content-Type": "application/json"})
        assert answer.status_code == 401, (path, answer.text)
        refused = api.client.post(path, content=b"{not json", headers=bearer(
            api.keys.auditor) | {"Content-Type": "application/json"})
        assert refused.status_code == 403, (path, refused.text)
