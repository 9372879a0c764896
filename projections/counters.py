"""Incremental counters per (unit, period), with retraction: the live side of the scores."""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field

from projections.contributions import FAR_FUTURE, Contribution, Contributions, Group
from projections.periods import Instant, Period, parse_period, periods_of_month

Key = tuple[str, str]
"""(unit code, period key) of a counter bucket."""

Touched = tuple[tuple[str, ...], tuple[str, ...]]
"""(scope units, period keys): every pairing of the two is a bucket whose counters changed."""

_BIT_INDICES: dict[int, tuple[int, ...]] = {}


def bit_indices(mask: int) -> tuple[int, ...]:
    """The indices of the bits set in ``mask`` (memoised: masks repeat)."""
    found = _BIT_INDICES.get(mask)
    if found is None:
        found = _BIT_INDICES[mask] = tuple(i for i in range(mask.bit_length()) if mask >> i & 1)
    return found


class Bucket:
    """How many items add each counter bit, and the deadlines of verdicts still pending."""

    __slots__ = ("floor", "items", "pending_a", "pending_b", "per_bit")

    def __init__(self, bits: int) -> None:
        self.items = 0
        self.floor: Instant = 0  # pending deadlines before it are not kept
        self.per_bit: list[int] = [0] * bits
        self.pending_a: list[Instant] = []
        self.pending_b: list[Instant] = []

    def apply(self, net: Net, floor: Instant) -> bool:
        """Add a net change (see :meth:`_Change.net`); returns whether the bucket still holds items.

        Pending deadlines before ``floor`` are dropped (and never added): every read of the
        bucket is at a t ≥ floor, where they cannot be on time. ``floor`` never decreases, so a
        deadline retracted at or after the floor was added and is still kept."""
        items, bits, changes_a, changes_b = net
        self.items += items
        per_bit = self.per_bit
        for index, n in bits:
            per_bit[index] += n
        if floor > self.floor:
            self.floor = floor
            for pending in (self.pending_a, self.pending_b):
                if pending and pending[0] < floor:
                    del pending[:bisect_left(pending, floor)]
        floor = self.floor
        if changes_a:
            _move(self.pending_a, changes_a, floor)
        if changes_b:
            _move(self.pending_b, changes_b, floor)
        return self.items > 0

    def __bool__(self) -> bool:
        return self.items > 0

    def accumulate(self, totals: Totals, t: Instant) -> None:
        """Add per-bit counts and the pending items still on time at t to ``totals``; lower
        its turn to the earliest pending deadline ≥ t."""
        bits = totals.bits
        for index, count in enumerate(self.per_bit):
            bits[index] += count
        # on time while t ≤ deadline
        for pending, on_time in ((self.pending_a, True), (self.pending_b, False)):
            first = bisect_left(pending, t)
            if first < len(pending):
                if on_time:
                    totals.pending_a_on_time += len(pending) - first
                else:
                    totals.pending_b_on_time += len(pending) - first
                if pending[first] < totals.turn:
                    totals.turn = pending[first]


def _move(pending: list[Instant], changes: list[tuple[Instant, int]], floor: Instant) -> None:
    for deadline, n in changes:
        if deadline < floor:
            continue
        if n == 1:
            insort(pending, deadline)
        else:
            i = bisect_left(pending, deadline)
            if n > 0:
                pending[i:i] = [deadline] * n
            else:
                del pending[i:i - n]


@dataclass(slots=True)
class _ItemState:
    units: tuple[str, ...]
    groups: tuple[Group, ...]
    pool: tuple[int, Contribution] | None


@dataclass(slots=True)
class Totals:
    """Counter sums for one (unit, period) at t: per bit, plus pending verdicts on time at t;
    ``turn`` is the earliest pending deadline ≥ t: the sums hold for every t' with
    t ≤ t' ≤ turn until an item changes."""

    bits: list[int]
    pending_a_on_time: int = 0
    pending_b_on_time: int = 0
    turn: Instant = FAR_FUTURE

    def __getitem__(self, bit: int) -> int:
        return self.bits[bit.bit_length() - 1]


