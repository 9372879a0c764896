"""Hostile input never reaches the ledger, and whatever it accepts every reader can read.

The reproductions of the reliability run (poisoned timestamps, unbounded numbers, duplicate
keys, oversize lines) are refused naming the field; a hypothesis property throws events at
the edges of every limit and checks that each one the ledger accepts is read back by the
history, the scoring engine, the runner's projector (facts, archive, scores, rows encoded as
ClickHouse receives them), verify and export."""

from __future__ import annotations

import contextlib
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.base import LedgerRuleError
from ledger.application import DossierLedger
from ledger.audit import history, verify
from ledger.config import StoreConfig
from ledger.errors import ImportRejected, LedgerError
from ledger.transfer import export_lines, import_lines
from ledger.wire import MAX_LINE_BYTES, JsonError, WireError, decode_json
from projections.clickhouse.writer import Batch
from projections.periods import parse_instant, period_of_kind
from streams.projector import Projector
from tests.conftest import EXAMPLE_EVENTS, FrozenClock
from tests.unit.helpers import catalogue, submitted

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def fresh_ledger() -> DossierLedger:
    ledger = DossierLedger(StoreConfig("memory"), clock=FrozenClock(NOW))
    catalogue(ledger)
    ledger.record(submitted("d1"))
    return ledger


def refused(ledger: DossierLedger, event: dict[str, Any]) -> str:
    before = ledger.max_position()
    with pytest.raises((WireError, LedgerRuleError, LedgerError)) as caught:
        ledger.record(event)
    assert ledger.max_position() == before, "a refused event recorded something"
    return str(caught.value)


@pytest.mark.parametrize(("at", "why"), [
    ("2026-10-05t10:00:00z", "not an RFC 3339 timestamp"),
    ("1796579200", "not an RFC 3339 timestamp"),
    ("0001-01-01T00:00:00+07:00", "outside 2000-01-01"),
    ("2026-10-05 10:00:00+07:00", "not an RFC 3339 timestamp"),
    ("2026-10-05T10:00:00+15:00", "not an RFC 3339 timestamp"),
    ("2026-10-05T10:00:00.1234567+07:00", "not an RFC 3339 timestamp"),
    ("2026-02-30T10:00:00+07:00", "not a valid time"),
    ("2026-10-05T10:00:00", "naive timestamp"),
])
def test_a_poisoned_timestamp_is_refused_naming_the_field(at: str, why: str) -> None:
    ledger = fresh_ledger()
    event = {"type": "dossier.received", "id": "d1", "at": at, "data": {}}
    message = refused(ledger, event)
    assert message.startswith("at:") and why in message


@pytest.mark.parametrize(("field", "value", "why"), [
    ("due_at", "9999-12-31T23:59:59-12:00", "outside 2000-01-01"),
    ("due_at", 1796579200, "must be a string"),
])
def test_a_poisoned_due_date_is_refused(field: str, value: Any, why: str) -> None:
    ledger = fresh_ledger()
    event = {"type": "dossier.received", "id": "d1", "at": "2026-10-02T09:00:00+07:00",
             "data": {field: value}}
    message = refused(ledger, event)
    assert message.startswith(f"data.{field}:") and why in message


@pytest.mark.parametrize(("data", "field"), [
    ({"statutory_days": 1_000_000_000}, "data.statutory_days"),
    ({"fee_vnd": 10**13}, "data.fee_vnd"),
    ({"name": "x" * 501}, "data.name"),
    ({"name": "tab\tin a name"}, "data.name"),
    ({"code": "x" * 129}, "data.code"),
    ({"legal_basis_effective_on": "1899-01-01"}, "data.legal_basis_effective_on"),
    ({"legal_basis_effective_on": "2026-1-1"}, "data.legal_basis_effective_on"),
])
def test_unbounded_numbers_and_strings_are_refused(data: dict[str, Any], field: str) -> None:
    ledger = fresh_ledger()
    base = {"code": "1.000002", "name": "Thủ tục", "unit": "22.SXD", "statutory_days": 5,
            "fee_vnd": 0, "requires_result_document": False, "full_online_eligible": False,
            "citizen_target": False, "legal_basis_effective_on": "2026-10-01"}
    event = {"type": "procedure.registered", "id": "p2", "at": "2026-10-02T09:00:00+07:00",
             "data": base | data}
    assert refused(ledger, event).startswith(f"{field}:")


