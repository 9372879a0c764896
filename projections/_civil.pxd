# Calendar arithmetic shared by the compiled modules (inline, proleptic Gregorian, Hinnant's
# algorithms); instants are microseconds since the epoch, local time is UTC+7 (periods.py).

cimport cython
from libc.stdint cimport int64_t

cdef extern from *:
    """
    #define CIVIL_DAY (86400LL * 1000000LL)
    #define CIVIL_OFFSET (7LL * 3600LL * 1000000LL) /* Asia/Ho_Chi_Minh: UTC+7, no DST since 1975 */
    """
    const int64_t DAY "CIVIL_DAY"
    const int64_t OFFSET "CIVIL_OFFSET"


cdef inline int64_t floordiv(int64_t a, int64_t b) noexcept nogil:
    """a // b rounded towards minus infinity, whatever the cdivision directive."""
    cdef int64_t q = cython.cdiv(a, b)
    if cython.cmod(a, b) != 0 and ((a < 0) != (b < 0)):
        q -= 1
    return q


cdef inline int64_t days_from_civil(int64_t y, int64_t m, int64_t d) noexcept nogil:
    """Days since 1970-01-01 of a date."""
    if m <= 2:
        y -= 1
    cdef int64_t era = floordiv(y, 400)
    cdef int64_t yoe = y - era * 400
    cdef int64_t doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    cdef int64_t doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef inline void civil_from_days(int64_t days, int64_t* year, int64_t* month,
                                 int64_t* day) noexcept nogil:
    """The date ``days`` days after 1970-01-01."""
    cdef int64_t z = days + 719468
    cdef int64_t era = floordiv(z, 146097)
    cdef int64_t doe = z - era * 146097
    cdef int64_t yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    cdef int64_t doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    cdef int64_t mp = (5 * doy + 2) // 153
    cdef int64_t m = mp + 3 if mp < 10 else mp - 9
    year[0] = yoe + era * 400 + (1 if m <= 2 else 0)
    month[0] = m
    day[0] = doy - (153 * mp + 2) // 5 + 1


cdef inline int64_t month_index(int64_t instant) noexcept nogil:
    """Months since year 0 of the local date of an instant (``periods.month_index``)."""
    cdef int64_t y, m, d
    civil_from_days(floordiv(instant + OFFSET, DAY), &y, &m, &d)
    return y * 12 + m - 1


cdef inline int64_t month_start(int64_t index) noexcept nogil:
    """The first instant of month ``index`` (year * 12 + month - 1) in local time."""
    cdef int64_t y = floordiv(index, 12)
    return days_from_civil(y, index - y * 12 + 1, 1) * DAY - OFFSET
