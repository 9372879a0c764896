"""Incremental counters per (unit, period), with retraction: the live side of the scores."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TypeVar

from projections.contributions import Contribution, Contributions
from projections.periods import Instant, Period, parse_period, periods_of_month

Key = tuple[str, str]
"""(unit code, period key) of a counter bucket."""


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
        """Add a net change (see :func:`_net`); returns whether the bucket still holds items.

        Pending deadlines before ``floor`` are dropped (and never added): every read of the
        bucket is at a t ≥ floor, where they cannot be on time. ``floor`` never decreases."""
        items, bits, changes_a, changes_b = net
        self.items += items
        per_bit = self.per_bit
        for index, n in bits:
            per_bit[index] += n
        if floor > self.floor:
            self.floor = floor
            for pending in (self.pending_a, self.pending_b):
                cut = bisect_left(pending, floor)
                if cut:
                    del pending[:cut]
        floor = self.floor
        for changes, pending in ((changes_a, self.pending_a), (changes_b, self.pending_b)):
            for deadline, n in changes:
                if deadline < floor:
                    continue
                i = bisect_left(pending, deadline)
                if n > 0:
                    pending[i:i] = [deadline] * n
                else:
                    del pending[i:i - n]
        return self.items > 0

    def __bool__(self) -> bool:
        return self.items > 0

    def accumulate(self, totals: list[int], t: Instant) -> tuple[int, int]:
        """Add per-bit counts to ``totals``; returns the pending items still on time at t."""
        for index, count in enumerate(self.per_bit):
            totals[index] += count
        # on time while t ≤ deadline
        return (len(self.pending_a) - bisect_left(self.pending_a, t),
                len(self.pending_b) - bisect_left(self.pending_b, t))


@dataclass(slots=True)
class _ItemState:
    units: tuple[str, ...]
    contributions: dict[str, Contribution]
    pool: tuple[int, Contribution] | None


@dataclass(slots=True)
class Totals:
    """Counter sums for one (unit, period) at t: per bit, plus pending verdicts on time at t."""

    bits: list[int]
    pending_a_on_time: int = 0
    pending_b_on_time: int = 0

    def __getitem__(self, bit: int) -> int:
        return self.bits[bit.bit_length() - 1]


@dataclass(slots=True)
class Tracker:
    """Counters of one kind of item (dossiers or petitions) for every scope unit and period.

    An item's contributions are replaced as a whole when its facts change (old retracted, new
    added), so the work per event is bounded by the item's own periods, not by the ledger.
    :meth:`replace` only records net changes per (scope, period key) or (scope, pool month);
    :meth:`settle` applies them to every unit of the scope, once per distinct change.
    """

    bits: int
    buckets: dict[Key, Bucket] = field(default_factory=dict)
    pools: dict[str, dict[int, Bucket]] = field(default_factory=dict)
    items: dict[str, _ItemState] = field(default_factory=dict)
    _delta: dict[tuple[str, ...], dict[str, dict[Contribution, int]]] = field(
        default_factory=dict)
    _pool_delta: dict[tuple[str, ...], dict[int, dict[Contribution, int]]] = field(
        default_factory=dict)

    def replace(self, item: str, units: tuple[str, ...], new: Contributions) -> None:
        """Retract the item's previous contributions and add ``new`` (pending :meth:`settle`)."""
        contributions, pool = new
        old = self.items.get(item)
        if old is not None and old.units == units:
            before_all = old.contributions
            if before_all != contributions:
                by_key = self._delta.get(units)
                if by_key is None:
                    by_key = self._delta[units] = {}
                for key, before in before_all.items():
                    if contributions.get(key) != before:
                        _count(by_key, key, before, -1)
                for key, after in contributions.items():
                    if before_all.get(key) != after:
                        _count(by_key, key, after, 1)
            if old.pool != pool:
                self._pool(units, old.pool, -1)
                self._pool(units, pool, 1)
        else:
            if old is not None:
                by_key = self._delta.setdefault(old.units, {})
                for key, before in old.contributions.items():
                    _count(by_key, key, before, -1)
                self._pool(old.units, old.pool, -1)
            if contributions:
                by_key = self._delta.setdefault(units, {})
                for key, after in contributions.items():
                    _count(by_key, key, after, 1)
            self._pool(units, pool, 1)
        if contributions or pool is not None:
            if old is not None:
                old.units, old.contributions, old.pool = units, contributions, pool
            else:
                self.items[item] = _ItemState(units, contributions, pool)
        elif old is not None:
            del self.items[item]

    def _pool(self, units: tuple[str, ...], pool: tuple[int, Contribution] | None,
              sign: int) -> None:
        if pool is not None:
            _count(self._pool_delta.setdefault(units, {}), pool[0], pool[1], sign)

    def settle(self, touched: set[Key], pooled: set[tuple[str, int]],
               watermark: Instant) -> None:
        """Apply the recorded changes; adds the (unit, period key) buckets changed to
        ``touched`` and the (unit, month) pools changed to ``pooled``.

        ``watermark`` (the latest `at` folded, never decreasing) bounds the reads that use the
        counters: a period's counters are read at t = min(as_of, its last instant) with as_of
        ≥ the watermark or ≥ its last instant, so t ≥ min(watermark, last); a pool of month m
        is read for periods starting after m, so t ≥ min(watermark, start of month m + 1)."""
        buckets = self.buckets
        for units, by_key in self._delta.items():
            for key, changes in by_key.items():
                for unit in units:
                    touched.add((unit, key))
                net = _net(changes)
                if net is None:
                    continue
                floor = min(watermark, parse_period(key).last)
                for unit in units:
                    bucket = buckets.get((unit, key))
                    if bucket is None:
                        bucket = buckets[(unit, key)] = Bucket(self.bits)
                    if not bucket.apply(net, floor):
                        del buckets[(unit, key)]
        self._delta.clear()
        for units, by_month in self._pool_delta.items():
            for month, changes in by_month.items():
                for unit in units:
                    pooled.add((unit, month))
                net = _net(changes)
                if net is None:
                    continue
                floor = min(watermark, periods_of_month(month + 1)[0].start)
                for unit in units:
                    months = self.pools.setdefault(unit, {})
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
                a, b = bucket.accumulate(totals.bits, t)
                totals.pending_a_on_time += a
                totals.pending_b_on_time += b
        return totals


