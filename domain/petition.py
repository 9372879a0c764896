"""The petition (phản ánh, kiến nghị — PAKN) aggregate."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from eventsourcing.domain import event

from domain.base import (
    IllegalTransition,
    InvalidValue,
    StreamAggregate,
    check_aware,
    check_choice,
    check_type,
)

PETITION_KINDS = ("procedure_rule", "staff_conduct")


class Petition(StreamAggregate):
    """A petition about a procedure rule or staff conduct, answered within 15 working days."""

    STREAM: ClassVar[str] = "petition"

    @event("Received")
    def __init__(self, at: datetime, unit: str, kind: str, dossier: str | None) -> None:
        self.last_at = at
        self.received_at = at
        self.unit = unit
        self.kind = kind
        self.dossier = dossier
        self.answered_at: datetime | None = None
        self.likes = 0
        self.dislikes = 0
        self.rated = False
        self.recomplained = False

    @classmethod
    def receive(cls, key: str, *, at: datetime, unit: str, kind: str,
                dossier: str | None = None) -> Petition:
        what = f"petition {key}: received"
        check_aware(at, f"{what} 'at'")
        check_type(unit, str, f"{what} 'unit'")
        check_choice(kind, PETITION_KINDS, f"{what} 'kind'")
        if dossier is not None:
            check_type(dossier, str, f"{what} 'dossier'")
        created = cls.Received  # type: ignore[attr-defined]
        return cls._create(created, id=cls.aggregate_id(key), at=at, unit=unit, kind=kind,
                           dossier=dossier)

    def answer(self, at: datetime) -> None:
        self.check_at(at, "answered")
        if self.answered_at is not None:
            raise IllegalTransition(self.STREAM, self.key, "answered", "answered",
                                    "a petition is answered once")
        self._answered(at=at)

    def rate(self, at: datetime, *, likes: int, dislikes: int) -> None:
        self.check_at(at, "rated")
        for field, count in (("likes", likes), ("dislikes", dislikes)):
            check_type(count, int, f"petition {self.key}: rated {field!r}")
            if count < 0:
                raise InvalidValue(f"petition {self.key}: rated {field!r}", "must be >= 0")
        self._rated(at=at, likes=likes, dislikes=dislikes)

    def recomplain(self, at: datetime) -> None:
        """Khiếu nại lại / tái phản ánh."""
        self.check_at(at, "recomplained")
        self._recomplained(at=at)

    @event("Answered")
    def _answered(self, at: datetime) -> None:
        self.last_at = at
        self.answered_at = at

    @event("Rated")
    def _rated(self, at: datetime, likes: int, dislikes: int) -> None:
        self.last_at = at
        self.likes = likes
        self.dislikes = dislikes
        self.rated = True

    @event("Recomplained")
    def _recomplained(self, at: datetime) -> None:
        self.last_at = at
        self.recomplained = True
