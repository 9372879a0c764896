# 2.1's judgement of one compiled dossier at t (``judge._clock``, ``judge.dossier_timeliness``),
# inline, shared by the compiled counters and the compiled fact rows. Instants are microseconds
# since the epoch; NONE stands for None.

from libc.stdint cimport INT64_MIN, int64_t

from projections._fold cimport DossierFacts

cdef extern from *:
    """
    #define JUDGE_NONE INT64_MIN
    """
    const int64_t NONE "JUDGE_NONE"


cdef struct View:
    int64_t received
    int64_t last
    int64_t due
    int64_t resolved
    int64_t returned
    int64_t ended
    int64_t synced
    int64_t named
    int64_t rated
    int64_t first_online_payment
    bint satisfied
    bint online
    bint eligible
    bint fee_bearing
    bint digitized
    bint reused
    bint personal_store
    bint pushed
    bint population_db
    bint requires_doc
    bint electronic


cdef inline int64_t instant_or_none(object value) except? -1:
    return NONE if value is None else <int64_t>value


cdef inline int load_view(View* v, object facts) except -1:
    """The facts the rules read, from the C fields of a compiled ``DossierFacts``."""
    cdef DossierFacts d
    if type(facts) is not DossierFacts:
        raise TypeError(f"the compiled rules read compiled DossierFacts, not {type(facts)!r}")
    d = <DossierFacts>facts
    v.received = instant_or_none(d.received_at)
    v.last = <int64_t>d.last_at
    v.due = instant_or_none(d.due_at)
    v.resolved = instant_or_none(d.resolved_at)
    v.returned = instant_or_none(d.returned_at)
    v.ended = instant_or_none(d.ended_at)
    v.synced = instant_or_none(d.synced_at)
    v.named = instant_or_none(d.named_at)
    v.rated = instant_or_none(d.rated_at)
    v.first_online_payment = <int64_t>d.online_payments[0] if d.online_payments else NONE
    v.satisfied = bool(d.satisfied)
    v.online = d.channel == "online"
    v.eligible = d.full_online_eligible
    v.fee_bearing = d.fee_bearing
    v.digitized = d.digitized
    v.reused = d.reused
    v.personal_store = d.from_personal_store
    v.pushed = d.pushed_to_personal_store
    v.population_db = d.vneid_verified or d.from_population_db
    v.requires_doc = d.requires_result_document
    v.electronic = d.electronic_result
    return 0


cdef inline int64_t end_at(View* v, int64_t t) noexcept nogil:
    """2.1's end at t: resolved, else result returned, else rejected/stopped/withdrawn."""
    if v.resolved != NONE and v.resolved <= t:
        return v.resolved
    if v.returned != NONE and v.returned <= t:
        return v.returned
    if v.ended != NONE and v.ended <= t:
        return v.ended
    return NONE


cdef struct Clock:
    int64_t end  # NONE: not ended by t
    int64_t due
    int64_t waits  # completed supplement waits
    int64_t requests  # supplement requests
    int64_t open_request  # NONE: none still open


cdef inline int clock(View* v, list apologies, list supplements, int64_t t, bint apology_extends,
                      Clock* out) except -1:
    """``judge._clock``: 2.1's inputs at t."""
    cdef int64_t end = end_at(v, t)
    cdef int64_t stop = end if end != NONE else t
    cdef int64_t due = v.due if v.due != NONE else (v.received if v.received != NONE else 0)
    cdef int64_t waits = 0, requests = 0, open_request = NONE, requested, completed
    if apology_extends:
        for item in apologies:
            if <int64_t>item[0] <= stop:
                due = <int64_t>item[1]
    for item in supplements:
        first = item[0]
        if first is None:
            break
        requested = <int64_t>first
        if requested > stop:
            break
        requests += 1
        done = item[1]
        completed = NONE if done is None else <int64_t>done
        if completed != NONE and completed <= stop:
            waits += completed - requested
        else:
            open_request = requested
    out.end, out.due, out.waits, out.requests, out.open_request = (
        end, due, waits, requests, open_request)
    return 0


cdef struct Verdict:
    bint running  # still open, clock running: on time while t ≤ deadline
    bint on_time  # when not running
    int64_t deadline


cdef inline int timeliness(View* v, list apologies, list supplements, int64_t t,
                           bint apology_extends, Verdict* out) except -1:
    """``judge.dossier_timeliness``: 2.1's verdict at t."""
    cdef Clock c
    clock(v, apologies, supplements, t, apology_extends, &c)
    if c.open_request != NONE:
        out.running, out.on_time, out.deadline = False, (
            c.requests == 1 and c.open_request - c.waits <= c.due), c.due
    elif c.end != NONE:
        out.running, out.on_time, out.deadline = False, c.end - c.waits <= c.due, c.due
    else:
        out.running, out.on_time, out.deadline = True, True, c.due + c.waits
    return 0