def test_too_many_components_and_a_huge_string_are_refused() -> None:
    ledger = fresh_ledger()
    event = submitted("d2")
    event["data"]["components"] = event["data"]["components"] * 101
    assert refused(ledger, event).startswith("data.components:")
    event = submitted("d3")
    event["data"]["applicant_ref"] = "x" * 50_000_000
    assert refused(ledger, event).startswith("data.applicant_ref:")


def test_free_text_may_hold_line_breaks_but_no_other_control_character() -> None:
    ledger = fresh_ledger()
    ledger.record({"type": "dossier.received", "id": "d1", "at": "2026-10-02T09:00:00+07:00",
                   "data": {}})
    ledger.record({"type": "dossier.supplement_requested", "id": "d1",
                   "at": "2026-10-02T10:00:00+07:00", "data": {"reason": "Thiếu:\n- đơn"}})
    message = refused(ledger, {"type": "dossier.supplement_completed", "id": "d1",
                               "at": "2026-10-02T11:00:00+07:00", "data": {"x": "\x00"}})
    assert "unknown field" in message
    message = refused(ledger, {"type": "dossier.rejected", "id": "d1",
                               "at": "2026-10-02T11:00:00+07:00", "data": {"reason": "a\x07"}})
    assert message.startswith("data.reason:") and "control character" in message


def test_timestamps_are_stored_in_one_canonical_text() -> None:
    ledger = fresh_ledger()
    ledger.record({"type": "dossier.received", "id": "d1", "at": "2026-10-02T02:00:00.5Z",
                   "data": {"due_at": "2026-10-09T00:00:00.000000+07:00"}})
    stored = ledger.stream_envelopes("dossier", "d1")[-1]
    assert stored["at"] == "2026-10-02T02:00:00.500000+00:00"
    assert stored["data"]["due_at"] == "2026-10-09T00:00:00+07:00"


@pytest.mark.parametrize("line", [
    b'{"type":"dossier.fee_paid","data":{"amount_vnd":1,"amount_vnd":2000}}',
    b'{"type":"dossier.fee_paid","type":"dossier.rated","data":{}}',
    b'{"id":"d0","id":"d1","data":{}}',
    b'{"data":{"components":[{"name":"a","name":"b"}]}}',
])
def test_a_duplicate_key_at_any_depth_is_refused(line: bytes) -> None:
    with pytest.raises(JsonError, match="duplicate key"):
        decode_json(line)


def test_escaped_quotes_are_not_mistaken_for_duplicate_keys() -> None:
    line = orjson.dumps({"reason": 'say "a": then "a":', "nested": {"q\\": 1, "a": [1]}})
    assert decode_json(line) == orjson.loads(line)


def test_an_import_with_a_duplicate_key_records_nothing_and_names_the_line() -> None:
    ledger = DossierLedger(StoreConfig("memory"), clock=FrozenClock(NOW))
    lines = EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b'{"type"', b'{"type": "procedure.abolished", "type"', 1)
    with pytest.raises(ImportRejected) as caught:
        import_lines(ledger, lines)
    assert caught.value.line == 4 and caught.value.rule == "json"
    assert "duplicate key 'type'" in str(caught.value)
    assert ledger.max_position() == 0


def test_an_oversize_line_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(JsonError, match="at most 65,536 bytes"):
        decode_json(b'{"a":"' + b"x" * MAX_LINE_BYTES + b'"}')


# -- the property -----------------------------------------------------------------------------

