from libc.stdint cimport int64_t

cpdef int64_t parse_ledger_instant(object value)
