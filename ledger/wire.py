"""The canonical JSON event format of docs/events.md, validated with pydantic (strict types,
unknown fields refused, timestamps with an offset)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt
from pydantic import ValidationError as PydanticValidationError

NonNegInt = Annotated[StrictInt, Field(ge=0)]
Text = Annotated[str, Field(min_length=1)]


class Data(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Empty(Data):
    pass


# unit stream
class UnitRegistered(Data):
    name: Text
    parent: str | None = None
    kind: Literal["province", "department", "commune", "ministry", "agency"]


class UnitCapabilitySet(Data):
    capability: Text
    enabled: StrictBool


# procedure stream
class ProcedureRegistered(Data):
    code: Text
    name: Text
    unit: Text
    statutory_days: NonNegInt
    fee_vnd: NonNegInt
    requires_result_document: StrictBool
    full_online_eligible: StrictBool
    citizen_target: StrictBool
    legal_basis_effective_on: date


class DecisionIssued(Data):
    decision_on: date


class Published(Data):
    components_complete: StrictBool


class OnlineLevelSet(Data):
    level: Literal["none", "partial", "full"]


class PaymentIntegrated(Data):
    integrated: StrictBool


# dossier stream
class Component(Data):
    name: str
    digitized: StrictBool
    reused: StrictBool
    from_personal_store: StrictBool
    from_population_db: StrictBool


class Submitted(Data):
    code: Text
    procedure: Text
    unit: Text
    channel: Literal["direct", "online", "postal"]
    applicant_kind: Literal["citizen", "business"]
    applicant_ref: Text
    vneid_verified: StrictBool
    components: list[Component]


class Received(Data):
    due_at: AwareDatetime | None = None


class Reason(Data):
    reason: str


class Transferred(Data):
    to_unit: Text
    kind: Literal["internal", "inter_agency"]


class ByStaff(Data):
    by: str


class FeeRequested(Data):
    amount_vnd: NonNegInt


class FeePaid(Data):
    amount_vnd: NonNegInt
    method: Literal["national_portal", "local_gateway", "cash"]


class Resolved(Data):
    electronic_result: StrictBool
    pushed_to_personal_store: StrictBool


class ResultReturned(Data):
    method: Literal["counter", "online", "postal"]


class ApologyIssued(Data):
    new_due_at: AwareDatetime
    reason: str


class Rated(Data):
    satisfied: StrictBool


# petition stream
class PetitionReceived(Data):
    unit: Text
    kind: Literal["procedure_rule", "staff_conduct"]
    dossier: str | None = None


class PetitionRated(Data):
    likes: NonNegInt
    dislikes: NonNegInt


DATA_MODELS: dict[str, type[Data]] = {
    "unit.registered": UnitRegistered,
    "unit.capability_set": UnitCapabilitySet,
    "procedure.registered": ProcedureRegistered,
    "procedure.decision_issued": DecisionIssued,
    "procedure.published": Published,
    "procedure.online_level_set": OnlineLevelSet,
    "procedure.payment_integrated": PaymentIntegrated,
    "procedure.abolished": Empty,
    "dossier.submitted": Submitted,
    "dossier.received": Received,
    "dossier.refused": Reason,
    "dossier.supplement_requested": Reason,
    "dossier.supplement_completed": Empty,
    "dossier.transferred": Transferred,
    "dossier.appraised": ByStaff,
    "dossier.approved": ByStaff,
    "dossier.signed": ByStaff,
    "dossier.fee_requested": FeeRequested,
    "dossier.fee_paid": FeePaid,
    "dossier.resolved": Resolved,
    "dossier.result_returned": ResultReturned,
    "dossier.apology_issued": ApologyIssued,
    "dossier.rejected": Reason,
    "dossier.stopped": Reason,
    "dossier.withdrawn": Empty,
    "dossier.synced": Empty,
    "dossier.rated": Rated,
    "petition.received": PetitionReceived,
    "petition.answered": Empty,
    "petition.rated": PetitionRated,
    "petition.recomplained": Empty,
}
STREAMS = ("dossier", "procedure", "petition", "unit")
ENVELOPE_FIELDS = {"type", "stream", "id", "seq", "at", "data"}
LEDGER_FIELDS = {"position", "recorded_at", "prev_hash", "hash"}


class Envelope(BaseModel):
    """The envelope's own fields (``data`` is checked by the type's model)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: str
    stream: Literal["dossier", "procedure", "petition", "unit"]
    id: Text
    seq: StrictInt | None = Field(None, ge=1)
    at: AwareDatetime
    data: dict[str, Any]
    position: StrictInt | None = None
    recorded_at: str | None = None
    prev_hash: str | None = None
    hash: str | None = None


class WireError(ValueError):
    """An event does not follow the wire format; ``field`` names where."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem


def validate_event(raw: Any) -> tuple[Envelope, Data]:
    """Check one decoded JSON event; return its envelope and typed data."""
    if not isinstance(raw, dict):
        raise WireError("", f"an event must be a JSON object, got {type(raw).__name__}")
    try:
        # JSON mode: strict about types, yet reads RFC 3339 strings as datetimes.
        envelope = Envelope.model_validate_json(orjson.dumps(raw))
    except PydanticValidationError as error:
        raise _wire_error(error, "") from None
    model = DATA_MODELS.get(envelope.type)
    if model is None:
        raise WireError("type", f"unknown event type {envelope.type!r}")
    if envelope.type.split(".", 1)[0] != envelope.stream:
        raise WireError("stream", f"type {envelope.type!r} does not belong to stream "
                        f"{envelope.stream!r}")
    try:
        data = model.model_validate_json(orjson.dumps(envelope.data))
    except PydanticValidationError as error:
        raise _wire_error(error, "data.") from None
    return envelope, data


def _wire_error(error: PydanticValidationError, prefix: str) -> WireError:
    first = error.errors(include_url=False)[0]
    field = prefix + ".".join(str(part) for part in first["loc"])
    problem = first["msg"]
    if first["type"] == "extra_forbidden":
        problem = "unknown field"
    elif first["type"] == "missing":
        problem = "missing field"
    elif first["type"] == "timezone_aware":
        problem = f"naive timestamp {first.get('input')!r} (an offset such as +07:00 is required)"
    return WireError(field.rstrip("."), problem)
