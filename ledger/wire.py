"""The canonical JSON event format of docs/events.md, validated with pydantic: strict types,
unknown fields and duplicate keys refused, one timestamp form within a sane range, bounded
integers and strings — whatever is accepted can be read back by every command."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)
from pydantic import ValidationError as PydanticValidationError

# -- limits (docs/events.md, "Limits on what is accepted") -----------------------------------

MAX_LINE_BYTES = 65_536
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)  # exclusive
MAX_STATUTORY_DAYS = 365
MAX_VND = 1_000_000_000_000
MAX_COUNT = 1_000_000_000
MAX_COMPONENTS = 100
_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
_TEXT_CONTROL = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"  # free text may hold tabs and line breaks
_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-](?:0\d|1[0-4]):[0-5]\d)")
_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _instant(value: Any) -> datetime:
    """RFC 3339 with an explicit offset, exactly (upper-case T and Z, at most 6 fractional
    digits, offset at most ±14:00), between 2000 and 2100."""
    if not isinstance(value, str):
        raise ValueError(f"a timestamp must be a string such as 2026-10-05T08:30:00+07:00, "
                         f"got {type(value).__name__}")
    if _NAIVE.fullmatch(value):
        raise ValueError(f"naive timestamp {value!r} (an offset such as +07:00 is required)")
    if not _INSTANT.fullmatch(value):
        raise ValueError(f"{value[:64]!r} is not an RFC 3339 timestamp with an offset "
                         "(write e.g. 2026-10-05T08:30:00+07:00)")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a valid time: {error}") from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"{value!r} is outside 2000-01-01 … 2099-12-31")
    return moment


def _date(value: Any) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError(f"{str(value)[:64]!r} is not a date written YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a valid date: {error}") from None
    if not 2000 <= day.year <= 2099:
        raise ValueError(f"{value!r} is outside 2000-01-01 … 2099-12-31")
    return day


def canonical_instant(moment: datetime) -> str:
    """The one text a stored timestamp has: ISO format with its offset as ±HH:MM (Z becomes
    +00:00; fractions are written with 6 digits, or not at all)."""
    return moment.isoformat()


Instant = Annotated[datetime, BeforeValidator(_instant)]
Day = Annotated[date, BeforeValidator(_date)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
Vnd = Annotated[StrictInt, Field(ge=0, le=MAX_VND)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=_NO_CONTROL)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=_NO_CONTROL)]
FreeText = Annotated[str, StringConstraints(max_length=2000, pattern=_TEXT_CONTROL)]
Ref = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=_NO_CONTROL)]
Text = Code  # the ids and codes of units, procedures, dossiers, petitions
NonNegInt = Count


class Data(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Empty(Data):
    pass


# unit stream
class UnitRegistered(Data):
    name: Name
    parent: Code | None = None
    kind: Literal["province", "department", "commune", "ministry", "agency"]


class UnitCapabilitySet(Data):
    capability: Text
    enabled: StrictBool


# procedure stream
class ProcedureRegistered(Data):
    code: Text
    name: Name
    unit: Text
    statutory_days: Annotated[StrictInt, Field(ge=0, le=MAX_STATUTORY_DAYS)]
    fee_vnd: Vnd
    requires_result_document: StrictBool
    full_online_eligible: StrictBool
    citizen_target: StrictBool
    legal_basis_effective_on: Day


class DecisionIssued(Data):
    decision_on: Day


class Published(Data):
    components_complete: StrictBool


class OnlineLevelSet(Data):
    level: Literal["none", "partial", "full"]


class PaymentIntegrated(Data):
    integrated: StrictBool


# dossier stream
class Component(Data):
    name: FreeText
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
    applicant_ref: Ref
    vneid_verified: StrictBool
    components: Annotated[list[Component], Field(max_length=MAX_COMPONENTS)]


class Received(Data):
    due_at: Instant | None = None


class Reason(Data):
    reason: FreeText


class Transferred(Data):
    to_unit: Text
    kind: Literal["internal", "inter_agency"]


class ByStaff(Data):
    by: FreeText


class FeeRequested(Data):
    amount_vnd: Vnd


class FeePaid(Data):
    amount_vnd: Vnd
    method: Literal["national_portal", "local_gateway", "cash"]


class Resolved(Data):
    electronic_result: StrictBool
    pushed_to_personal_store: StrictBool


class ResultReturned(Data):
    method: Literal["counter", "online", "postal"]


class ApologyIssued(Data):
    new_due_at: Instant
    reason: FreeText


class Rated(Data):
    satisfied: StrictBool


# petition stream
class PetitionReceived(Data):
    unit: Text
    kind: Literal["procedure_rule", "staff_conduct"]
    dossier: Code | None = None


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
LEDGER_FIELDS = {"position", "recorded_at", "prev_hash", "hash", "sealed"}


class Envelope(BaseModel):
    """The envelope's own fields (``data`` is checked by the type's model)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: Annotated[str, StringConstraints(max_length=64)]
    stream: Literal["dossier", "procedure", "petition", "unit"]
    id: Text
    seq: Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)] | None = None
    at: Instant
    data: dict[str, Any]
    position: StrictInt | None = None
    recorded_at: Annotated[str, StringConstraints(max_length=64)] | None = None
    prev_hash: Annotated[str, StringConstraints(max_length=64)] | None = None
    hash: Annotated[str, StringConstraints(max_length=64)] | None = None
    sealed: dict[str, str] | None = None  # sealed personal data (ledger.personal), as stored


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
    elif first["type"] == "string_pattern_mismatch":
        problem = "holds a control character (none is allowed here)"
    elif first["type"] == "value_error":
        problem = problem.removeprefix("Value error, ")
    return WireError(field.rstrip("."), problem)


# -- decoding a line ---------------------------------------------------------------------------

class JsonError(ValueError):
    """A line that is not one well-formed JSON object within the limits."""


_KEY_END = re.compile(rb'"[ \t\r\n]*:')


def decode_json(text: bytes | str) -> Any:
    """One JSON value, refusing lines over MAX_LINE_BYTES and duplicate keys at any depth
    (orjson keeps the last of two equal keys; another reader may keep the first)."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_LINE_BYTES:
        raise JsonError(f"{len(raw):,} bytes; an event is at most {MAX_LINE_BYTES:,} bytes")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise JsonError(f"not valid JSON: {error}") from None
    # Every key of valid JSON ends with `"` then `:`; only an escaped quote inside a string
    # can add a match. So equal counts prove there is no duplicate: the fast path.
    if len(_KEY_END.findall(raw)) != _count_keys(value):
        _find_duplicate(raw)
    return value


def _count_keys(value: Any) -> int:
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            count += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _find_duplicate(raw: bytes) -> None:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise JsonError(f"duplicate key {key!r}")
            seen.add(key)
        return dict(items)

    json.loads(raw, object_pairs_hook=pairs)

