"""The dossier (hồ sơ thủ tục hành chính) aggregate and its lifecycle rules (docs/events.md)."""

from __future__ import annotations

from datetime import datetime, timedelta
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
from domain.calendar import DEFAULT_CALENDAR, WorkingCalendar

CHANNELS = ("direct", "online", "postal")
APPLICANT_KINDS = ("citizen", "business")
TRANSFER_KINDS = ("internal", "inter_agency")
PAYMENT_METHODS = ("national_portal", "local_gateway", "cash")
RETURN_METHODS = ("counter", "online", "postal")
COMPONENT_FLAGS = ("digitized", "reused", "from_personal_store", "from_population_db")

# Statuses (trạng thái hồ sơ) and the national portal's TrangThaiHoSo codes.
PORTAL_STATUS = {
    "submitted": 1,
    "received": 2,
    "refused": 3,
    "in_process": 4,
    "supplement_requested": 5,
    "fee_requested": 6,
    "withdrawn": 7,
    "stopped": 8,
    "rejected": 8,
    "resolved": 9,
    "returned": 10,
}
ENDINGS = ("resolved", "rejected", "stopped", "withdrawn")
AFTER_RESOLVED = ("result_returned", "fee_paid", "synced", "rated")
AFTER_OTHER_ENDINGS = ("result_returned", "synced", "rated")
BLOCKED_BY_SUPPLEMENT = ("appraised", "approved", "signed", "resolved")