_K = TypeVar("_K", str, int)


def _count(by_key: dict[_K, dict[Contribution, int]], key: _K, c: Contribution,
           sign: int) -> None:
    changes = by_key.get(key)
    if changes is None:
        by_key[key] = {c: sign}
    else:
        changes[c] = changes.get(c, 0) + sign


Net = tuple[int, list[tuple[int, int]], list[tuple[Instant, int]], list[tuple[Instant, int]]]
"""(items, per-bit changes, pending-a changes, pending-b changes), zero changes left out."""


def _net(changes: dict[Contribution, int]) -> Net | None:
    """The net effect of counted contributions on a bucket (None: no effect)."""
    items = 0
    masks: dict[int, int] = {}
    pa: dict[Instant, int] = {}
    pb: dict[Instant, int] = {}
    for (mask, a, b), n in changes.items():
        if not n:
            continue
        items += n
        masks[mask] = masks.get(mask, 0) + n
        if a is not None:
            pa[a] = pa.get(a, 0) + n
        if b is not None:
            pb[b] = pb.get(b, 0) + n
    per_bit: dict[int, int] = {}
    for mask, n in masks.items():
        if n:
            for index in _BIT_INDICES.get(mask) or bit_indices(mask):
                per_bit[index] = per_bit.get(index, 0) + n
    bits = [(i, n) for i, n in per_bit.items() if n]
    a_changes = [(d, n) for d, n in pa.items() if n]
    b_changes = [(d, n) for d, n in pb.items() if n]
    if not (items or bits or a_changes or b_changes):
        return None
    return items, bits, a_changes, b_changes
