# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: cdivision=True
"""Dossier counters in flat C arrays: the compiled twin of ``contributions.dossier_contributions``
plus ``counters.Tracker`` for dossiers.

Each dossier keeps, per period it counts in, one entry (period id, counter bits, deadline of a
pending 2.1 verdict, deadline of a pending 5.3 verdict) and at most one pool entry (month of its
last event: it counts in every period starting later while open). When its facts change, its
entries are recomputed from the facts alone and diffed with the kept ones; each entry that differs
is retracted from, or added to, the buckets of every unit of its scope: per-bit counts and
sorted arrays of pending deadlines. Periods are integers ``first_month * 4 + kind`` (kind 0 month,
1 quarter, 2 year, 3 pool of that month); instants are microseconds as in ``periods.py``.

The rules are those of ``contributions.py`` (read there what each bit means); the Python modules
stay the reference: the test suite runs the engine on both and against the scan-based
recomputation of ``recompute.py``.
"""

from libc.stdint cimport int64_t, uint32_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memmove, memset

from projections._civil cimport month_index, month_start
from projections._judge cimport NONE, Verdict, View, end_at, load_view, timeliness
from projections.counters import Totals

cdef extern from *:
    int __builtin_ctz(unsigned int x)

cdef enum:
    NBITS = 16  # contributions.DOSSIER_BITS
    RECEIVED = 1
    SYNCED = 2
    ONLINE = 4
    FEE_BEARING = 8
    PAID_ONLINE = 16
    RESOLVED_DOC = 32
    ELECTRONIC = 64
    DIGITIZED = 128
    REUSED = 256
    PERSONAL_STORE = 512
    POPULATION_DB = 1024
    POPULATION_21 = 2048
    ON_TIME_21 = 4096
    SATISFIED_53 = 8192
    ELIGIBLE = 16384
    ELIGIBLE_ONLINE = 32768

cdef int64_t FAR_FUTURE = (<int64_t>1) << 62  # contributions.FAR_FUTURE
cdef int64_t POOL = 3


cdef inline int64_t period_start(int64_t pid) noexcept nogil:
    return month_start(pid >> 2)


cdef inline int64_t period_end(int64_t pid) noexcept nogil:
    cdef int64_t kind = pid & 3
    return month_start((pid >> 2) + (1 if kind == 0 else 3 if kind == 1 else 12))


cdef inline int64_t month_id(int64_t m) noexcept nogil:
    return m * 4


cdef inline int64_t quarter_id(int64_t m) noexcept nogil:
    return (m - m % 3) * 4 + 1


cdef inline int64_t year_id(int64_t m) noexcept nogil:
    return (m - m % 12) * 4 + 2


def period_id(period):
    """The integer id of a ``periods.Period``."""
    months = period.months
    return period.first_month * 4 + (0 if months == 1 else 1 if months == 3 else 2)


def period_key(int64_t pid):
    """The key ('2026-10', '2026-Q4', '2026') of a period id."""
    cdef int64_t first = pid >> 2
    cdef int64_t kind = pid & 3
    year, month0 = divmod(first, 12)
    if kind == 0:
        return f"{year}-{month0 + 1:02d}"
    if kind == 1:
        return f"{year}-Q{month0 // 3 + 1}"
    return f"{year}"


cdef struct Entry:
    int64_t pid  # period id (kind 3: pool of that month)
    uint32_t mask
    int64_t a  # deadline of a pending 2.1 verdict, NONE: none
    int64_t b  # deadline of a pending 5.3 verdict


