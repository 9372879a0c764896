"""Stored events: the canonical envelope as the stored state, and its decoding into the
domain's event objects (the eventsourcing mapper of this ledger)."""

from __future__ import annotations

import re
import typing
from datetime import date, datetime
from functools import cache
from typing import Any

import orjson
from eventsourcing.domain import CanInitAggregate
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from domain.base import StreamAggregate
from domain.dossier import Dossier
from domain.petition import Petition
from domain.procedure import Procedure
from domain.unit_profile import UnitProfile

AGGREGATES: dict[str, type[StreamAggregate]] = {
    cls.STREAM: cls for cls in (Dossier, Procedure, Petition, UnitProfile)
}
REQUEST_STREAM = "request"  # idempotency records; not part of the exported ledger


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@cache
def wire_classes() -> dict[str, type[Any]]:
    """Wire type (``dossier.supplement_requested``) → domain event class."""
    classes: dict[str, type[Any]] = {}
    for stream, aggregate in AGGREGATES.items():
        for name, value in vars(aggregate).items():
            if isinstance(value, type) and name not in ("Event", "Created", "CapabilityFirstSet"):
                classes[f"{stream}.{_snake(name)}"] = value
    return classes


@cache
def wire_type_of(event_class: type[Any]) -> str:
    if event_class is UnitProfile.CapabilityFirstSet:
        return "unit.capability_set"
    stream = event_class.__qualname__.split(".")[0]
    for aggregate in AGGREGATES.values():
        if aggregate.__name__ == stream:
            return f"{aggregate.STREAM}.{_snake(event_class.__name__)}"
    raise KeyError(event_class)


@cache
def topic_of(wire_type: str, seq: int) -> str:
    """The topic stored with an event of this type at this position in its stream."""
    if wire_type == "unit.capability_set" and seq == 1:
        return get_topic(UnitProfile.CapabilityFirstSet)
    return get_topic(wire_classes()[wire_type])


@cache
def _converters(event_class: type[Any]) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(event_class)
    converters: list[tuple[str, Any]] = []
    for field, hint in hints.items():
        options = typing.get_args(hint) or (hint,)
        if datetime in options:
            converters.append((field, datetime.fromisoformat))
        elif date in options:
            converters.append((field, date.fromisoformat))
    return tuple(converters)


@cache
def _field_names(event_class: type[Any]) -> tuple[str, ...]:
    return tuple(typing.get_type_hints(event_class))


def decode_state(state: bytes) -> dict[str, Any]:
    value = orjson.loads(state)
    if not isinstance(value, dict):
        raise ValueError("stored state is not a JSON object")
    return value


def to_domain_event(stored: StoredEvent, envelope: dict[str, Any] | None = None) -> Any:
    """Rebuild the domain event object from a stored envelope."""
    if envelope is None:
        envelope = decode_state(stored.state)
    event_class = resolve_topic(stored.topic)
    fields: dict[str, Any] = dict(envelope["data"])
    fields["at"] = envelope["at"]
    for field, convert in _converters(event_class):
        value = fields.get(field)
        if isinstance(value, str):
            fields[field] = convert(value)
    fields["originator_id"] = stored.originator_id
    fields["originator_version"] = stored.originator_version
    fields["timestamp"] = datetime.fromisoformat(envelope["recorded_at"])
    if issubclass(event_class, CanInitAggregate):
        aggregate = AGGREGATES[envelope["stream"]]
        fields["originator_topic"] = get_topic(aggregate)
        # A created event carries every __init__ parameter (optional ones may be absent).
        for name in _field_names(event_class):
            fields.setdefault(name, None)
    event = object.__new__(event_class)
    object.__setattr__(event, "__dict__", fields)
    return event


class EnvelopeMapper(Mapper[str]):
    """Reads events stored as canonical envelopes. Writing goes through the ledger's own
    encoder (it needs the chain), so ``to_stored_event`` is not used."""

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return to_domain_event(stored_event)

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        raise NotImplementedError("events are recorded through DossierLedger, with their chain")


def data_of(event: Any) -> dict[str, Any]:
    """The wire ``data`` of a domain event created by a command (JSON values)."""
    skip = {"originator_id", "originator_version", "timestamp", "originator_topic", "at"}
    data = {}
    for key, value in vars(event).items():
        if key in skip:
            continue
        received = Petition.Received  # type: ignore[attr-defined]
        if key == "dossier" and value is None and isinstance(event, received):
            continue
        data[key] = value.isoformat() if isinstance(value, date) else value
    return data
