"""Every lifecycle rule of docs/events.md, allowed and refused; a refusal records nothing."""

from __future__ import annotations

import pytest

from domain.base import IllegalTransition, LedgerRuleError, TimeWentBackwards
from ledger.application import DossierLedger
from ledger.dispatch import StreamExists, StreamNotFound, UnknownReference
from ledger.errors import FutureEvent
from ledger.wire import WireError
from tests.unit.helpers import catalogue, dossier_through, step, submitted


@pytest.fixture
def ledger(memory_ledger: DossierLedger) -> DossierLedger:
    catalogue(memory_ledger)
    return memory_ledger


def refused(ledger: DossierLedger, event: dict, error: type[Exception] = IllegalTransition,
            match: str | None = None) -> None:
    before = ledger.max_position()
    with pytest.raises(error, match=match):
        ledger.record(event)
    assert ledger.max_position() == before, "a refused action recorded something"


ALLOWED = [
    ("received",),
    ("refused",),
    ("received", "supplement_requested", "supplement_completed", "appraised", "approved",
     "signed", "resolved", "result_returned", "fee_paid", "synced", "rated"),
    ("received", "supplement_requested", "withdrawn"),
    ("received", "supplement_requested", "stopped"),
    ("received", "supplement_requested", "rejected"),
    ("received", "supplement_requested", "transferred", "fee_requested", "fee_paid",
     "apology_issued", "synced"),
    ("received", "supplement_requested", "supplement_completed", "supplement_requested",
     "supplement_completed", "resolved"),
    ("received", "withdrawn", "synced", "rated"),
    ("received", "rated", "resolved"),
]


@pytest.mark.parametrize("path", ALLOWED, ids=["-".join(p) for p in ALLOWED])
def test_allowed_paths_are_recorded(ledger: DossierLedger, path: tuple[str, ...]) -> None:
    dossier_through(ledger, *path)
    assert len(ledger.stream_envelopes("dossier", "d1")) == len(path) + 1


REFUSED = [
    ((), "appraised", "only allowed when|not allowed when the dossier is submitted"),
    ((), "supplement_requested", "not allowed when the dossier is submitted"),
    (("refused",), "received", "only allowed when the dossier is submitted"),
    (("refused",), "synced", "not allowed when the dossier is refused"),
    (("received",), "received", "only allowed when the dossier is submitted"),
    (("received",), "supplement_completed", "no supplement request is open"),
    (("received", "supplement_requested"), "supplement_requested", "already open"),
    (("received", "supplement_requested"), "appraised", "supplement request is open"),
    (("received", "supplement_requested"), "approved", "supplement request is open"),
    (("received", "supplement_requested"), "signed", "supplement request is open"),
    (("received", "supplement_requested"), "resolved", "supplement request is open"),
    (("received", "resolved"), "appraised", "after resolved only"),
    (("received", "resolved"), "apology_issued", "after resolved only"),
    (("received", "resolved"), "withdrawn", "after resolved only"),
    (("received", "resolved"), "resolved", "after resolved only"),
    (("received", "withdrawn"), "resolved", "processing ended"),
    (("received", "stopped"), "supplement_requested", "processing ended"),
    (("received", "rejected"), "fee_paid", "processing ended"),
    (("received", "rated"), "rated", "at most once"),
]


@pytest.mark.parametrize(("path", "action", "rule"), REFUSED,
                         ids=[f"{'-'.join(p) or 'submitted'}-then-{a}" for p, a, _ in REFUSED])
def test_refused_actions_name_the_rule(ledger: DossierLedger, path: tuple[str, ...],
                                       action: str, rule: str) -> None:
    dossier_through(ledger, *path)
    refused(ledger, step(action, day=5), IllegalTransition, rule)


def test_the_error_names_dossier_action_and_state(ledger: DossierLedger) -> None:
    dossier_through(ledger, "received", "supplement_requested")
    with pytest.raises(IllegalTransition) as caught:
        ledger.record(step("resolved", day=5))
    assert (caught.value.key, caught.value.action, caught.value.state) == (
        "d1", "resolved", "supplement_requested")
    assert "dossier d1" in str(caught.value)


def test_apology_needs_a_later_due_date(ledger: DossierLedger) -> None:
    dossier_through(ledger, "received")  # received Fri 2 Oct 08:00, 5 days: due 10 Oct 00:00
    refused(ledger, step("apology_issued", day=5, new_due_at="2026-10-09T17:00:00+07:00",
                         reason="x"), IllegalTransition, "not later than the current due date")
    ledger.record(step("apology_issued", day=5, new_due_at="2026-10-14T17:00:00+07:00",
                       reason="x"))
    refused(ledger, step("apology_issued", day=6, new_due_at="2026-10-13T17:00:00+07:00",
                         reason="y"), IllegalTransition, "not later than the current due date")


