# cython: language_level=3, cdivision=True
"""The fold of dossier events in C: the compiled twin of ``FactStore.apply`` and its
``_on_dossier__*`` handlers (``facts.py`` stays the reference: read the rules there).

:class:`DossierFacts` here has the fields, defaults, ``end_at``, equality and repr of the
dataclass in ``facts.py``, stored in a C struct. :class:`Fold` is bound to one ``FactStore``:
dossier events are folded here, every other event by the store's Python handlers, and the
store's counters (events, watermark, position) move as in ``FactStore.apply``.
"""

from libc.stdint cimport int64_t

from projections._civil cimport DAY, OFFSET, floordiv, month_index
from projections._instants cimport parse_ledger_instant
from projections.periods import parse_instant


SCORED_STREAMS = frozenset({"dossier", "procedure", "petition", "unit"})
ONLINE_PAYMENT_METHODS = frozenset({"national_portal", "local_gateway"})


cdef inline object _instant(object text):
    cdef int64_t found = parse_ledger_instant(text)
    return found if found >= 0 else parse_instant(text)


cdef class DossierFacts:
    """What the ledger says about one dossier (hồ sơ); times are instants, None = not yet.
    (Its fields are declared in _fold.pxd.)"""

    def __init__(self, str id, str code, str procedure, str unit, str channel,
                 str applicant_kind, bint vneid_verified, bint digitized, bint reused,
                 bint from_personal_store, bint from_population_db, object submitted_at,
                 bint fee_bearing=False, bint requires_result_document=False,
                 bint full_online_eligible=False, bint citizen_target=False,
                 object statutory_days=None, object received_at=None, object due_at=None,
                 object refused_at=None, list supplements=None, list apologies=None,
                 object resolved_at=None, bint electronic_result=False,
                 bint pushed_to_personal_store=False, object returned_at=None,
                 object ended_at=None, object ended_how=None, object synced_at=None,
                 list online_payments=None, object paid_at=None, object rated_at=None,
                 object satisfied=None, object named_at=None, object transferred_at=None,
                 object appraised_at=None, object approved_at=None, object signed_at=None,
                 object last_at=0):
        self.id, self.code, self.procedure, self.unit = id, code, procedure, unit
        self.channel, self.applicant_kind = channel, applicant_kind
        self.vneid_verified, self.digitized, self.reused = vneid_verified, digitized, reused
        self.from_personal_store, self.from_population_db = (from_personal_store,
                                                             from_population_db)
        self.submitted_at = submitted_at
        self.fee_bearing, self.requires_result_document = fee_bearing, requires_result_document
        self.full_online_eligible, self.citizen_target = full_online_eligible, citizen_target
        self.statutory_days, self.received_at = statutory_days, received_at
        self.due_at, self.refused_at = due_at, refused_at
        self.supplements = [] if supplements is None else supplements
        self.apologies = [] if apologies is None else apologies
        self.resolved_at = resolved_at
        self.electronic_result = electronic_result
        self.pushed_to_personal_store = pushed_to_personal_store
        self.returned_at, self.ended_at, self.ended_how = returned_at, ended_at, ended_how
        self.synced_at = synced_at
        self.online_payments = [] if online_payments is None else online_payments
        self.paid_at, self.rated_at, self.satisfied = paid_at, rated_at, satisfied
        self.named_at, self.transferred_at = named_at, transferred_at
        self.appraised_at, self.approved_at, self.signed_at = appraised_at, approved_at, signed_at
        self.last_at = last_at

    def end_at(self, t):
        """2.1's end at t: resolved, else result returned, else rejected/stopped/withdrawn."""
        if self.resolved_at is not None and self.resolved_at <= t:
            return self.resolved_at
        if self.returned_at is not None and self.returned_at <= t:
            return self.returned_at
        if self.ended_at is not None and self.ended_at <= t:
            return self.ended_at
        return None

    cdef tuple _fields(self):
        return (self.id, self.code, self.procedure, self.unit, self.channel,
                self.applicant_kind, self.vneid_verified, self.digitized, self.reused,
                self.from_personal_store, self.from_population_db, self.submitted_at,
                self.fee_bearing, self.requires_result_document, self.full_online_eligible,
                self.citizen_target, self.statutory_days, self.received_at, self.due_at,
                self.refused_at, self.supplements, self.apologies, self.resolved_at,
                self.electronic_result, self.pushed_to_personal_store, self.returned_at,
                self.ended_at, self.ended_how, self.synced_at, self.online_payments,
                self.paid_at, self.rated_at, self.satisfied, self.named_at,
                self.transferred_at, self.appraised_at, self.approved_at, self.signed_at,
                self.last_at)

    def __eq__(self, other):
        if type(other) is not DossierFacts:
            return NotImplemented
        return self._fields() == (<DossierFacts>other)._fields()

    def __repr__(self):
        return "DossierFacts(" + ", ".join(
            f"{name}={value!r}" for name, value in zip(FIELDS, self._fields())) + ")"


