"""From a validated wire event to the domain command that records it, with the rules that
need the rest of the ledger (known units and procedures)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.base import LedgerRuleError, StreamAggregate
from domain.calendar import WorkingCalendar
from domain.dossier import Dossier
from domain.petition import Petition
from domain.procedure import Procedure
from domain.unit_profile import UnitProfile
from domain.units import Unit
from ledger import wire


@dataclass(frozen=True, slots=True)
class ProcedureInfo:
    """What a dossier needs to know of its procedure (fixed at registration)."""

    unit: str
    statutory_days: int


class Context(Protocol):
    @property
    def calendar(self) -> WorkingCalendar: ...

    def unit(self, code: str) -> Unit | None: ...

    def ancestors(self, code: str) -> list[str]: ...

    def procedure(self, key: str) -> ProcedureInfo | None: ...


class UnknownReference(LedgerRuleError):
    rule = "unknown reference"


class StreamNotFound(LedgerRuleError):
    rule = "sequence"


class StreamExists(LedgerRuleError):
    rule = "sequence"


def apply_event(
    aggregate: StreamAggregate | None,
    envelope: wire.Envelope,
    data: wire.Data,
    context: Context,
) -> StreamAggregate:
    """Run the command that records ``envelope`` on ``aggregate`` (None: not yet created)."""
    kind = envelope.type
    key = envelope.id
    at = envelope.at
    if aggregate is None:
        return _create(kind, key, at, data, context)
    if kind in _CREATORS:
        raise StreamExists(f"{envelope.stream} {key}: {kind} refused: the {envelope.stream} "
                           f"already exists (version {aggregate.version})")
    handler = _HANDLERS[kind]
    handler(aggregate, at, data, context)
    return aggregate


def _create(kind: str, key: str, at: datetime, data: Any, ctx: Context) -> StreamAggregate:
    if kind == "unit.capability_set":
        if ctx.unit(key) is None:
            raise UnknownReference(f"unit {key}: capability_set refused: unknown unit {key!r} "
                                   "(register it first, or use an official code)")
        return UnitProfile.open_builtin(key, at=at, capability=data.capability,
                                        enabled=data.enabled)
    creator = _CREATORS.get(kind)
    if creator is None:
        stream = kind.split(".", 1)[0]
        first = {"dossier": "dossier.submitted", "procedure": "procedure.registered",
                 "petition": "petition.received", "unit": "unit.registered"}[stream]
        raise StreamNotFound(f"{stream} {key}: {kind} refused: no such {stream} yet "
                             f"(its first event must be {first})")
    return creator(key, at, data, ctx)


def _register_unit(key: str, at: datetime, d: wire.UnitRegistered, ctx: Context) -> UnitProfile:
    if ctx.unit(key) is not None:
        raise StreamExists(f"unit {key}: registered refused: unit {key!r} already exists")
    if d.parent:
        _need_unit(ctx, d.parent, f"unit {key}: registered", "parent")
    elif d.kind not in ("ministry", "agency"):
        raise UnknownReference(f"unit {key}: registered refused: a {d.kind} needs a parent unit")
    return UnitProfile.register(key, at=at, name=d.name, parent=d.parent, kind=d.kind)


def _register_procedure(
    key: str, at: datetime, d: wire.ProcedureRegistered, ctx: Context
) -> Procedure:
    _need_unit(ctx, d.unit, f"procedure {key}: registered", "unit")
    return Procedure.register(
        key, at=at, code=d.code, name=d.name, unit=d.unit, statutory_days=d.statutory_days,
        fee_vnd=d.fee_vnd, requires_result_document=d.requires_result_document,
        full_online_eligible=d.full_online_eligible, citizen_target=d.citizen_target,
        legal_basis_effective_on=d.legal_basis_effective_on,
    )


def _submit(key: str, at: datetime, d: wire.Submitted, ctx: Context) -> Dossier:
    what = f"dossier {key}: submitted"
    _need_unit(ctx, d.unit, what, "unit")
    procedure = ctx.procedure(d.procedure)
    if procedure is None:
        raise UnknownReference(f"{what} refused: unknown procedure {d.procedure!r} "
                               "(no procedure.registered event)")
    if procedure.unit != d.unit and procedure.unit not in ctx.ancestors(d.unit):
        raise UnknownReference(
            f"{what} refused: procedure {d.procedure!r} belongs to unit {procedure.unit!r}, "
            f"which is neither unit {d.unit!r} nor above it"
        )
    return Dossier.submit(
        key, at=at, code=d.code, procedure=d.procedure, unit=d.unit, channel=d.channel,
        applicant_kind=d.applicant_kind, applicant_ref=d.applicant_ref,
        vneid_verified=d.vneid_verified, components=[c.model_dump() for c in d.components],
    )


def _receive_petition(key: str, at: datetime, d: wire.PetitionReceived, ctx: Context) -> Petition:
    _need_unit(ctx, d.unit, f"petition {key}: received", "unit")
    return Petition.receive(key, at=at, unit=d.unit, kind=d.kind, dossier=d.dossier)


def _need_unit(ctx: Context, code: str, what: str, field: str) -> None:
    if ctx.unit(code) is None:
        raise UnknownReference(f"{what} refused: unknown {field} {code!r} (not an official "
                               "province or commune code, and not registered)")


def _receive(d: Dossier, at: datetime, data: wire.Received, ctx: Context) -> None:
    procedure = ctx.procedure(d.procedure)
    statutory_days = procedure.statutory_days if procedure else None
    d.receive(at, due_at=data.due_at, statutory_days=statutory_days, calendar=ctx.calendar)


def _transfer(d: Dossier, at: datetime, data: wire.Transferred, ctx: Context) -> None:
    _need_unit(ctx, data.to_unit, f"dossier {d.key}: transferred", "to_unit")
    d.transfer(at, to_unit=data.to_unit, kind=data.kind)


Handler = Callable[[Any, datetime, Any, Context], None]
_CREATORS: dict[str, Callable[[str, datetime, Any, Context], StreamAggregate]] = {
    "unit.registered": _register_unit,
    "procedure.registered": _register_procedure,
    "dossier.submitted": _submit,
    "petition.received": _receive_petition,
}
_HANDLERS: dict[str, Handler] = {
    "unit.capability_set": lambda u, at, d, c: u.set_capability(
        at, capability=d.capability, enabled=d.enabled),
    "procedure.decision_issued": lambda p, at, d, c: p.issue_decision(
        at, decision_on=d.decision_on),
    "procedure.published": lambda p, at, d, c: p.publish(
        at, components_complete=d.components_complete),
    "procedure.online_level_set": lambda p, at, d, c: p.set_online_level(at, level=d.level),
    "procedure.payment_integrated": lambda p, at, d, c: p.integrate_payment(
        at, integrated=d.integrated),
    "procedure.abolished": lambda p, at, d, c: p.abolish(at),
    "dossier.received": _receive,
    "dossier.refused": lambda x, at, d, c: x.refuse(at, reason=d.reason),
    "dossier.supplement_requested": lambda x, at, d, c: x.request_supplement(at, reason=d.reason),
    "dossier.supplement_completed": lambda x, at, d, c: x.complete_supplement(at),
    "dossier.transferred": _transfer,
    "dossier.appraised": lambda x, at, d, c: x.appraise(at, by=d.by),
    "dossier.approved": lambda x, at, d, c: x.approve(at, by=d.by),
    "dossier.signed": lambda x, at, d, c: x.sign(at, by=d.by),
    "dossier.fee_requested": lambda x, at, d, c: x.request_fee(at, amount_vnd=d.amount_vnd),
    "dossier.fee_paid": lambda x, at, d, c: x.pay_fee(at, amount_vnd=d.amount_vnd,
                                                      method=d.method),
    "dossier.resolved": lambda x, at, d, c: x.resolve(
        at, electronic_result=d.electronic_result,
        pushed_to_personal_store=d.pushed_to_personal_store),
    "dossier.result_returned": lambda x, at, d, c: x.return_result(at, method=d.method),
    "dossier.apology_issued": lambda x, at, d, c: x.apologise(
        at, new_due_at=d.new_due_at, reason=d.reason),
    "dossier.rejected": lambda x, at, d, c: x.reject(at, reason=d.reason),
    "dossier.stopped": lambda x, at, d, c: x.stop(at, reason=d.reason),
    "dossier.withdrawn": lambda x, at, d, c: x.withdraw(at),
    "dossier.synced": lambda x, at, d, c: x.sync(at),
    "dossier.rated": lambda x, at, d, c: x.rate(at, satisfied=d.satisfied),
    "petition.answered": lambda x, at, d, c: x.answer(at),
    "petition.rated": lambda x, at, d, c: x.rate(at, likes=d.likes, dislikes=d.dislikes),
    "petition.recomplained": lambda x, at, d, c: x.recomplain(at),
}
