"""The procedure (thủ tục hành chính, TTHC) aggregate: one per procedure and authority unit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from eventsourcing.domain import event

from domain.base import (
    IllegalTransition,
    InvalidValue,
    StreamAggregate,
    check_aware,
    check_choice,
    check_text,
    check_type,
)

ONLINE_LEVELS = ("none", "partial", "full")


class Procedure(StreamAggregate):
    """A procedure in a unit's catalogue: its statutory time, fee, publication, online level."""

    STREAM: ClassVar[str] = "procedure"

    @event("Registered")
    def __init__(
        self,
        at: datetime,
        code: str,
        name: str,
        unit: str,
        statutory_days: int,
        fee_vnd: int,
        requires_result_document: bool,
        full_online_eligible: bool,
        citizen_target: bool,
        legal_basis_effective_on: date,
    ) -> None:
        self.last_at = at
        self.code = code
        self.name = name
        self.unit = unit
        self.statutory_days = statutory_days
        self.fee_vnd = fee_vnd
        self.requires_result_document = requires_result_document
        self.full_online_eligible = full_online_eligible
        self.citizen_target = citizen_target
        self.legal_basis_effective_on = legal_basis_effective_on
        self.decisions: list[date] = []
        self.published_at: datetime | None = None
        self.components_complete: bool | None = None
        self.online_level = "none"
        self.payment_integrated = False
        self.abolished_at: datetime | None = None

    @classmethod
    def register(
        cls,
        key: str,
        *,
        at: datetime,
        code: str,
        name: str,
        unit: str,
        statutory_days: int,
        fee_vnd: int,
        requires_result_document: bool,
        full_online_eligible: bool,
        citizen_target: bool,
        legal_basis_effective_on: date,
    ) -> Procedure:
        what = f"procedure {key}: registered"
        check_aware(at, f"{what} 'at'")
        for field, value in (("code", code), ("name", name), ("unit", unit)):
            check_text(value, f"{what} {field!r}")
        for field, number in (("statutory_days", statutory_days), ("fee_vnd", fee_vnd)):
            check_type(number, int, f"{what} {field!r}")
            if number < 0:
                raise InvalidValue(f"{what} {field!r}", f"must be >= 0, got {number}")
        for field, flag in (("requires_result_document", requires_result_document),
                            ("full_online_eligible", full_online_eligible),
                            ("citizen_target", citizen_target)):
            check_type(flag, bool, f"{what} {field!r}")
        _check_date(legal_basis_effective_on, f"{what} 'legal_basis_effective_on'")
        return cls._create(
            cls.Registered,  # type: ignore[attr-defined]
            id=cls.aggregate_id(key),
            at=at,
            code=code,
            name=name,
            unit=unit,
            statutory_days=statutory_days,
            fee_vnd=fee_vnd,
            requires_result_document=requires_result_document,
            full_online_eligible=full_online_eligible,
            citizen_target=citizen_target,
            legal_basis_effective_on=legal_basis_effective_on,
        )

    def issue_decision(self, at: datetime, *, decision_on: date) -> None:
        """Quyết định công bố."""
        self._allow("decision_issued", at)
        _check_date(decision_on, f"procedure {self.key}: decision_issued 'decision_on'")
        self._decision_issued(at=at, decision_on=decision_on)

    def publish(self, at: datetime, *, components_complete: bool) -> None:
        self._allow("published", at)
        check_type(components_complete, bool,
                   f"procedure {self.key}: published 'components_complete'")
        self._published(at=at, components_complete=components_complete)

    def set_online_level(self, at: datetime, *, level: str) -> None:
        self._allow("online_level_set", at)
        check_choice(level, ONLINE_LEVELS, f"procedure {self.key}: online_level_set 'level'")
        self._online_level_set(at=at, level=level)

    def integrate_payment(self, at: datetime, *, integrated: bool) -> None:
        self._allow("payment_integrated", at)
        check_type(integrated, bool, f"procedure {self.key}: payment_integrated 'integrated'")
        self._payment_integrated(at=at, integrated=integrated)

    def abolish(self, at: datetime) -> None:
        self._allow("abolished", at)
        self._abolished(at=at)

    def _allow(self, action: str, at: datetime) -> None:
        self.check_at(at, action)
        if self.abolished_at is not None:
            state = f"abolished at {self.abolished_at.isoformat()}"
            raise IllegalTransition(self.STREAM, self.key, action, state,
                                    "an abolished procedure takes no further events")

    @event("DecisionIssued")
    def _decision_issued(self, at: datetime, decision_on: date) -> None:
        self.last_at = at
        self.decisions.append(decision_on)

    @event("Published")
    def _published(self, at: datetime, components_complete: bool) -> None:
        self.last_at = at
        if self.published_at is None:
            self.published_at = at
        self.components_complete = components_complete

    @event("OnlineLevelSet")
    def _online_level_set(self, at: datetime, level: str) -> None:
        self.last_at = at
        self.online_level = level

    @event("PaymentIntegrated")
    def _payment_integrated(self, at: datetime, integrated: bool) -> None:
        self.last_at = at
        self.payment_integrated = integrated

    @event("Abolished")
    def _abolished(self, at: datetime) -> None:
        self.last_at = at
        self.abolished_at = at


def _check_date(value: Any, what: str) -> None:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidValue(what, f"expected a date (YYYY-MM-DD), got {value!r}")