def instants() -> st.SearchStrategy[str]:
    """Timestamps at and beyond the edges: 2000, now + 5 min, offsets to ±14:00, fractions."""
    moments = st.datetimes(min_value=datetime(1999, 12, 31), max_value=datetime(2026, 11, 21),
                           timezones=st.just(UTC))
    offsets = st.sampled_from(["Z", "+00:00", "+07:00", "-12:00", "+14:00", "-14:00"])
    fractions = st.sampled_from(["", ".5", ".000001", ".999999"])

    def text(moment: datetime, offset: str, fraction: str) -> str:
        shift = 0 if offset == "Z" else int(offset[:3]) * 60 + int(offset[0] + offset[4:])
        local = moment + timedelta(minutes=shift)
        return f"{local:%Y-%m-%dT%H:%M:%S}{fraction}{offset}"

    edges = st.sampled_from(["2000-01-01T00:00:00Z", "2000-01-01T06:59:59.999999+07:00",
                             "2026-11-20T19:05:00+07:00", "2026-11-20T12:05:00.000001Z"])
    return st.one_of(edges, st.builds(text, moments, offsets, fractions))


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
steps = st.lists(st.tuples(
    st.sampled_from(["received", "supplement_requested", "supplement_completed", "appraised",
                     "fee_paid", "resolved", "result_returned", "apology_issued", "rated",
                     "synced", "withdrawn"]),
    instants(), texts,
    st.one_of(st.integers(0, 10**12), st.integers(-5, 10**13)),
    st.one_of(st.none(), instants(), st.just("2099-12-31T23:59:59.999999-14:00"))),
    max_size=8)


def step_event(kind: str, at: str, text: str, amount: int, due: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "received": {} if due is None else {"due_at": due},
        "supplement_requested": {"reason": text}, "supplement_completed": {},
        "appraised": {"by": text}, "fee_paid": {"amount_vnd": amount, "method": "cash"},
        "resolved": {"electronic_result": True, "pushed_to_personal_store": False},
        "result_returned": {"method": "counter"},
        "apology_issued": {"new_due_at": due or at, "reason": text},
        "rated": {"satisfied": False}, "synced": {}, "withdrawn": {}}[kind]
    return {"type": f"dossier.{kind}", "id": "d1", "at": at, "data": data}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days=st.integers(0, 400), submitted_at=instants(), steps=steps,
       ref=st.text(alphabet=string.printable.strip(), min_size=1, max_size=30))
def test_whatever_is_accepted_is_readable_by_every_reader(
        days: int, submitted_at: str, steps: list[tuple[str, str, str, int, str | None]],
        ref: str) -> None:
    ledger = DossierLedger(StoreConfig("memory"), clock=FrozenClock(NOW))
    catalogue(ledger)
    attempts = [{"type": "procedure.registered", "id": "p9", "at": "2000-01-01T00:00:00Z",
                 "data": {"code": "1.9", "name": "T", "unit": "22.SXD",
                          "statutory_days": days, "fee_vnd": 0,
                          "requires_result_document": True, "full_online_eligible": True,
                          "citizen_target": True, "legal_basis_effective_on": "2099-12-31"}}]
    dossier = submitted("d1", procedure="p9")
    dossier["at"] = submitted_at
    dossier["data"]["applicant_ref"] = ref
    attempts.append(dossier)
    attempts += [step_event(*s) for s in steps]
    for event in attempts:
        with contextlib.suppress(WireError, LedgerRuleError, LedgerError):
            ledger.record(event)
    read_everything(ledger)


def read_everything(ledger: DossierLedger) -> None:
    assert verify(ledger).ok
    exported = list(export_lines(ledger))
    assert len(exported) == len(list(ledger.read_envelopes()))
    if ledger.stream_envelopes("dossier", "d1"):
        history(ledger, "d1", NOW + timedelta(days=3650))
        history(ledger, "CODE-d1", datetime(2000, 1, 1, tzinfo=UTC))
    projector = Projector(b"key")
    raw = list(ledger.read_raw())
    envelopes = [e for e, _ in raw]
    groups, dossiers = projector.fold(envelopes)
    batch = Batch()
    projector.event_rows(batch, raw)
    moments = {NOW, NOW + timedelta(days=800)}
    moments |= {datetime.fromisoformat(e["at"]) for e in envelopes}
    for moment in sorted(moments):
        projector.fact_rows(batch, dossiers, moment)
        projector.score_rows(batch, groups, moment, NOW, only_changed=False)
        projector.turned_rows(batch, moment)
    batch.encode()
    for envelope in envelopes:
        instant = parse_instant(envelope["at"])
        for kind in ("month", "quarter", "year"):
            period = period_of_kind(kind, instant)
            projector.engine.rank("province", period.key, NOW)