def test_time_never_goes_backwards_within_a_dossier(ledger: DossierLedger) -> None:
    dossier_through(ledger, "received")
    refused(ledger, step("appraised", day=1), TimeWentBackwards, "earlier than the previous")


def test_an_action_cannot_be_recorded_before_it_happens(ledger: DossierLedger) -> None:
    dossier_through(ledger, "received")
    # The test clock stands at 2026-11-20 12:00 UTC = 19:00 in Vietnam.
    event = step("appraised", day=2) | {"at": "2026-11-20T19:06:00+07:00"}
    refused(ledger, event, FutureEvent, "more than 5 minutes after")
    ledger.record(event | {"at": "2026-11-20T19:04:00+07:00"})


def test_a_dossier_needs_a_registered_procedure_of_its_unit_or_above(
    ledger: DossierLedger,
) -> None:
    refused(ledger, submitted(procedure="nope"), UnknownReference, "unknown procedure 'nope'")
    refused(ledger, submitted(unit="22.STNMT"), UnknownReference, "neither unit")
    refused(ledger, submitted(unit="99"), UnknownReference, "unknown unit '99'")
    ledger.record({"type": "procedure.registered", "id": "p-prov",
                   "at": "2026-09-02T08:00:00+07:00", "data": {**_procedure("22")}})
    ledger.record(submitted(unit="22.STNMT", procedure="p-prov"))  # a province's procedure


def _procedure(unit: str) -> dict:
    from tests.unit.helpers import procedure_data

    return procedure_data(unit=unit)


def test_streams_start_with_their_first_event(ledger: DossierLedger) -> None:
    refused(ledger, step("received", key="ghost"), StreamNotFound, "dossier.submitted")
    ledger.record(submitted())
    refused(ledger, submitted(), StreamExists, "already exists")


def test_malformed_events_are_refused_with_the_field(ledger: DossierLedger) -> None:
    bad = step("fee_paid", day=3, amount_vnd="50000", method="cash")
    dossier_through(ledger, "received")
    refused(ledger, bad, WireError, "data.amount_vnd")
    refused(ledger, step("rated", day=3) | {"at": "2026-10-03T09:00:00"}, WireError,
            "naive timestamp")
    refused(ledger, step("rated", day=3, satisfied=True, stars=5), WireError,
            "data.stars: unknown field")
    refused(ledger, {"type": "dossier.teleported", "id": "d1", "at": "2026-10-03T09:00:00Z"},
            WireError, "unknown event type")


def test_units_are_registered_once_under_a_known_parent(ledger: DossierLedger) -> None:
    unit = {"type": "unit.registered", "id": "22.SYT", "at": "2026-09-03T08:00:00+07:00",
            "data": {"name": "Sở Y tế", "parent": "99", "kind": "department"}}
    refused(ledger, unit, UnknownReference, "unknown parent '99'")
    ledger.record(unit | {"data": unit["data"] | {"parent": "22"}})
    refused(ledger, unit | {"id": "22"}, StreamExists, "already exists")
    assert ledger.find_unit("22.SYT") is not None


def test_capabilities_of_official_communes(ledger: DossierLedger) -> None:
    capability = {"type": "unit.capability_set", "id": "07090",
                  "at": "2026-09-03T08:00:00+07:00",
                  "data": {"capability": "e_certified_copy", "enabled": True}}
    ledger.record(capability)
    ledger.record(capability | {"data": {"capability": "e_certified_copy", "enabled": False}})
    refused(ledger, capability | {"id": "99999"}, UnknownReference, "unknown unit")


def test_petitions_are_answered_once(ledger: DossierLedger) -> None:
    ledger.record({"type": "petition.received", "id": "pk1", "at": "2026-10-13T09:00:00+07:00",
                   "data": {"unit": "22.SXD", "kind": "staff_conduct"}})
    ledger.record({"type": "petition.answered", "id": "pk1", "at": "2026-10-14T09:00:00+07:00"})
    refused(ledger, {"type": "petition.answered", "id": "pk1",
                     "at": "2026-10-15T09:00:00+07:00"}, IllegalTransition, "answered once")


def test_abolished_procedures_take_no_further_events(ledger: DossierLedger) -> None:
    ledger.record({"type": "procedure.abolished", "id": "p1", "at": "2026-10-01T08:00:00+07:00"})
    refused(ledger, {"type": "procedure.published", "id": "p1", "at": "2026-10-02T08:00:00+07:00",
                     "data": {"components_complete": True}}, IllegalTransition, "abolished")


def test_rule_errors_share_one_base(ledger: DossierLedger) -> None:
    with pytest.raises(LedgerRuleError):
        ledger.record(step("received", key="ghost"))
