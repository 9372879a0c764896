# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The ledger's timestamp layouts parsed in C: the compiled twin of ``periods.parse_instant``.

``YYYY-MM-DDTHH:MM:SS±HH:MM`` and ``YYYY-MM-DDTHH:MM:SS.ffffff±HH:MM`` give the same integer
microseconds as the Python path (exact integer arithmetic, no float); any other text, or a field
out of range, returns -1 and the caller takes the Python path (which parses every RFC 3339 form
and raises the errors users read).
"""

from libc.stdint cimport int64_t

from projections._civil cimport days_from_civil


cdef inline int _digits(const unsigned char* s, int start, int n) noexcept nogil:
    """The number written by n ASCII digits from ``start``; -1 when one is not a digit."""
    cdef int value = 0, i, d
    for i in range(start, start + n):
        d = s[i] - 48
        if d < 0 or d > 9:
            return -1
        value = value * 10 + d
    return value


cdef inline bint _leap(int y) noexcept nogil:
    return (y % 4 == 0 and y % 100 != 0) or y % 400 == 0


cdef int[13] _MONTH_DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


cpdef int64_t parse_ledger_instant(object value):
    """Microseconds since the epoch of a timestamp in one of the ledger's layouts; -1 when
    ``value`` is in another layout, out of range or not a string (not an error: ask the Python
    parser)."""
    if type(value) is not str:
        return -1
    cdef str text = <str>value
    cdef Py_ssize_t size = len(text)
    cdef int fraction = 0, sign_at
    if size == 25:
        sign_at = 19
    elif size == 32:
        sign_at = 26
    else:
        return -1
    if not text.isascii():
        return -1
    cdef bytes raw = text.encode("ascii")
    cdef const unsigned char* s = raw
    if s[4] != 45 or s[7] != 45 or s[10] != 84 or s[13] != 58 or s[16] != 58:  # - - T : :
        return -1
    if s[sign_at] != 43 and s[sign_at] != 45:  # + or -
        return -1
    if s[sign_at + 3] != 58:
        return -1
    if size == 32:
        if s[19] != 46:  # .
            return -1
        fraction = _digits(s, 20, 6)
        if fraction < 0:
            return -1
    cdef int year = _digits(s, 0, 4), month = _digits(s, 5, 2), day = _digits(s, 8, 2)
    cdef int hour = _digits(s, 11, 2), minute = _digits(s, 14, 2), second = _digits(s, 17, 2)
    cdef int off_h = _digits(s, sign_at + 1, 2), off_m = _digits(s, sign_at + 4, 2)
    if year < 1 or month < 1 or month > 12 or day < 1 or hour < 0 or hour > 23:
        return -1
    if minute < 0 or minute > 59 or second < 0 or second > 59:
        return -1
    if off_h < 0 or off_h > 23 or off_m < 0 or off_m > 59:
        return -1
    if day > _MONTH_DAYS[month] + (1 if month == 2 and _leap(year) else 0):
        return -1
    cdef int64_t offset = off_h * 3600 + off_m * 60
    if s[sign_at] == 45:
        offset = -offset
    cdef int64_t seconds = (days_from_civil(year, month, day) * 86400
                            + hour * 3600 + minute * 60 + second - offset)
    if seconds < 0:
        return -1
    return seconds * 1000000 + fraction
