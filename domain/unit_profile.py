"""The unit stream: a unit's registration (for units outside the built-in list) and its
capabilities (e.g. ``e_certified_copy``, chứng thực bản sao điện tử)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from eventsourcing.domain import event

from domain.base import InvalidValue, StreamAggregate, check_aware, check_text, check_type
from domain.units import UnitKind


class UnitProfile(StreamAggregate):
    """The events of one unit, keyed by its code. A built-in unit's stream opens with its
    first ``unit.capability_set``; any other unit's with ``unit.registered``."""

    STREAM: ClassVar[str] = "unit"

    @event("Registered")
    def __init__(
        self, at: datetime, name: str | None = None, parent: str | None = None,
        kind: str | None = None
    ) -> None:
        self.last_at = at
        self.name = name
        self.parent = parent
        self.kind = kind
        self.registered = kind is not None
        self.capabilities: dict[str, bool] = {}

    @classmethod
    def register(cls, code: str, *, at: datetime, name: str, parent: str | None,
                 kind: str) -> UnitProfile:
        what = f"unit {code}: registered"
        check_aware(at, f"{what} 'at'")
        check_type(name, str, f"{what} 'name'")
        if parent is not None:
            check_type(parent, str, f"{what} 'parent'")
        if kind not in tuple(UnitKind):
            raise InvalidValue(f"{what} 'kind'", f"{kind!r} is not one of "
                               f"{', '.join(UnitKind)}")
        created = cls.Registered  # type: ignore[attr-defined]
        return cls._create(created, id=cls.aggregate_id(code), at=at, name=name,
                           parent=parent or None, kind=kind)

    @classmethod
    def open_builtin(cls, code: str, *, at: datetime, capability: str,
                     enabled: bool) -> UnitProfile:
        """First event of a built-in unit's stream (an official province or commune)."""
        _check_capability(code, at, capability, enabled)
        return cls._create(cls.CapabilityFirstSet, id=cls.aggregate_id(code), at=at,
                           capability=capability, enabled=enabled)

    def set_capability(self, at: datetime, *, capability: str, enabled: bool) -> None:
        self.check_at(at, "capability_set")
        _check_capability(self.key, at, capability, enabled)
        self._capability_set(at=at, capability=capability, enabled=enabled)

    class CapabilityFirstSet(StreamAggregate.Created):
        at: datetime
        capability: str
        enabled: bool

        def apply(self, aggregate: UnitProfile) -> None:  # type: ignore[override]
            aggregate.capabilities[self.capability] = self.enabled

    @event("CapabilitySet")
    def _capability_set(self, at: datetime, capability: str, enabled: bool) -> None:
        self.last_at = at
        self.capabilities[capability] = enabled


def _check_capability(code: str, at: datetime, capability: str, enabled: bool) -> None:
    what = f"unit {code}: capability_set"
    check_aware(at, f"{what} 'at'")
    check_text(capability, f"{what} 'capability'")
    check_type(enabled, bool, f"{what} 'enabled'")
