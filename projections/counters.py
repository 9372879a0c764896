"""Incremental counters per (unit, period), with retraction: the live side of the scores."""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field

from projections.contributions import Contribution, Contributions
from projections.periods import Instant, Period

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

    __slots__ = ("items", "pending_a", "pending_b", "per_bit")

    def __init__(self, bits: int) -> None:
        self.items = 0
        self.per_bit: list[int] = [0] * bits
        self.pending_a: list[Instant] = []
        self.pending_b: list[Instant] = []

    def add(self, contribution: Contribution) -> None:
        mask, a, b = contribution
        self.items += 1
        per_bit = self.per_bit
        for index in _BIT_INDICES.get(mask) or bit_indices(mask):
            per_bit[index] += 1
        if a is not None:
            insort(self.pending_a, a)
        if b is not None:
            insort(self.pending_b, b)

    def remove(self, contribution: Contribution) -> None:
        mask, a, b = contribution
        self.items -= 1
        per_bit = self.per_bit
        for index in _BIT_INDICES.get(mask) or bit_indices(mask):
            per_bit[index] -= 1
        if a is not None:
            del self.pending_a[bisect_left(self.pending_a, a)]
        if b is not None:
            del self.pending_b[bisect_left(self.pending_b, b)]

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
    """

    bits: int
    buckets: dict[Key, Bucket] = field(default_factory=dict)
    pools: dict[str, dict[int, Bucket]] = field(default_factory=dict)
    items: dict[str, _ItemState] = field(default_factory=dict)

    def replace(self, item: str, units: tuple[str, ...], new: Contributions,
                touched: set[Key], pooled: set[tuple[str, int]]) -> None:
        """Retract the item's previous contributions and add ``new``; adds the changed buckets
        to ``touched`` and the changed (unit, month) pools to ``pooled``."""
        contributions, pool = new
        old = self.items.get(item)
        if old is not None and old.units == units:
            before_all = old.contributions
            if before_all != contributions:
                for key, before in before_all.items():
                    if contributions.get(key) != before:
                        self._remove(units, key, before, touched)
                for key, after in contributions.items():
                    if before_all.get(key) != after:
                        self._add(units, key, after, touched)
            if old.pool != pool:
                self._pool(units, old.pool, remove=True, pooled=pooled)
                self._pool(units, pool, remove=False, pooled=pooled)
        else:
            if old is not None:
                for key, before in old.contributions.items():
                    self._remove(old.units, key, before, touched)
                self._pool(old.units, old.pool, remove=True, pooled=pooled)
            for key, after in contributions.items():
                self._add(units, key, after, touched)
            self._pool(units, pool, remove=False, pooled=pooled)
        if contributions or pool is not None:
            if old is not None:
                old.units, old.contributions, old.pool = units, contributions, pool
            else:
                self.items[item] = _ItemState(units, contributions, pool)
        elif old is not None:
            del self.items[item]

    def _add(self, units: tuple[str, ...], key: str, c: Contribution, touched: set[Key]) -> None:
        buckets = self.buckets
        for unit in units:
            bucket = buckets.get((unit, key))
            if bucket is None:
                bucket = buckets[(unit, key)] = Bucket(self.bits)
            bucket.add(c)
            touched.add((unit, key))

    def _remove(self, units: tuple[str, ...], key: str, c: Contribution,
                touched: set[Key]) -> None:
        buckets = self.buckets
        for unit in units:
            bucket = buckets[(unit, key)]
            bucket.remove(c)
            if not bucket:
                del buckets[(unit, key)]
            touched.add((unit, key))

    def _pool(self, units: tuple[str, ...], pool: tuple[int, Contribution] | None,
              remove: bool, pooled: set[tuple[str, int]]) -> None:
        if pool is None:
            return
        month, c = pool
        for unit in units:
            months = self.pools.setdefault(unit, {})
            if remove:
                months[month].remove(c)
                if not months[month]:
                    del months[month]
            else:
                bucket = months.get(month)
                if bucket is None:
                    bucket = months[month] = Bucket(self.bits)
                bucket.add(c)
            pooled.add((unit, month))

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
