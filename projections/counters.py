"""Incremental counters per (unit, period), with retraction: the live side of the scores."""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field

from projections.contributions import Contribution, Contributions
from projections.periods import Instant, Period

Key = tuple[str, str]
"""(unit code, period key) of a counter bucket."""


class Bucket:
    """How many items add each bit mask, and the deadlines of verdicts still pending."""

    __slots__ = ("masks", "pending_a", "pending_b")

    def __init__(self) -> None:
        self.masks: dict[int, int] = {}
        self.pending_a: list[Instant] = []
        self.pending_b: list[Instant] = []

    def add(self, contribution: Contribution) -> None:
        mask, a, b = contribution
        self.masks[mask] = self.masks.get(mask, 0) + 1
        if a is not None:
            insort(self.pending_a, a)
        if b is not None:
            insort(self.pending_b, b)

    def remove(self, contribution: Contribution) -> None:
        mask, a, b = contribution
        left = self.masks[mask] - 1
        if left:
            self.masks[mask] = left
        else:
            del self.masks[mask]
        if a is not None:
            del self.pending_a[bisect_left(self.pending_a, a)]
        if b is not None:
            del self.pending_b[bisect_left(self.pending_b, b)]

    def __bool__(self) -> bool:
        return bool(self.masks)

    def accumulate(self, totals: list[int], t: Instant) -> tuple[int, int]:
        """Add per-bit counts to ``totals``; returns the pending items still on time at t."""
        for mask, count in self.masks.items():
            while mask:
                low = mask & -mask
                totals[low.bit_length() - 1] += count
                mask ^= low
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

    def replace(self, item: str, units: tuple[str, ...], new: Contributions) -> set[Key]:
        """Retract the item's previous contributions and add ``new``; returns touched keys."""
        contributions, pool = new
        old = self.items.get(item)
        touched: set[Key] = set()
        if old is not None and old.units == units:
            for key, before in old.contributions.items():
                if contributions.get(key) != before:
                    self._remove(units, key, before, touched)
            for key, after in contributions.items():
                if old.contributions.get(key) != after:
                    self._add(units, key, after, touched)
            if old.pool != pool:
                self._pool(units, old.pool, remove=True, touched=touched)
                self._pool(units, pool, remove=False, touched=touched)
        else:
            if old is not None:
                for key, before in old.contributions.items():
                    self._remove(old.units, key, before, touched)
                self._pool(old.units, old.pool, remove=True, touched=touched)
            for key, after in contributions.items():
                self._add(units, key, after, touched)
            self._pool(units, pool, remove=False, touched=touched)
        if contributions or pool is not None:
            self.items[item] = _ItemState(units, contributions, pool)
        else:
            self.items.pop(item, None)
        return touched

    def _add(self, units: tuple[str, ...], key: str, c: Contribution, touched: set[Key]) -> None:
        buckets = self.buckets
        for unit in units:
            bucket = buckets.get((unit, key))
            if bucket is None:
                bucket = buckets[(unit, key)] = Bucket()
            bucket.add(c)
            touched.add((unit, key))

    def _remove(self, units: tuple[str, ...], key: str, c: Contribution,
                touched: set[Key]) -> None:
        for unit in units:
            bucket = self.buckets[(unit, key)]
            bucket.remove(c)
            if not bucket:
                del self.buckets[(unit, key)]
            touched.add((unit, key))

    def _pool(self, units: tuple[str, ...], pool: tuple[int, Contribution] | None,
              remove: bool, touched: set[Key]) -> None:
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
                months.setdefault(month, Bucket()).add(c)
            touched.add((unit, f"pool:{month}"))

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