class Dossier(StreamAggregate):
    """A dossier filed for a procedure at a unit, from submission to the returned result."""

    STREAM: ClassVar[str] = "dossier"

    @event("Submitted")
    def __init__(
        self,
        at: datetime,
        code: str,
        procedure: str,
        unit: str,
        channel: str,
        applicant_kind: str,
        applicant_ref: str,
        vneid_verified: bool,
        components: list[dict[str, Any]],
    ) -> None:
        self.last_at = at
        self.submitted_at = at
        self.code = code
        self.procedure = procedure
        self.unit = unit
        self.channel = channel
        self.applicant_kind = applicant_kind
        self.applicant_ref = applicant_ref
        self.vneid_verified = vneid_verified
        self.components = components
        self.status = "submitted"
        self.received_at: datetime | None = None
        self.due_at: datetime | None = None  # hẹn trả, set at reception
        self.current_due_at: datetime | None = None  # after apologies (hẹn lại)
        self.ended_by: str | None = None
        self.ended_at: datetime | None = None
        self.resolved_at: datetime | None = None
        self.returned_at: datetime | None = None
        self.supplement_requests = 0
        self.supplement_open_since: datetime | None = None
        self.supplement_waited = timedelta(0)
        self.fee_requested_vnd = 0
        self.fee_paid_vnd = 0
        self.rated_satisfied: bool | None = None
        self.synced = False
        self.holder_unit = unit

    # -- commands: check the rules, then record -------------------------------------------

    @classmethod
    def submit(
        cls,
        key: str,
        *,
        at: datetime,
        code: str,
        procedure: str,
        unit: str,
        channel: str,
        applicant_kind: str,
        applicant_ref: str,
        vneid_verified: bool,
        components: list[dict[str, Any]],
    ) -> Dossier:
        what = f"dossier {key}: submitted"
        check_aware(at, f"{what} 'at'")
        for name, value in (("code", code), ("procedure", procedure), ("unit", unit),
                            ("applicant_ref", applicant_ref)):
            check_text(value, f"{what} {name!r}")
        check_choice(channel, CHANNELS, f"{what} 'channel'")
        check_choice(applicant_kind, APPLICANT_KINDS, f"{what} 'applicant_kind'")
        check_type(vneid_verified, bool, f"{what} 'vneid_verified'")
        check_type(components, list, f"{what} 'components'")
        clean = [_check_component(c, f"{what} components[{i}]") for i, c in enumerate(components)]
        return cls._create(
            cls.Submitted,  # type: ignore[attr-defined]
            id=cls.aggregate_id(key),
            at=at,
            code=code,
            procedure=procedure,
            unit=unit,
            channel=channel,
            applicant_kind=applicant_kind,
            applicant_ref=applicant_ref,
            vneid_verified=vneid_verified,
            components=clean,
        )

    def receive(
        self,
        at: datetime,
        *,
        due_at: datetime | None = None,
        statutory_days: int | None = None,
        calendar: WorkingCalendar = DEFAULT_CALENDAR,
    ) -> None:
        """Tiếp nhận: the due date is given, or computed from the procedure's statutory days."""
        self._allow("received", at, only_from=("submitted",))
        if due_at is None:
            if statutory_days is None:
                raise InvalidValue(f"dossier {self.key}: received", "no due_at and no "
                                   "statutory_days to compute it from")
            due_at = calendar.due_at(at, statutory_days)
        check_aware(due_at, f"dossier {self.key}: received 'due_at'")
        if due_at < at:
            raise InvalidValue(f"dossier {self.key}: received 'due_at'",
                               f"{due_at.isoformat()} is before the reception {at.isoformat()}")
        self._received(at=at, due_at=due_at)

    def refuse(self, at: datetime, *, reason: str) -> None:
        self._allow("refused", at, only_from=("submitted",))
        self._check_text(reason, "refused", "reason")
        self._refused(at=at, reason=reason)

    def request_supplement(self, at: datetime, *, reason: str) -> None:
        self._allow_processing("supplement_requested", at)
        if self.supplement_open_since is not None:
            self._refuse("supplement_requested", "a supplement request is already open")
        self._check_text(reason, "supplement_requested", "reason")
        self._supplement_requested(at=at, reason=reason)

    def complete_supplement(self, at: datetime) -> None:
        self._allow_processing("supplement_completed", at)
        if self.supplement_open_since is None:
            self._refuse("supplement_completed", "no supplement request is open")
        self._supplement_completed(at=at)

    def transfer(self, at: datetime, *, to_unit: str, kind: str) -> None:
        self._allow_processing("transferred", at)
        check_type(to_unit, str, f"dossier {self.key}: transferred 'to_unit'")
        check_choice(kind, TRANSFER_KINDS, f"dossier {self.key}: transferred 'kind'")
        self._transferred(at=at, to_unit=to_unit, kind=kind)

    def appraise(self, at: datetime, *, by: str) -> None:
        self._staff_step("appraised", at, by)
        self._appraised(at=at, by=by)

    def approve(self, at: datetime, *, by: str) -> None:
        self._staff_step("approved", at, by)
        self._approved(at=at, by=by)

    def sign(self, at: datetime, *, by: str) -> None:
        self._staff_step("signed", at, by)
        self._signed(at=at, by=by)

    def request_fee(self, at: datetime, *, amount_vnd: int) -> None:
        self._allow_processing("fee_requested", at)
        self._check_amount(amount_vnd, "fee_requested")
        self._fee_requested(at=at, amount_vnd=amount_vnd)

    def pay_fee(self, at: datetime, *, amount_vnd: int, method: str) -> None:
        if self.ended_by == "resolved":
            self._allow("fee_paid", at)
        else:
            self._allow_processing("fee_paid", at)
        self._check_amount(amount_vnd, "fee_paid")
        check_choice(method, PAYMENT_METHODS, f"dossier {self.key}: fee_paid 'method'")
        self._fee_paid(at=at, amount_vnd=amount_vnd, method=method)

    def resolve(self, at: datetime, *, electronic_result: bool,
                pushed_to_personal_store: bool) -> None:
        """Đã xử lý xong (status 9)."""
        self._allow_processing("resolved", at)
        self._check_no_open_supplement("resolved")
        check_type(electronic_result, bool, f"dossier {self.key}: resolved 'electronic_result'")
        check_type(pushed_to_personal_store, bool,
                   f"dossier {self.key}: resolved 'pushed_to_personal_store'")
        self._resolved(at=at, electronic_result=electronic_result,
                       pushed_to_personal_store=pushed_to_personal_store)

    def return_result(self, at: datetime, *, method: str) -> None:
        """Trả kết quả (status 10)."""
        if self.ended_by is None:
            self._allow_processing("result_returned", at)
        else:
            self._allow("result_returned", at)
        check_choice(method, RETURN_METHODS, f"dossier {self.key}: result_returned 'method'")
        self._result_returned(at=at, method=method)

    def apologise(self, at: datetime, *, new_due_at: datetime, reason: str) -> None:
        """Văn bản xin lỗi và hẹn lại ngày trả kết quả: before resolution, with a later date."""
        self._allow_processing("apology_issued", at)
        check_aware(new_due_at, f"dossier {self.key}: apology_issued 'new_due_at'")
        self._check_text(reason, "apology_issued", "reason")
        assert self.current_due_at is not None  # set at reception
        if new_due_at <= self.current_due_at:
            self._refuse("apology_issued", f"new_due_at {new_due_at.isoformat()} is not later "
                         f"than the current due date {self.current_due_at.isoformat()}")
        self._apology_issued(at=at, new_due_at=new_due_at, reason=reason)

    def reject(self, at: datetime, *, reason: str) -> None:
        self._allow_processing("rejected", at)
        self._check_text(reason, "rejected", "reason")
        self._rejected(at=at, reason=reason)

    def stop(self, at: datetime, *, reason: str) -> None:
        """Dừng xử lý."""
        self._allow_processing("stopped", at)
        self._check_text(reason, "stopped", "reason")
        self._stopped(at=at, reason=reason)

    def withdraw(self, at: datetime) -> None:
        self._allow_processing("withdrawn", at)
        self._withdrawn(at=at)

    def sync(self, at: datetime) -> None:
        """Đồng bộ lên Cổng Dịch vụ công quốc gia."""
        self._allow("synced", at, not_from=("submitted", "refused"))
        self._synced(at=at)

    def rate(self, at: datetime, *, satisfied: bool) -> None:
        self._allow("rated", at, not_from=("submitted", "refused"))
        if self.rated_satisfied is not None:
            self._refuse("rated", "the dossier has already been rated (at most once)")
        check_type(satisfied, bool, f"dossier {self.key}: rated 'satisfied'")
        self._rated(at=at, satisfied=satisfied)

    # -- queries ------------------------------------------------------------------------------

    @property
    def portal_status(self) -> int:
        return PORTAL_STATUS[self.status]

    def adjusted_end(self, t: datetime) -> tuple[datetime, bool]:
        """The end used for "on time" judged at ``t`` (docs/index.md 2.1): the first ending
        event (resolved, else returned, else rejected/stopped/withdrawn) or ``t``, minus completed
        supplement waits; frozen at the request of a supplement still open. Returns the end and
        whether the dossier is late regardless (a second supplement request still open)."""
        end = self.resolved_at or self.returned_at or self.ended_at or t
        end = min(end, t)
        if self.supplement_open_since is not None and self.supplement_open_since <= end:
            return self.supplement_open_since - self.supplement_waited, self.supplement_requests > 1
        return end - self.supplement_waited, False

    def is_late(self, t: datetime) -> bool | None:
        """Late (quá hạn) as judged at ``t``; None before reception. The aggregate's state must
        be the state as of ``t`` (the ledger's history replays events up to ``t``)."""
        if self.due_at is None:
            return None
        end, late_anyway = self.adjusted_end(t)
        return late_anyway or end > self.due_at

    # -- rule helpers -------------------------------------------------------------------------

    def _allow(self, action: str, at: datetime, *, only_from: tuple[str, ...] = (),
               not_from: tuple[str, ...] = ()) -> None:
        self.check_at(at, action)
        if only_from and self.status not in only_from:
            self._refuse(action, f"only allowed when the dossier is {' or '.join(only_from)}")
        if self.status in not_from:
            self._refuse(action, f"not allowed when the dossier is {self.status}")
        if self.ended_by == "resolved" and action not in AFTER_RESOLVED:
            self._refuse(action, "after resolved only result_returned, fee_paid, synced and "
                         "rated may follow")
        if self.ended_by in ENDINGS[1:] and action not in AFTER_OTHER_ENDINGS:
            self._refuse(action, f"processing ended ({self.ended_by}); only result_returned, "
                         "synced and rated may follow")

    def _allow_processing(self, action: str, at: datetime) -> None:
        self._allow(action, at, not_from=("submitted", "refused"))
        if self.ended_by is not None:
            self._refuse(action, f"processing ended ({self.ended_by})")

    def _staff_step(self, action: str, at: datetime, by: str) -> None:
        self._allow_processing(action, at)
        self._check_no_open_supplement(action)
        self._check_text(by, action, "by")

    def _check_no_open_supplement(self, action: str) -> None:
        if self.supplement_open_since is not None:
            self._refuse(action, "a supplement request is open (chờ bổ sung)")

    def _check_text(self, value: Any, action: str, field: str) -> None:
        check_type(value, str, f"dossier {self.key}: {action} {field!r}")

    def _check_amount(self, value: Any, action: str) -> None:
        check_type(value, int, f"dossier {self.key}: {action} 'amount_vnd'")
        if value < 0:
            raise InvalidValue(f"dossier {self.key}: {action} 'amount_vnd'", "must be >= 0")

    def _refuse(self, action: str, rule: str) -> None:
        raise IllegalTransition(self.STREAM, self.key, action, self.status, rule)

    # -- events: assign only -----------------------------------------------------------------

    @event("Received")
    def _received(self, at: datetime, due_at: datetime) -> None:
        self.last_at = at
        self.status = "received"
        self.received_at = at
        self.due_at = due_at
        self.current_due_at = due_at

    @event("Refused")
    def _refused(self, at: datetime, reason: str) -> None:
        self.last_at = at
        self.status = "refused"
        self.ended_at = at

    @event("SupplementRequested")
    def _supplement_requested(self, at: datetime, reason: str) -> None:
        self.last_at = at
        self.status = "supplement_requested"
        self.supplement_requests += 1
        self.supplement_open_since = at

    @event("SupplementCompleted")
    def _supplement_completed(self, at: datetime) -> None:
        self.last_at = at
        self.status = "in_process"
        if self.supplement_open_since is not None:
            self.supplement_waited += at - self.supplement_open_since
        self.supplement_open_since = None

    @event("Transferred")
    def _transferred(self, at: datetime, to_unit: str, kind: str) -> None:
        self.last_at = at
        self.holder_unit = to_unit
        if self.supplement_open_since is None:
            self.status = "in_process"

    @event("Appraised")
    def _appraised(self, at: datetime, by: str) -> None:
        self.last_at = at
        self.status = "in_process"

    @event("Approved")
    def _approved(self, at: datetime, by: str) -> None:
        self.last_at = at
        self.status = "in_process"

    @event("Signed")
    def _signed(self, at: datetime, by: str) -> None:
        self.last_at = at
        self.status = "in_process"

    @event("FeeRequested")
    def _fee_requested(self, at: datetime, amount_vnd: int) -> None:
        self.last_at = at
        self.fee_requested_vnd += amount_vnd
        if self.supplement_open_since is None:
            self.status = "fee_requested"

    @event("FeePaid")
    def _fee_paid(self, at: datetime, amount_vnd: int, method: str) -> None:
        self.last_at = at
        self.fee_paid_vnd += amount_vnd
        if self.status == "fee_requested":
            self.status = "in_process"

    @event("Resolved")
    def _resolved(self, at: datetime, electronic_result: bool,
                  pushed_to_personal_store: bool) -> None:
        self.last_at = at
        self.status = "resolved"
        self.ended_by = "resolved"
        self.ended_at = at
        self.resolved_at = at

    @event("ResultReturned")
    def _result_returned(self, at: datetime, method: str) -> None:
        self.last_at = at
        if self.returned_at is None:
            self.returned_at = at
        if self.ended_by in (None, "resolved"):
            self.status = "returned"

    @event("ApologyIssued")
    def _apology_issued(self, at: datetime, new_due_at: datetime, reason: str) -> None:
        self.last_at = at
        self.current_due_at = new_due_at

    @event("Rejected")
    def _rejected(self, at: datetime, reason: str) -> None:
        self._end("rejected", at)

    @event("Stopped")
    def _stopped(self, at: datetime, reason: str) -> None:
        self._end("stopped", at)

    @event("Withdrawn")
    def _withdrawn(self, at: datetime) -> None:
        self._end("withdrawn", at)

    @event("Synced")
    def _synced(self, at: datetime) -> None:
        self.last_at = at
        self.synced = True

    @event("Rated")
    def _rated(self, at: datetime, satisfied: bool) -> None:
        self.last_at = at
        self.rated_satisfied = satisfied

    def _end(self, how: str, at: datetime) -> None:
        self.last_at = at
        self.status = how
        self.ended_by = how
        if self.ended_at is None:
            self.ended_at = at


def _check_component(component: Any, what: str) -> dict[str, Any]:
    check_type(component, dict, what)
    expected = {"name", *COMPONENT_FLAGS}
    unknown = set(component) - expected
    if unknown:
        raise InvalidValue(what, f"unknown field(s) {', '.join(sorted(unknown))}")
    missing = expected - set(component)
    if missing:
        raise InvalidValue(what, f"missing field(s) {', '.join(sorted(missing))}")
    check_type(component["name"], str, f"{what} 'name'")
    for flag in COMPONENT_FLAGS:
        check_type(component[flag], bool, f"{what} {flag!r}")
    return {key: component[key] for key in ("name", *COMPONENT_FLAGS)}
