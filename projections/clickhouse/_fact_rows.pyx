# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True
"""``dossier_facts`` rows in C: the compiled twin of ``rows.FactRows`` (which composes
``projections.rows.dossier_row`` and ``rows.fact_row``); the Python classes stay the reference and
the test suite checks that both give the same rows, value for value and type for type.

It reads the C fields of the compiled ``DossierFacts``, judges 2.1 with the inline rules shared
with the compiled counters (``_judge.pxd``) and builds the datetimes from their fields: exact
where ``periods.to_datetime``'s float division is exact and Asia/Ho_Chi_Minh is UTC+7
(1976–2099), through ``to_datetime`` elsewhere.
"""

from cpython.datetime cimport datetime_new, import_datetime
from libc.stdint cimport int64_t

from projections._civil cimport DAY, OFFSET, civil_from_days, floordiv
from projections._fold cimport DossierFacts
from projections._judge cimport NONE, Clock, View, clock, instant_or_none, load_view

from domain.calendar import LOCAL_TZ
from projections.periods import local_day, to_datetime

import_datetime()

cdef int64_t EXACT_FROM = 189277200000000  # 1976-01-01 00:00 local
cdef int64_t EXACT_UNTIL = 4102419600000000  # 2100-01-01 00:00 local
cdef int64_t HOUR = 3600000000
cdef int64_t MINUTE = 60000000
cdef int64_t SECOND = 1000000
cdef Py_ssize_t DAYS_CACHED = 1 << 16
cdef object TZ = LOCAL_TZ


cdef object _datetime(int64_t instant):
    """``periods.to_datetime``."""
    cdef int64_t local, days, rest, y, m, d
    if instant < EXACT_FROM or instant >= EXACT_UNTIL:
        return to_datetime(instant)
    local = instant + OFFSET
    days = floordiv(local, DAY)
    rest = local - days * DAY
    civil_from_days(days, &y, &m, &d)
    return datetime_new(<int>y, <int>m, <int>d, <int>(rest // HOUR), <int>(rest // MINUTE % 60),
                        <int>(rest // SECOND % 60), <int>(rest % SECOND), TZ)


cdef inline object _time(int64_t instant, int64_t t):
    return None if instant == NONE or instant > t else _datetime(instant)


cdef bint _five_on_the_spot(DossierFacts f, int64_t t) except -1:
    """``projections.rows.five_on_the_spot``."""
    cdef int64_t day = 0, at
    cdef int i
    if f.transferred_at is not None and <int64_t>f.transferred_at <= t:
        return False
    for i, step in enumerate((f.received_at, f.appraised_at, f.approved_at, f.signed_at,
                              f.returned_at)):
        if step is None:
            return False
        at = <int64_t>step
        if at > t:
            return False
        if i == 0:
            day = floordiv(at + OFFSET, DAY)
        elif floordiv(at + OFFSET, DAY) != day:
            return False
    return True


cdef class FactRows:
    """``dossier_facts`` rows under one rulebook's switches and working calendar."""

    cdef object calendar
    cdef bint apology_extends
    cdef dict days  # (first day << 32) + last day -> working days between them

    def __init__(self, switches, calendar):
        self.calendar = calendar
        self.apology_extends = switches.apology_extends_due
        self.days = {}

    cdef object _working_days(self, int64_t start, int64_t end):
        key = (floordiv(start + OFFSET, DAY) << 32) + floordiv(end + OFFSET, DAY)
        found = self.days.get(key)
        if found is None:
            if len(self.days) >= DAYS_CACHED:
                self.days.clear()
            found = self.days[key] = self.calendar.working_days_between(local_day(start),
                                                                        local_day(end))
        return found

    def row(self, object facts, int64_t t, str province, object evaluated_at, object position):
        """(row, deadline): the row of a dossier at t, and the instant after which it turns
        late with no event when it is open on time (None otherwise)."""
        cdef View v
        cdef Clock c
        cdef DossierFacts f
        cdef int64_t received, refused_at, adjusted = NONE, deadline = NONE
        cdef bint refused, running = False, on_time = False, paid = False
        load_view(&v, facts)
        f = <DossierFacts>facts
        received = v.received if v.received != NONE and v.received <= t else NONE
        refused_at = instant_or_none(f.refused_at)
        refused = refused_at != NONE and refused_at <= t
        for at in f.online_payments:
            if <int64_t>at <= t:
                paid = True
                break
        status = on_time_value = end_value = adjusted_value = days_value = None
        if received == NONE:
            status = "refused" if refused else "submitted"
        else:
            clock(&v, f.apologies, f.supplements, t, self.apology_extends, &c)
            if c.open_request != NONE:  # an open request stops the clock, ended or not
                adjusted = c.open_request - c.waits
                on_time = c.requests == 1 and adjusted <= c.due
            elif c.end != NONE:
                adjusted = c.end - c.waits
                on_time = adjusted <= c.due
            else:
                running = True
                deadline = c.due + c.waits
                on_time = t <= deadline
            if running:
                status = "open" if on_time else "open_late"
            elif c.end != NONE:
                status = "on_time" if on_time else "late"
            else:
                status = "waiting_supplement" if on_time else "waiting_supplement_late"
            on_time_value = on_time
            end_value = _time(c.end, t)
            if adjusted != NONE:
                adjusted_value = _datetime(adjusted)
            finish = adjusted if adjusted != NONE else t
            days_value = self._working_days(received, finish if finish > received else received)
        row = (
            f.id, f.code, f.procedure, f.unit, province, f.channel, f.applicant_kind,
            _time(instant_or_none(f.submitted_at), t),
            None if received == NONE else _datetime(received),
            refused,
            _datetime(v.due) if received != NONE and v.due != NONE and v.due != 0 else None,
            end_value, adjusted_value, status, on_time_value, days_value, f.statutory_days, paid,
            f.digitized, f.reused,
            v.personal_store or (v.pushed and v.resolved != NONE and v.resolved <= t),
            v.population_db,
            v.electronic and v.resolved != NONE and v.resolved <= t,
            v.synced != NONE and v.synced <= t,
            f.satisfied if v.rated != NONE and v.rated <= t else None,
            v.named != NONE and v.named <= t,
            _five_on_the_spot(f, t),
            evaluated_at, position,
        )
        return row, (deadline if running and on_time else None)