FIELDS = (
    "id", "code", "procedure", "unit", "channel", "applicant_kind", "vneid_verified",
    "digitized", "reused", "from_personal_store", "from_population_db", "submitted_at",
    "fee_bearing", "requires_result_document", "full_online_eligible", "citizen_target",
    "statutory_days", "received_at", "due_at", "refused_at", "supplements", "apologies",
    "resolved_at", "electronic_result", "pushed_to_personal_store", "returned_at", "ended_at",
    "ended_how", "synced_at", "online_payments", "paid_at", "rated_at", "satisfied", "named_at",
    "transferred_at", "appraised_at", "approved_at", "signed_at", "last_at",
)
"""The fields of :class:`DossierFacts`, in the order of the dataclass in ``facts.py``."""


cdef enum Kind:
    OTHER, SUBMITTED, RECEIVED, REFUSED, SUPPLEMENT_REQUESTED, SUPPLEMENT_COMPLETED, TRANSFERRED
    APPRAISED, APPROVED, SIGNED, FEE_PAID, RESOLVED, RESULT_RETURNED, APOLOGY_ISSUED, REJECTED
    STOPPED, WITHDRAWN, SYNCED, RATED

KINDS = {
    "dossier.submitted": SUBMITTED, "dossier.received": RECEIVED, "dossier.refused": REFUSED,
    "dossier.supplement_requested": SUPPLEMENT_REQUESTED,
    "dossier.supplement_completed": SUPPLEMENT_COMPLETED,
    "dossier.transferred": TRANSFERRED, "dossier.appraised": APPRAISED,
    "dossier.approved": APPROVED, "dossier.signed": SIGNED, "dossier.fee_paid": FEE_PAID,
    "dossier.resolved": RESOLVED, "dossier.result_returned": RESULT_RETURNED,
    "dossier.apology_issued": APOLOGY_ISSUED, "dossier.rejected": REJECTED,
    "dossier.stopped": STOPPED, "dossier.withdrawn": WITHDRAWN, "dossier.synced": SYNCED,
    "dossier.rated": RATED,
}


