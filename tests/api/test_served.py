"""``dossier serve`` as a client sees it: rankings JSON and CSV with the moment and ledger
position they reflect, the stream that follows new events, readiness, and schemathesis
against the app's own schema (no 5xx; a refused request records nothing)."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import httpx
import orjson
import pytest

from tests.api.conftest import Served, bearer

pytestmark = pytest.mark.slow

PERIOD = "2026-10"


def post_resolved_dossier(served: Served, province: str, n: int = 1) -> int:
    """A procedure of ``province`` and a dossier resolved on time under it, through the API
    (admin key); the position of the last event."""
    key = bearer(served.keys.admin)
    procedure, dossier = f"p-{province}-{n}", f"d-{province}-{n}"
    steps: list[tuple[str, str, str, dict[str, Any]]] = [
        ("procedures", procedure, "registered", {
            "code": f"9.{province}{n:03d}", "name": "Thủ tục thử nghiệm", "unit": province,
            "statutory_days": 5, "fee_vnd": 0, "requires_result_document": True,
            "full_online_eligible": True, "citizen_target": True,
            "legal_basis_effective_on": "2026-01-01"}),
        ("dossiers", dossier, "submitted", {
            "code": f"T.{province}-{n}", "procedure": procedure, "unit": province,
            "channel": "online", "applicant_kind": "citizen", "applicant_ref": f"ref-{n}",
            "vneid_verified": True, "components": []}),
        ("dossiers", dossier, "received", {}),
        ("dossiers", dossier, "resolved", {"electronic_result": True,
                                           "pushed_to_personal_store": True}),
        ("dossiers", dossier, "result_returned", {"method": "online"}),
        ("dossiers", dossier, "synced", {}),
        ("dossiers", dossier, "rated", {"satisfied": True}),
    ]
    position = 0
    for minute, (stream, ident, action, data) in enumerate(steps):
        answer = httpx.post(f"{served.url}/v1/{stream}/{ident}/{action}", headers=key,
                            json={"at": f"2026-10-08T09:{minute:02d}:00+07:00", "data": data},
                            timeout=30)
        assert answer.status_code == 201, answer.text
        position = answer.json()["position"]
    return int(position)


def total_of(answer: dict[str, Any], unit: str) -> float:
    return next(row["total"] for row in answer["rows"] if row["unit"] == unit)


def test_rankings_json_and_csv_name_their_moment_and_position(served: Served) -> None:
    answer = httpx.get(f"{served.url}/v1/rankings", params={"period": PERIOD}).json()
    assert len(answer["rows"]) == 34
    assert answer["position"] > 0 and answer["as_of"].endswith("+07:00")
    assert [row["rank"] for row in answer["rows"][:2]] == [1, 2]
    text = httpx.get(f"{served.url}/v1/rankings", params={"period": PERIOD,
                                                          "format": "csv"})
    assert text.headers["content-type"].startswith("text/csv")
    assert int(text.headers["x-ledger-position"]) == answer["position"]
    rows = list(csv.DictReader(io.StringIO(text.text)))
    assert len(rows) == 34 and {"as_of", "position", "G1", "G5"} <= set(rows[0])
    communes = httpx.get(f"{served.url}/v1/rankings", params={
        "period": PERIOD, "kind": "commune", "province": "22"}).json()
    assert communes["rows"] and all(r["kind"] == "commune" for r in communes["rows"])
    score = httpx.get(f"{served.url}/v1/scores/22", params={"period": PERIOD}).json()
    assert score["unit"] == "22" and len(score["groups"]) == 6
    series = httpx.get(f"{served.url}/v1/scores/22/series", params={"period": PERIOD}).json()
    assert series["points"] and series["points"][-1]["position"] <= answer["position"]
    ready = httpx.get(f"{served.url}/ready").json()
    assert ready["ready"] is True and ready["runner"]["lag"] == 0


def test_the_stream_sends_the_ranking_again_when_events_change_it(served: Served) -> None:
    with httpx.stream("GET", f"{served.url}/v1/stream/rankings", params={"period": PERIOD},
                      timeout=60) as stream:
        events = _events(stream.iter_lines())
        first = next(events)
        before = total_of(first, "04")
        position = post_resolved_dossier(served, "04")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            update = next(events)
            # a cycle may take several of the new events (rows keep the position of the
            # cycle that last changed them): a later position and a changed total suffice
            if update is not None and first["position"] < update["position"] <= position \
                    and total_of(update, "04") != before:
                break
        else:
            raise AssertionError("no ranking event after the new events")


def _events(lines: Any) -> Any:
    data = b""
    for line in lines:
        if line.startswith("data: "):
            data = line[len("data: "):].encode()
        elif line == "" and data:
            yield orjson.loads(data)
            data = b""
        elif line.startswith(":"):
            yield None  # a keepalive: the reader may look at its clock


def test_schemathesis_finds_no_server_error_and_refusals_record_nothing(
        served: Served) -> None:
    """Generated requests from the app's own schema, with an auditor's key (every command
    refused, every read allowed): no 5xx, and the ledger is exactly as it was."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings

    @schemathesis.serializer("application/x-ndjson")
    def ndjson(context: Any, value: Any) -> bytes:  # a JSONL file: what was generated, as text
        return value.encode() if isinstance(value, str) else orjson.dumps(value)

    before = served.export()
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json").exclude(
        path="/v1/stream/rankings")
    headers = bearer(served.keys.auditor)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=3, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(headers=headers, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: "
                                f"{response.status_code} {response.text[:200]}")
            else:
                kind = response.headers.get("content-type", [""])
                kind = kind[0] if isinstance(kind, list) else kind
                assert kind.startswith(("application/json", "text/csv")), case.formatted_path

        check()
    assert not failures, failures
    assert served.export() == before