_LAST: dict[str, Instant] = {}  # period key -> its last instant


def _last(key: str) -> Instant:
    found = _LAST.get(key)
    if found is None:
        found = _LAST[key] = parse_period(key).last
    return found


@dataclass(slots=True)
class Tracker:
    """Counters of one kind of item (dossiers or petitions) for every scope unit and period.

    An item's contributions are replaced as a whole when its facts change (old retracted, new
    added), so the work per event is bounded by the item's own periods, not by the ledger.
    :meth:`replace` only counts the changes per (scope, period keys sharing a contribution) or
    (scope, pool month); :meth:`settle` applies their net effect to every bucket concerned, once
    per distinct change. Buckets are read at t ≥ their
    floor: a period's counters at t = min(as_of, its last instant) with as_of ≥ the watermark or
    ≥ its last instant, so t ≥ min(watermark, last); a pool of month m for periods starting
    after m, so t ≥ min(watermark, start of month m + 1).
    """

    bits: int
    buckets: dict[Key, Bucket] = field(default_factory=dict)
    pools: dict[str, dict[int, Bucket]] = field(default_factory=dict)
    items: dict[str, _ItemState] = field(default_factory=dict)
    _delta: dict[Touched, _Change] = field(default_factory=dict)
    _pool_delta: dict[tuple[tuple[str, ...], int], _Change] = field(default_factory=dict)

    def replace(self, item: str, units: tuple[str, ...], new: Contributions) -> None:
        """Retract the item's previous contributions and add ``new`` (pending :meth:`settle`)."""
        groups, pool = new
        old = self.items.get(item)
        if old is not None and old.units == units:
            before = old.groups
            if before != groups:
                if len(before) == len(groups) and all(
                        b[0] == g[0] for b, g in zip(before, groups, strict=True)):
                    delta = self._delta
                    for (keys, was), (_, now) in zip(before, groups, strict=True):
                        if was != now:
                            change = delta.get((units, keys))
                            if change is None:
                                change = delta[(units, keys)] = _Change()
                            change.swap(was, now)
                else:
                    was_by_key = {key: c for keys, c in before for key in keys}
                    now_by_key = {key: c for keys, c in groups for key in keys}
                    for key in was_by_key.keys() | now_by_key.keys():
                        gone, came = was_by_key.get(key), now_by_key.get(key)
                        if gone != came:
                            if gone is not None:
                                self._count((units, (key,)), gone, -1)
                            if came is not None:
                                self._count((units, (key,)), came, 1)
            if old.pool != pool:
                self._pool(units, old.pool, -1)
                self._pool(units, pool, 1)
        else:
            if old is not None:
                for keys, was in old.groups:
                    self._count((old.units, keys), was, -1)
                self._pool(old.units, old.pool, -1)
            for keys, now in groups:
                self._count((units, keys), now, 1)
            self._pool(units, pool, 1)
        if groups or pool is not None:
            if old is not None:
                old.units, old.groups, old.pool = units, groups, pool
            else:
                self.items[item] = _ItemState(units, groups, pool)
        elif old is not None:
            del self.items[item]

    def _count(self, where: Touched, c: Contribution, sign: int) -> None:
        change = self._delta.get(where)
        if change is None:
            change = self._delta[where] = _Change()
        change.add(c, sign)

    def _pool(self, units: tuple[str, ...], pool: tuple[int, Contribution] | None,
              sign: int) -> None:
        if pool is not None:
            where = (units, pool[0])
            change = self._pool_delta.get(where)
            if change is None:
                change = self._pool_delta[where] = _Change()
            change.add(pool[1], sign)

    def settle(self, touched: set[Key], pooled: set[tuple[str, int]],
               watermark: Instant) -> None:
        """Apply the recorded changes; adds the (unit, period key) buckets changed to
        ``touched`` and the (unit, month) pools changed to ``pooled``. ``watermark`` is the
        latest `at` folded (never decreasing)."""
        buckets = self.buckets
        for (units, keys), change in self._delta.items():
            touched.update((unit, key) for unit in units for key in keys)
            net = change.net()
            if net is None:
                continue
            for key in keys:
                last = _LAST.get(key) or _last(key)
                floor = watermark if watermark < last else last
                for unit in units:
                    bucket = buckets.get((unit, key))
                    if bucket is None:
                        bucket = buckets[(unit, key)] = Bucket(self.bits)
                    if not bucket.apply(net, floor):
                        del buckets[(unit, key)]
        self._delta.clear()
        for (units, month), change in self._pool_delta.items():
            pooled.update((unit, month) for unit in units)
            net = change.net()
            if net is None:
                continue
            floor = min(watermark, periods_of_month(month + 1)[0].start)
            for unit in units:
                months = self.pools.get(unit)
                if months is None:
                    months = self.pools[unit] = {}
                bucket = months.get(month)
                if bucket is None:
                    bucket = months[month] = Bucket(self.bits)
                if not bucket.apply(net, floor):
                    del months[month]
        self._pool_delta.clear()

    def totals(self, unit: str, period: Period, t: Instant) -> Totals:
        """The counters of ``unit`` in ``period`` at t, open items carried over included."""
        totals = Totals([0] * self.bits)
        parts = [self.buckets.get((unit, period.key))]
        parts.extend(bucket for month, bucket in self.pools.get(unit, {}).items()
                     if month < period.first_month)
        for bucket in parts:
            if bucket is not None:
                bucket.accumulate(totals, t)
        return totals