cdef inline bint contribution(View* v, int64_t start, int64_t t, bint live, bint in_period,
                              Verdict* verdict, Entry* out) noexcept nogil:
    """``contributions._contribution``: false when the dossier adds nothing (``verdict``
    NULL: not in 2.1's population for the period)."""
    cdef uint32_t mask = 0
    cdef int64_t pending_21 = NONE, pending_53 = NONE
    cdef bint named, unsatisfied
    if verdict != NULL:
        mask = POPULATION_21
        if verdict.running and live:
            pending_21 = verdict.deadline
        elif (t <= verdict.deadline) if verdict.running else verdict.on_time:
            mask = POPULATION_21 | ON_TIME_21
    if in_period:
        mask |= RECEIVED
        if v.synced != NONE and v.synced <= t:
            mask |= SYNCED
        if v.online:
            mask |= ONLINE
        if v.eligible:
            mask |= ELIGIBLE | (ELIGIBLE_ONLINE if v.online else 0)
        if v.fee_bearing:
            mask |= FEE_BEARING
            if v.first_online_payment != NONE and v.first_online_payment <= t:
                mask |= PAID_ONLINE
        if v.digitized:
            mask |= DIGITIZED
        if v.reused:
            mask |= REUSED
        if v.personal_store or (v.pushed and v.resolved != NONE and v.resolved <= t):
            mask |= PERSONAL_STORE
        if v.population_db:
            mask |= POPULATION_DB
        named = v.named != NONE and v.named <= t
        unsatisfied = v.rated != NONE and v.rated <= t and not v.satisfied
        if not (named or unsatisfied):
            if pending_21 != NONE:
                pending_53 = pending_21
            elif mask & ON_TIME_21:
                mask |= SATISFIED_53
    if v.requires_doc and v.resolved != NONE and start <= v.resolved <= t:
        mask |= RESOLVED_DOC | (ELECTRONIC if v.electronic else 0)
    if not mask:
        return False
    out.mask, out.a, out.b = mask, pending_21, pending_53
    return True


# -- storage ------------------------------------------------------------------------------------
cdef struct Bucket:
    int64_t bits[NBITS]
    int64_t* pa  # pending 2.1 (or pool) deadlines, sorted
    int64_t* pb  # pending 5.3 deadlines, sorted
    int na
    int ca
    int nb
    int cb
    int unit
    int64_t pid
    bint touched


cdef struct Item:
    int scope  # -1: none yet
    int n
    int cap
    Entry* entries  # sorted by pid; a pool entry (kind 3) among them


cdef int _insert(int64_t** data, int* n, int* cap, int64_t value) except -1:
    cdef int lo = 0, hi = n[0], mid
    cdef int64_t* grown
    while lo < hi:
        mid = (lo + hi) >> 1
        if data[0][mid] <= value:
            lo = mid + 1
        else:
            hi = mid
    if n[0] == cap[0]:
        cap[0] = cap[0] * 2 if cap[0] else 4
        grown = <int64_t*>realloc(data[0], cap[0] * sizeof(int64_t))
        if grown == NULL:
            raise MemoryError()
        data[0] = grown
    memmove(data[0] + lo + 1, data[0] + lo, (n[0] - lo) * sizeof(int64_t))
    data[0][lo] = value
    n[0] += 1
    return 0


