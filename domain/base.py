"""Aggregate and event base classes for text-identified aggregates, and the rule errors.

Aggregate ids are text (``"d-0001"``, ``"22.SXD"``); each aggregate lives in one stream
(``dossier``, ``procedure``, ``petition``, ``unit``). Events carry ``at``, the moment the action
happened (business time). The moment the ledger records an event (``recorded_at``) is stamped by
the ledger, never read from the clock here: ``create_timestamp`` returns a fixed placeholder.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from eventsourcing.domain import (
    BaseAggregate,
    CanInitAggregate,
    CanMutateAggregate,
    MetaDomainEvent,
)

NOT_YET_RECORDED = datetime(1970, 1, 1, tzinfo=UTC)


class StreamEvent(CanMutateAggregate[str], metaclass=MetaDomainEvent):
    """An event of a text-identified aggregate (a frozen dataclass)."""

    originator_id: str
    originator_version: int
    timestamp: datetime

    @staticmethod
    def create_timestamp() -> datetime:
        # recorded_at is the ledger's to stamp; the domain never reads the clock.
        return NOT_YET_RECORDED


class StreamCreated(CanInitAggregate[str], StreamEvent):
    originator_topic: str


class StreamAggregate(BaseAggregate[str]):
    """Base of the ledger's aggregates: a stream name and business time that never goes back."""

    STREAM: ClassVar[str] = ""

    class Event(StreamEvent):
        pass

    class Created(Event, StreamCreated):
        pass

    @classmethod
    def aggregate_id(cls, key: str) -> str:
        """The stored originator id: the stream and the aggregate's own id (``dossier:d-0001``)."""
        return f"{cls.STREAM}:{key}"

    @property
    def key(self) -> str:
        """The aggregate's id as the wire format shows it (without the stream prefix)."""
        return self.id.split(":", 1)[1]

    def check_at(self, at: datetime, action: str) -> None:
        """``at`` is timezone-aware and not earlier than the aggregate's previous event."""
        check_aware(at, f"{self.STREAM} {self.key}: {action} 'at'")
        last_at: datetime = self.last_at  # type: ignore[attr-defined]
        if at < last_at:
            raise TimeWentBackwards(self.STREAM, self.key, action, at, last_at)


def check_aware(moment: Any, what: str) -> None:
    if not isinstance(moment, datetime):
        raise InvalidValue(what, f"expected a datetime, got {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidValue(what, f"naive timestamp {moment.isoformat()} has no UTC offset")


def check_choice(value: Any, choices: Iterable[str], what: str) -> None:
    options = tuple(choices)
    if value not in options:
        raise InvalidValue(what, f"{value!r} is not one of {', '.join(options)}")


def check_text(value: Any, what: str) -> None:
    """A non-empty string."""
    check_type(value, str, what)
    if not value:
        raise InvalidValue(what, "must not be empty")


def check_type(value: Any, kind: type | tuple[type, ...], what: str) -> None:
    # bool is an int in Python; a count or an amount must not be True.
    if isinstance(value, bool) and kind is int:
        raise InvalidValue(what, f"expected int, got bool {value!r}")
    if not isinstance(value, kind):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise InvalidValue(what, f"expected {name}, got {type(value).__name__} {value!r}")


class LedgerRuleError(Exception):
    """A command or an event broke a rule of the ledger; nothing was recorded."""

    rule: str = "rule"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class InvalidValue(LedgerRuleError):
    rule = "invalid value"

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(f"{what}: {problem}")
        self.what = what


class StreamRuleError(LedgerRuleError):
    """A lifecycle rule of one aggregate refused an action."""

    def __init__(self, stream: str, key: str, action: str, message: str) -> None:
        super().__init__(f"{stream} {key}: {action} refused: {message}")
        self.stream = stream
        self.key = key
        self.action = action


class IllegalTransition(StreamRuleError):
    rule = "lifecycle"

    def __init__(self, stream: str, key: str, action: str, state: str, rule: str) -> None:
        super().__init__(stream, key, action, f"{rule} (current state: {state})")
        self.state = state
        self.rule_text = rule


class TimeWentBackwards(StreamRuleError):
    rule = "time order"

    def __init__(
        self, stream: str, key: str, action: str, at: datetime, last_at: datetime
    ) -> None:
        super().__init__(
            stream,
            key,
            action,
            f"at {at.isoformat()} is earlier than the previous event ({last_at.isoformat()})",
        )