cdef class Fold:
    """``FactStore.apply`` for one store, dossier events folded in C."""

    cdef object store
    cdef dict handlers, dossiers, procedures, petitions, petitions_naming, dossiers_by_unit
    cdef dict due_dates, kinds
    cdef set activity_changed
    cdef object due_at_of
    cdef dict dirty  # of the engine fed (see :meth:`feeding`)
    cdef object other

    def __init__(self, store):
        self.store = store
        self.handlers = store._handlers
        self.dossiers = store.dossiers
        self.procedures = store.procedures
        self.petitions = store.petitions
        self.petitions_naming = store.petitions_naming
        self.dossiers_by_unit = store.dossiers_by_unit
        self.due_dates = store._due_dates
        self.activity_changed = store.activity_changed
        self.due_at_of = store._due_at
        self.kinds = KINDS

    def feeding(self, dict dirty, object other):
        """:meth:`feed` marks touched dossiers in ``dirty`` (id → earliest time folded since
        the last flush) and hands every other touch to ``other(kind, id, at)``: the loop of
        ``ScoringEngine.apply``. Returns :meth:`feed`."""
        self.dirty, self.other = dirty, other
        return self.feed

    def feed(self, dict envelope):
        """Fold one event and mark what it touched (see :meth:`feeding`)."""
        touches = self.apply(envelope)
        for touch in touches:
            kind, item, at = touch
            if kind == "dossier":
                earliest = self.dirty.get(item)
                if earliest is None or at < earliest:
                    self.dirty[item] = at
            else:
                self.other(kind, item, at)

    def apply(self, dict envelope):
        """Fold one event; returns the aggregates whose scores it may change."""
        if envelope.get("stream") not in SCORED_STREAMS:
            return ()
        event_type = envelope["type"]
        handler = self.handlers.get(event_type)
        if handler is None:
            return ()
        at = _instant(envelope["at"])
        store = self.store
        store.events += 1
        if at > store.watermark:
            store.watermark = at
        position = envelope.get("position")
        if isinstance(position, int) and position > store.position:
            store.position = position
        found = self.kinds.get(event_type)
        if found is None:
            touch = handler(envelope, at)
        else:
            touch = self._dossier_event(<int>found, envelope, at)
        if touch is None:
            return ()
        if touch[0] == "petition" and event_type == "petition.received":
            named = self.petitions[touch[1]].dossier
            if named is not None and named in self.dossiers:
                return (touch, ("dossier", named, at))
        return (touch,)

    cdef object _dossier_event(self, int kind, dict e, object at):
        cdef DossierFacts dossier
        if kind == SUBMITTED:
            return self._submitted(e, at)
        found = self.dossiers.get(e["id"])
        if found is None:
            return None
        dossier = <DossierFacts>found
        if kind == TRANSFERRED or kind == APPRAISED or kind == APPROVED or kind == SIGNED:
            # steps of "5 tại chỗ": the first time counts, scores do not change
            if kind == TRANSFERRED:
                if dossier.transferred_at is None:
                    dossier.transferred_at = at
            elif kind == APPRAISED:
                if dossier.appraised_at is None:
                    dossier.appraised_at = at
            elif kind == APPROVED:
                if dossier.approved_at is None:
                    dossier.approved_at = at
            elif dossier.signed_at is None:
                dossier.signed_at = at
            return None
        if at > dossier.last_at:
            dossier.last_at = at
        touch = ("dossier", dossier.id, at)
        if kind == RECEIVED:
            return self._received(dossier, e, at)
        if kind == REFUSED:
            dossier.refused_at = at
            return None
        if kind == SUPPLEMENT_REQUESTED:
            dossier.supplements.append([at, None])
            return touch
        if kind == SUPPLEMENT_COMPLETED:
            if dossier.supplements and dossier.supplements[-1][1] is None:
                dossier.supplements[-1][1] = at
            return touch
        if kind == FEE_PAID:
            if dossier.paid_at is None:
                dossier.paid_at = at
            if e["data"].get("method") not in ONLINE_PAYMENT_METHODS:
                return None
            dossier.online_payments.append(at)
            procedure = self.procedures.get(dossier.procedure)
            if procedure is not None:
                self._activity(procedure, procedure.online_paid, at)
            return touch
        if kind == RESOLVED:
            if dossier.resolved_at is not None:
                return None
            dossier.resolved_at = at
            data = e["data"]
            dossier.electronic_result = bool(data.get("electronic_result", False))
            dossier.pushed_to_personal_store = bool(data.get("pushed_to_personal_store", False))
            return touch
        if kind == RESULT_RETURNED:
            if dossier.returned_at is not None:
                return None
            dossier.returned_at = at
            return touch
        if kind == APOLOGY_ISSUED:
            dossier.apologies.append((at, _instant(e["data"]["new_due_at"])))
            return touch
        if kind == REJECTED or kind == STOPPED or kind == WITHDRAWN:
            if dossier.ended_at is not None:
                return None
            dossier.ended_at = at
            dossier.ended_how = ("rejected" if kind == REJECTED else
                                 "stopped" if kind == STOPPED else "withdrawn")
            return touch
        if kind == SYNCED:
            if dossier.synced_at is not None:
                return None
            dossier.synced_at = at
            return touch
        if kind == RATED:
            if dossier.rated_at is not None:
                return None
            dossier.rated_at, dossier.satisfied = at, bool(e["data"]["satisfied"])
            return touch
        return None

    cdef object _submitted(self, dict e, object at):
        cdef DossierFacts dossier
        d = e["data"]
        dossier_id = e["id"]
        if dossier_id in self.dossiers:
            return None
        cdef bint digitized = False, reused = False, personal_store = False
        cdef bint population_db = False
        for c in d.get("components") or ():
            digitized = digitized or bool(c.get("digitized"))
            reused = reused or bool(c.get("reused"))
            personal_store = personal_store or bool(c.get("from_personal_store"))
            population_db = population_db or bool(c.get("from_population_db"))
        dossier = DossierFacts(
            dossier_id, str(d.get("code", dossier_id)), d["procedure"], d["unit"], d["channel"],
            d.get("applicant_kind", ""), bool(d.get("vneid_verified", False)), digitized,
            reused, personal_store, population_db, at, last_at=at)
        procedure = self.procedures.get(dossier.procedure)
        if procedure is not None:
            dossier.fee_bearing = procedure.fee_vnd > 0
            dossier.requires_result_document = procedure.requires_result_document
            dossier.full_online_eligible = procedure.full_online_eligible
            dossier.citizen_target = procedure.citizen_target
            dossier.statutory_days = procedure.statutory_days
        for petition_id in self.petitions_naming.get(dossier_id, ()):
            named = self.petitions[petition_id].received_at
            if dossier.named_at is None or named < dossier.named_at:
                dossier.named_at = named
                dossier.last_at = max(dossier.last_at, named)
        self.dossiers[dossier_id] = dossier
        units = self.dossiers_by_unit.get(dossier.unit)
        if units is None:
            self.dossiers_by_unit[dossier.unit] = {dossier_id: None}
        else:
            (<dict>units)[dossier_id] = None
        return ("dossier", dossier_id, at)

    cdef object _received(self, DossierFacts dossier, dict e, object at):
        if dossier.received_at is not None:
            return None
        dossier.received_at = at
        due = e["data"].get("due_at")
        if due:
            dossier.due_at = _instant(due)
        else:
            days = dossier.statutory_days or 0
            key = (floordiv(<int64_t>at + OFFSET, DAY), days)
            found = self.due_dates.get(key)
            dossier.due_at = self.due_at_of(at, days) if found is None else found
        procedure = self.procedures.get(dossier.procedure)
        if procedure is not None:
            if dossier.channel == "online":
                self._activity(procedure, procedure.online_received, at)
            if dossier.vneid_verified or dossier.from_population_db:
                self._activity(procedure, procedure.population_db_received, at)
        return ("dossier", dossier.id, at)

    cdef int _activity(self, object procedure, list times, object at) except -1:
        """``FactStore._activity``: keep the earliest activity of each local month in a
        sorted list; a first activity in a local month changes the procedure's catalogue
        judgements."""
        cdef int64_t t = <int64_t>at
        cdef Py_ssize_t lo = 0, hi = len(times), mid
        while lo < hi:  # bisect_right
            mid = (lo + hi) >> 1
            if t < <int64_t>times[mid]:
                hi = mid
            else:
                lo = mid + 1
        cdef int64_t month = month_index(t)
        if lo > 0 and month_index(<int64_t>times[lo - 1]) == month:
            return 0
        if lo < len(times) and month_index(<int64_t>times[lo]) == month:
            times[lo] = at
            return 0
        self.activity_changed.add(procedure.id)
        times.insert(lo, at)
        return 0