cdef int _remove(int64_t* data, int* n, int64_t value) except -1:
    cdef int lo = 0, hi = n[0], mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if data[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    if lo == n[0] or data[lo] != value:
        raise RuntimeError(f"pending deadline {value} retracted but never added")
    memmove(data + lo, data + lo + 1, (n[0] - lo - 1) * sizeof(int64_t))
    n[0] -= 1
    return 0


cdef inline int64_t _turn(int64_t* data, int n, int64_t t, int64_t turn) noexcept nogil:
    """The earliest deadline ≥ t, if earlier than ``turn`` (else ``turn``)."""
    cdef int first = n - _on_time(data, n, t)
    if first < n and data[first] < turn:
        return data[first]
    return turn


cdef inline int _on_time(int64_t* data, int n, int64_t t) noexcept nogil:
    """How many deadlines are ≥ t (on time while t ≤ deadline)."""
    cdef int lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if data[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return n - lo


cdef class DossierCounters:
    """Counters of dossiers for every scope unit and period under one rulebook's switches.

    :meth:`update_all` recomputes the entries of changed dossiers and applies the differences
    at once; :meth:`settle` reports the (unit, period key) buckets and (unit, month) pools whose
    counters changed; :meth:`totals` reads a unit's counters for a period at t.
    """

    cdef bint carried
    cdef bint apology_extends
    cdef Bucket* buckets
    cdef int nbuckets
    cdef int cbuckets
    cdef Item* items
    cdef int nitems
    cdef int citems
    cdef dict item_index  # dossier id -> item
    cdef list free_items  # indices of items taken out (reused by the next new item)
    cdef dict unit_index  # unit code -> unit number
    cdef list unit_codes
    cdef list unit_pools  # per unit number: [(month, bucket)]
    cdef dict bucket_index  # (unit << 32) | pid -> bucket
    cdef dict scope_index  # tuple of unit codes -> scope
    cdef list scope_units  # per scope: tuple of unit numbers
    cdef dict scope_buckets  # (scope << 32) | pid -> tuple of buckets
    cdef int* touched
    cdef int ntouched
    cdef int ctouched
    cdef Entry* scratch
    cdef int nscratch
    cdef int cscratch

    def __cinit__(self, bint carried_over_in_2_1, bint apology_extends_due):
        self.carried = carried_over_in_2_1
        self.apology_extends = apology_extends_due
        self.item_index = {}
        self.free_items = []
        self.unit_index = {}
        self.unit_codes = []
        self.unit_pools = []
        self.bucket_index = {}
        self.scope_index = {}
        self.scope_units = []
        self.scope_buckets = {}

    def __dealloc__(self):
        cdef int i
        if self.buckets != NULL:
            for i in range(self.nbuckets):
                free(self.buckets[i].pa)
                free(self.buckets[i].pb)
            free(self.buckets)
        if self.items != NULL:
            for i in range(self.nitems):
                free(self.items[i].entries)
            free(self.items)
        free(self.touched)
        free(self.scratch)

    # -- entries of one dossier -----------------------------------------------------------------
    cdef int _push(self, Entry* e) except -1:
        cdef Entry* grown
        if self.nscratch == self.cscratch:
            self.cscratch = self.cscratch * 2 if self.cscratch else 64
            grown = <Entry*>realloc(self.scratch, self.cscratch * sizeof(Entry))
            if grown == NULL:
                raise MemoryError()
            self.scratch = grown
        self.scratch[self.nscratch] = e[0]
        self.nscratch += 1
        return 0

    cdef bint _has(self, int64_t pid) noexcept:
        cdef int i
        for i in range(self.nscratch):
            if self.scratch[i].pid == pid:
                return True
        return False

    cdef int _period(self, View* v, object f, int64_t pid, int64_t end,
                     Verdict* final) except -1:
        """One period's entry of a dossier whose reception month has closed."""
        cdef int64_t start = period_start(pid), stop = period_end(pid)
        cdef int64_t t = stop - 1, r = v.received, e
        cdef bint in_period = r >= start, counted
        cdef Verdict verdict
        cdef Entry entry
        if self._has(pid):
            return 0
        entry.pid = pid
        if stop <= v.last:  # closed before the last event: judged at its end
            if r > t:
                return 0
            counted = in_period
            if not counted and self.carried:
                e = end_at(v, t)
                counted = e == NONE or e >= start
            if counted:
                timeliness(v, f.apologies, f.supplements, t, self.apology_extends, &verdict)
            if contribution(v, start, t, False, in_period, &verdict if counted else NULL,
                            &entry):
                self._push(&entry)
        else:
            counted = in_period or (self.carried and (end == NONE or end >= start))
            if contribution(v, start, t, True, in_period, final if counted else NULL, &entry):
                self._push(&entry)
        return 0

    cdef int _compute(self, object f) except -1:
        """The dossier's entries into the scratch buffer, sorted by period id."""
        cdef View v
        cdef Verdict final
        cdef Entry entry
        cdef int64_t r, last, m, mr, stop, end
        cdef int64_t pids[3]
        cdef int i, j, k
        self.nscratch = 0
        load_view(&v, f)
        r = v.received
        if r == NONE:
            return 0
        last = v.last
        timeliness(&v, f.apologies, f.supplements, FAR_FUTURE, self.apology_extends, &final)
        mr = month_index(r)
        pids[0], pids[1], pids[2] = month_id(mr), quarter_id(mr), year_id(mr)
        if month_start(mr + 1) > last:
            # the month of reception is live: its quarter and year share its entry
            if contribution(&v, month_start(mr), month_start(mr + 1) - 1, True, True, &final,
                            &entry):
                for k in range(3):
                    entry.pid = pids[k]
                    self._push(&entry)
        else:
            end = end_at(&v, last)
            for k in range(3):
                self._period(&v, f, pids[k], end, &final)
            if self.carried and last > r:
                stop = month_index(last)
                m = mr + 1
                while m <= stop:
                    self._period(&v, f, month_id(m), end, &final)
                    if m % 3 == 0:
                        self._period(&v, f, quarter_id(m), end, &final)
                    if m % 12 == 0:
                        self._period(&v, f, year_id(m), end, &final)
                    m += 1
            if v.resolved != NONE and v.requires_doc:
                m = month_index(v.resolved)
                pids[0], pids[1], pids[2] = month_id(m), quarter_id(m), year_id(m)
                for k in range(3):
                    self._period(&v, f, pids[k], end, &final)
        if self.carried and end_at(&v, last) == NONE:  # the pool: carried over while open
            entry.pid = month_index(last) * 4 + POOL
            entry.b = NONE
            if final.running:
                entry.mask, entry.a = POPULATION_21, final.deadline
            else:
                entry.mask = POPULATION_21 | (ON_TIME_21 if final.on_time else 0)
                entry.a = NONE
            self._push(&entry)
        for i in range(1, self.nscratch):  # insertion sort: a few entries, nearly sorted
            entry = self.scratch[i]
            j = i - 1
            while j >= 0 and self.scratch[j].pid > entry.pid:
                self.scratch[j + 1] = self.scratch[j]
                j -= 1
            self.scratch[j + 1] = entry
        return 0

    # -- buckets --------------------------------------------------------------------------------
    cdef int _bucket(self, int unit, int64_t pid) except -1:
        key = (<int64_t>unit << 32) | pid
        found = self.bucket_index.get(key)
        if found is not None:
            return <int>found
        cdef Bucket* grown
        if self.nbuckets == self.cbuckets:
            self.cbuckets = self.cbuckets * 2 if self.cbuckets else 256
            grown = <Bucket*>realloc(self.buckets, self.cbuckets * sizeof(Bucket))
            if grown == NULL:
                raise MemoryError()
            self.buckets = grown
        cdef int index = self.nbuckets
        memset(&self.buckets[index], 0, sizeof(Bucket))
        self.buckets[index].unit = unit
        self.buckets[index].pid = pid
        self.nbuckets += 1
        self.bucket_index[key] = index
        if pid & 3 == POOL:
            self.unit_pools[unit].append((pid >> 2, index))
        return index

    cdef tuple _buckets_of(self, int scope, int64_t pid):
        key = (<int64_t>scope << 32) | pid
        found = self.scope_buckets.get(key)
        if found is None:
            found = self.scope_buckets[key] = tuple(
                self._bucket(unit, pid) for unit in self.scope_units[scope])
        return <tuple>found

    cdef int _apply(self, int scope, Entry* e, int sign) except -1:
        """Add (sign 1) or retract (sign -1) one entry in every bucket of the scope."""
        cdef Bucket* b
        cdef uint32_t mask
        cdef int index
        cdef int* grown
        for found in self._buckets_of(scope, e.pid):
            index = <int>found
            b = &self.buckets[index]
            mask = e.mask
            while mask:
                b.bits[__builtin_ctz(mask)] += sign
                mask &= mask - 1
            if e.a != NONE:
                if sign > 0:
                    _insert(&b.pa, &b.na, &b.ca, e.a)
                else:
                    _remove(b.pa, &b.na, e.a)
            if e.b != NONE:
                if sign > 0:
                    _insert(&b.pb, &b.nb, &b.cb, e.b)
                else:
                    _remove(b.pb, &b.nb, e.b)
            if not b.touched:
                b.touched = True
                if self.ntouched == self.ctouched:
                    self.ctouched = self.ctouched * 2 if self.ctouched else 1024
                    grown = <int*>realloc(self.touched, self.ctouched * sizeof(int))
                    if grown == NULL:
                        raise MemoryError()
                    self.touched = grown
                self.touched[self.ntouched] = index
                self.ntouched += 1
        return 0

    cdef int _scope(self, tuple units) except -1:
        found = self.scope_index.get(units)
        if found is not None:
            return <int>found
        numbers = []
        for code in units:
            number = self.unit_index.get(code)
            if number is None:
                number = self.unit_index[code] = len(self.unit_codes)
                self.unit_codes.append(code)
                self.unit_pools.append([])
            numbers.append(number)
        scope = len(self.scope_units)
        self.scope_units.append(tuple(numbers))
        self.scope_index[units] = scope
        return scope

    # -- updates --------------------------------------------------------------------------------
    cdef int _update(self, str item_id, tuple units, object f) except -1:
        cdef int scope = self._scope(units)
        cdef Item* item
        cdef Item* grown
        cdef Entry* old
        cdef int i = 0, j = 0, n, index
        found = self.item_index.get(item_id)
        index = self._new_item(item_id) if found is None else <int>found
        self._compute(f)
        item = &self.items[index]
        old, n = item.entries, item.n
        new = self.scratch
        if item.scope != scope:
            for i in range(n):
                self._apply(item.scope, &old[i], -1)
            for j in range(self.nscratch):
                self._apply(scope, &new[j], 1)
        else:
            while i < n or j < self.nscratch:
                if j == self.nscratch or (i < n and old[i].pid < new[j].pid):
                    self._apply(scope, &old[i], -1)
                    i += 1
                elif i == n or new[j].pid < old[i].pid:
                    self._apply(scope, &new[j], 1)
                    j += 1
                else:
                    if (old[i].mask != new[j].mask or old[i].a != new[j].a
                            or old[i].b != new[j].b):
                        self._apply(scope, &old[i], -1)
                        self._apply(scope, &new[j], 1)
                    i += 1
                    j += 1
        item = &self.items[index]
        if self.nscratch > item.cap:
            free(item.entries)
            item.cap = self.nscratch
            item.entries = <Entry*>malloc(item.cap * sizeof(Entry))
            if item.entries == NULL:
                raise MemoryError()
        memmove(item.entries, self.scratch, self.nscratch * sizeof(Entry))
        item.n = self.nscratch
        item.scope = scope
        return 0

    def update(self, str item_id, tuple units, object facts):
        """Recompute one dossier's entries (``facts``: its ``DossierFacts``) counted in every
        unit of ``units`` (its scope), and apply what changed."""
        self._update(item_id, units, facts)

    def update_all(self, object item_ids, dict facts, dict scopes, object scope_of):
        """:meth:`update` for each id in ``item_ids``: facts from ``facts``, scope from
        ``scopes`` by the dossier's unit (else ``scope_of(unit)``)."""
        for item_id in item_ids:
            f = facts[item_id]
            unit = f.unit
            units = scopes.get(unit)
            if not units:
                units = scope_of(unit)
            self._update(item_id, units, f)

    # -- snapshots ------------------------------------------------------------------------------
    def __reduce__(self):
        """Pickled as its units, scopes, buckets (counts and pending deadlines as raw int64
        arrays) and each dossier's entries (raw ``Entry`` arrays): what a runner's snapshot
        keeps. Only the machine that wrote it reads it back (native byte order)."""
        return self.reduced(True)

    def reduced(self, bint with_items):
        """``__reduce__``'s value; without the dossiers' entries when ``with_items`` is
        false (a state whose dossiers are kept elsewhere: :meth:`peek`, :meth:`put`)."""
        cdef int i
        cdef Bucket* b
        cdef Item* item
        buckets = []
        for i in range(self.nbuckets):
            b = &self.buckets[i]
            buckets.append((b.unit, b.pid, (<char*>b.bits)[:NBITS * sizeof(int64_t)],
                            (<char*>b.pa)[:b.na * sizeof(int64_t)] if b.na else b"",
                            (<char*>b.pb)[:b.nb * sizeof(int64_t)] if b.nb else b""))
        items = []
        for item_id, index in (self.item_index.items() if with_items else ()):
            item = &self.items[<int>index]
            items.append((item_id, item.scope,
                          (<char*>item.entries)[:item.n * sizeof(Entry)] if item.n else b""))
        scopes = [tuple(self.unit_codes[n] for n in numbers) for numbers in self.scope_units]
        return (_restored, (self.carried, self.apology_extends, list(self.unit_codes), scopes,
                            buckets, items))

    cdef int _restore(self, list unit_codes, list scopes, list buckets,
                      list items) except -1:
        cdef int index, n
        cdef Bucket* b
        cdef Item* item
        cdef Item* grown
        cdef int64_t* data
        cdef bytes raw
        for code in unit_codes:
            self.unit_index[code] = len(self.unit_codes)
            self.unit_codes.append(code)
            self.unit_pools.append([])
        for units in scopes:
            self._scope(units)
        for unit, pid, bits, pa, pb in buckets:
            index = self._bucket(unit, pid)
            b = &self.buckets[index]
            raw = bits
            memmove(b.bits, <char*>raw, NBITS * sizeof(int64_t))
            for raw, is_a in ((pa, True), (pb, False)):
                n = len(raw) // sizeof(int64_t)
                if n:
                    data = <int64_t*>malloc(n * sizeof(int64_t))
                    if data == NULL:
                        raise MemoryError()
                    memmove(data, <char*>raw, n * sizeof(int64_t))
                    if is_a:
                        b.pa, b.na, b.ca = data, n, n
                    else:
                        b.pb, b.nb, b.cb = data, n, n
        for item_id, scope, raw in items:
            self._set_entries(self._new_item(item_id), scope, raw)
        return 0

    cdef int _set_entries(self, int index, int scope, bytes raw) except -1:
        """Give a new item its scope and its entries (raw ``Entry`` array)."""
        cdef Item* item = &self.items[index]
        cdef int n = len(raw) // sizeof(Entry)
        item.scope, item.n, item.cap = scope, n, n
        if n:
            item.entries = <Entry*>malloc(n * sizeof(Entry))
            if item.entries == NULL:
                raise MemoryError()
            memmove(item.entries, <char*>raw, n * sizeof(Entry))
        return 0

    cdef int _new_item(self, str item_id) except -1:
        """A new, empty item for ``item_id`` (no scope yet); returns its index."""
        cdef Item* grown
        cdef int index
        if self.free_items:
            index = <int>self.free_items.pop()
            memset(&self.items[index], 0, sizeof(Item))
            self.items[index].scope = -1
            self.item_index[item_id] = index
            return index
        if self.nitems == self.citems:
            self.citems = self.citems * 2 if self.citems else 1024
            grown = <Item*>realloc(self.items, self.citems * sizeof(Item))
            if grown == NULL:
                raise MemoryError()
            self.items = grown
        index = self.nitems
        memset(&self.items[index], 0, sizeof(Item))
        self.items[index].scope = -1
        self.nitems += 1
        self.item_index[item_id] = index
        return index

    # -- items out of memory and back ------------------------------------------------------------
    def take(self, str item_id):
        """Take a dossier's entries out (its contributions stay counted in the buckets):
        ``(scope units, raw entries)`` for :meth:`put` to bring back, None when it has no
        item here."""
        found = self.item_index.pop(item_id, None)
        if found is None:
            return None
        cdef int index = <int>found
        cdef Item* item = &self.items[index]
        units = (tuple(self.unit_codes[n] for n in self.scope_units[item.scope])
                 if item.scope >= 0 else None)
        raw = (<char*>item.entries)[:item.n * sizeof(Entry)] if item.n else b""
        free(item.entries)
        memset(item, 0, sizeof(Item))
        item.scope = -1
        self.free_items.append(index)
        return (units, raw)

    def peek(self, str item_id):
        """What :meth:`take` would give, the entries staying here."""
        found = self.item_index.get(item_id)
        if found is None:
            return None
        cdef Item* item = &self.items[<int>found]
        units = (tuple(self.unit_codes[n] for n in self.scope_units[item.scope])
                 if item.scope >= 0 else None)
        return (units, (<char*>item.entries)[:item.n * sizeof(Entry)] if item.n else b"")

    def put(self, str item_id, tuple state):
        """Bring back what :meth:`take` gave (the buckets already count it); an item
        already here stays."""
        if item_id in self.item_index:
            return
        units, raw = state
        cdef int index = self._new_item(item_id)
        self._set_entries(index, self._scope(units) if units is not None else -1, raw)

    def settle(self, set touched, set pooled):
        """Add the (unit, period key) buckets changed since the last call to ``touched`` and
        the (unit, month) pools changed to ``pooled``."""
        cdef int i
        cdef Bucket* b
        keys = {}
        for i in range(self.ntouched):
            b = &self.buckets[self.touched[i]]
            b.touched = False
            code = self.unit_codes[b.unit]
            if b.pid & 3 == POOL:
                pooled.add((code, b.pid >> 2))
            else:
                key = keys.get(b.pid)
                if key is None:
                    key = keys[b.pid] = period_key(b.pid)
                touched.add((code, key))
        self.ntouched = 0

    def totals(self, str unit, object period, int64_t t):
        """The counters of ``unit`` in ``period`` at t, open dossiers carried over included
        (as ``counters.Tracker.totals``)."""
        cdef int64_t counts[NBITS]
        cdef int64_t a = 0, b_ = 0, first_month = period.first_month, turn = FAR_FUTURE
        cdef Bucket* b
        cdef int k
        memset(counts, 0, sizeof(counts))
        number = self.unit_index.get(unit)
        if number is not None:
            found = self.bucket_index.get((<int64_t>number << 32) | period_id(period))
            parts = [found] if found is not None else []
            for month, index in self.unit_pools[<int>number]:
                if month < first_month:
                    parts.append(index)
            for index in parts:
                b = &self.buckets[<int>index]
                for k in range(NBITS):
                    counts[k] += b.bits[k]
                a += _on_time(b.pa, b.na, t)
                b_ += _on_time(b.pb, b.nb, t)
                turn = _turn(b.pa, b.na, t, turn)
                turn = _turn(b.pb, b.nb, t, turn)
        return Totals([counts[k] for k in range(NBITS)], a, b_, turn)

    def dossiers(self):
        """How many dossiers have entries."""
        cdef int i, n = 0
        for i in range(self.nitems):
            n += self.items[i].n > 0
        return n


def _restored(carried, apology_extends, unit_codes, scopes, buckets, items):
    """A :class:`DossierCounters` from what its ``__reduce__`` gave."""
    cdef DossierCounters counters = DossierCounters(carried, apology_extends)
    counters._restore(unit_codes, scopes, buckets, items)
    return counters
