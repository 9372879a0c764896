# C-level declarations of the compiled dossier facts (cimported by the compiled counters).

cdef class DossierFacts:
    cdef public str id, code, procedure, unit, channel, applicant_kind
    cdef public bint vneid_verified, digitized, reused, from_personal_store, from_population_db
    cdef public object submitted_at
    cdef public bint fee_bearing, requires_result_document, full_online_eligible, citizen_target
    cdef public object statutory_days, received_at, due_at, refused_at
    cdef public list supplements, apologies
    cdef public object resolved_at
    cdef public bint electronic_result, pushed_to_personal_store
    cdef public object returned_at, ended_at, ended_how, synced_at
    cdef public list online_payments
    cdef public object paid_at, rated_at, satisfied, named_at, transferred_at, appraised_at
    cdef public object approved_at, signed_at, last_at

    cdef tuple _fields(self)