Net = tuple[int, list[tuple[int, int]], list[tuple[Instant, int]], list[tuple[Instant, int]]]
"""(items, per-bit changes, pending-a changes, pending-b changes), zero changes left out."""


class _Change:
    """Contributions added (+1) and retracted (-1) for one group of buckets, summed."""

    __slots__ = ("a", "b", "items", "masks")

    def __init__(self) -> None:
        self.items = 0
        self.masks: dict[int, int] = {}
        self.a: dict[Instant, int] = {}
        self.b: dict[Instant, int] = {}

    def add(self, c: Contribution, sign: int) -> None:
        mask, a, b = c
        self.items += sign
        masks = self.masks
        masks[mask] = masks.get(mask, 0) + sign
        if a is not None:
            self.a[a] = self.a.get(a, 0) + sign
        if b is not None:
            self.b[b] = self.b.get(b, 0) + sign

    def swap(self, was: Contribution, now: Contribution) -> None:
        """``add(was, -1)`` then ``add(now, 1)``, leaving out what cancels."""
        was_mask, was_a, was_b = was
        now_mask, now_a, now_b = now
        if was_mask != now_mask:
            masks = self.masks
            masks[was_mask] = masks.get(was_mask, 0) - 1
            masks[now_mask] = masks.get(now_mask, 0) + 1
        if was_a != now_a:
            if was_a is not None:
                self.a[was_a] = self.a.get(was_a, 0) - 1
            if now_a is not None:
                self.a[now_a] = self.a.get(now_a, 0) + 1
        if was_b != now_b:
            if was_b is not None:
                self.b[was_b] = self.b.get(was_b, 0) - 1
            if now_b is not None:
                self.b[now_b] = self.b.get(now_b, 0) + 1

    def net(self) -> Net | None:
        """The net effect on a bucket (None: none)."""
        per_bit: dict[int, int] = {}
        for mask, n in self.masks.items():
            if n:
                for index in _BIT_INDICES.get(mask) or bit_indices(mask):
                    per_bit[index] = per_bit.get(index, 0) + n
        bits = [(i, n) for i, n in per_bit.items() if n]
        a_changes = [(d, n) for d, n in self.a.items() if n]
        b_changes = [(d, n) for d, n in self.b.items() if n]
        if not (self.items or bits or a_changes or b_changes):
            return None
        return self.items, bits, a_changes, b_changes
