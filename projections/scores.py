"""Rulebook arithmetic: indicator points from counts, groups, totals, display rounding, bands."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson

from domain.units import Unit
from projections.periods import Instant, Period, to_datetime
from projections.rulebook import Group, Indicator, Measure, Rulebook

Counts = Mapping[str, tuple[int, int]]
"""(numerator, denominator) per measure."""

_NINE = Decimal("1e-9")
_CENT = Decimal("0.01")


@functools.lru_cache(maxsize=1 << 16)
def display_round(value: float) -> Decimal:
    """2 decimals, half up, after a first rounding to 9 decimals (12.125 shows 12.13); kept
    for the totals seen last (every ranking rounds all its peers' totals, which repeat)."""
    return Decimal(value).quantize(_NINE, ROUND_HALF_UP).quantize(_CENT, ROUND_HALF_UP)


def band_total(value: float) -> float:
    """The total the band is read from: unrounded (2 decimals are only for display and
    ranking), but rounded to 9 decimals so that float noise never decides (a sum that is 50
    exactly is not 49.99999999999997)."""
    return float(Decimal(value).quantize(_NINE, ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class IndicatorScore:
    code: str
    name: str
    numerator: int | None
    denominator: int | None
    ratio: float | None
    points: float | None
    max: float
    applicable: bool

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled as its fields (snapshots hold thousands: a slotted dataclass's own
        # __getstate__ calls fields() for each, twice as slow)
        return (IndicatorScore, (self.code, self.name, self.numerator, self.denominator,
                                 self.ratio, self.points, self.max, self.applicable))

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "numerator": self.numerator,
                "denominator": self.denominator, "ratio": self.ratio, "points": self.points,
                "max": self.max, "applicable": self.applicable}


@dataclass(frozen=True, slots=True)
class GroupScore:
    code: str
    name: str
    max: float  # the points of the indicators that apply to the unit's kind
    points: float
    indicators: tuple[IndicatorScore, ...]

    def __reduce__(self) -> tuple[Any, ...]:  # as IndicatorScore's
        return (GroupScore, (self.code, self.name, self.max, self.points, self.indicators))

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "max": self.max, "points": self.points,
                "indicators": [i.to_json() for i in self.indicators]}


@dataclass(frozen=True, slots=True)
class UnitScore:
    """One unit's score for a period, as of a moment, under a rulebook."""

    unit: str
    unit_name: str
    kind: str
    period: str
    as_of: datetime
    evaluated_at: datetime  # t = min(as_of, end of period)
    rulebook_id: str
    rulebook_version: int
    total: float
    band: str
    groups: tuple[GroupScore, ...]
    rank: int | None = None
    position: int = 0  # the ledger position the counters had folded

    def __reduce__(self) -> tuple[Any, ...]:  # as IndicatorScore's
        return (UnitScore, (self.unit, self.unit_name, self.kind, self.period, self.as_of,
                            self.evaluated_at, self.rulebook_id, self.rulebook_version,
                            self.total, self.band, self.groups, self.rank, self.position))

    @property
    def rounded_total(self) -> Decimal:
        return display_round(self.total)

    def indicator(self, code: str) -> IndicatorScore:
        for group in self.groups:
            for indicator in group.indicators:
                if indicator.code == code:
                    return indicator
        raise KeyError(code)

    def json_bytes(self) -> bytes:
        """``orjson.dumps(self.to_json())``, its groups encoded once per distinct groups."""
        return orjson.dumps({
            "unit": self.unit, "unit_name": self.unit_name, "kind": self.kind,
            "period": self.period, "as_of": self.as_of.isoformat(),
            "rulebook": {"id": self.rulebook_id, "version": self.rulebook_version},
            "total": self.total, "band": self.band, "rank": self.rank,
            "groups": groups_fragment(self.groups)})

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit, "unit_name": self.unit_name, "kind": self.kind,
            "period": self.period, "as_of": self.as_of.isoformat(),
            "rulebook": {"id": self.rulebook_id, "version": self.rulebook_version},
            "total": self.total, "band": self.band, "rank": self.rank,
            "groups": [g.to_json() for g in self.groups],
        }


ENCODED_KEPT = 1_000
"""Distinct groups whose JSON is kept encoded (per process; each holds some kilobytes, and a
score that changed has new groups: the hits are groups many units share, such as those of
units with nothing counted yet)."""
_ENCODED: dict[int, tuple[tuple[GroupScore, ...], orjson.Fragment]] = {}
"""Groups (by identity: the memo below hands out the same tuple for the same counts) and
their JSON; the tuple is kept with it, so its id is not reused while the entry lives."""


def groups_fragment(groups: tuple[GroupScore, ...]) -> orjson.Fragment:
    """The JSON of a score's groups (``[g.to_json() for g in groups]``), encoded once."""
    found = _ENCODED.get(id(groups))
    if found is None or found[0] is not groups:
        if len(_ENCODED) >= ENCODED_KEPT:
            _ENCODED.clear()
        found = _ENCODED[id(groups)] = (
            groups, orjson.Fragment(orjson.dumps([g.to_json() for g in groups])))
    return found[1]


def indicator_score(indicator: Indicator, counts: Counts, kind: str) -> IndicatorScore:
    """Points of one indicator (``split`` empties are settled by :func:`group_score`)."""
    if not indicator.applies(kind):
        return IndicatorScore(indicator.code, indicator.name, None, None, None, None,
                              indicator.max, False)
    numerator, denominator = counts.get(indicator.measure, (0, 0))
    if denominator == 0:
        points = indicator.max if indicator.on_empty == "full" else 0.0
        return IndicatorScore(indicator.code, indicator.name, numerator, denominator, None,
                              points, indicator.max, True)
    ratio = numerator / denominator
    if indicator.measure == Measure.DOSSIERS_ONLINE:
        # 3.3: the online share is weighted by 1.4's ratio (dossiers synchronised).
        synced, received = counts.get(Measure.DOSSIERS_SYNCED, (0, 0))
        ratio *= synced / received if received else 0.0
    if indicator.method == "threshold" and indicator.threshold is not None:
        points = min(indicator.max, indicator.max * ratio / indicator.threshold)
    else:
        points = indicator.max * ratio
    return IndicatorScore(indicator.code, indicator.name, numerator, denominator, ratio, points,
                          indicator.max, True)


def group_score(group: Group, counts: Counts, kind: str) -> GroupScore:
    scores = [indicator_score(i, counts, kind) for i in group.indicators]
    split = [i for i, s in zip(group.indicators, scores, strict=True)
             if s.applicable and s.denominator == 0 and i.on_empty == "split"]
    if split:
        # An empty "split" indicator takes the share the group's other indicators earned.
        others = [s for s in scores if s.applicable and s.code not in {i.code for i in split}]
        earned = sum(s.points or 0.0 for s in others)
        possible = sum(s.max for s in others)
        share = earned / possible if possible else 0.0
        scores = [s if s.code not in {i.code for i in split} else
                  IndicatorScore(s.code, s.name, s.numerator, s.denominator, None,
                                 s.max * share, s.max, True) for s in scores]
    points = sum(s.points for s in scores if s.points is not None)
    applicable_max = sum(s.max for s in scores if s.applicable)
    return GroupScore(group.code, group.name, applicable_max, points, tuple(scores))


def rulebook_groups(rulebook: Rulebook, counts: Counts, kind: str) -> tuple[GroupScore, ...]:
    return tuple(group_score(group, counts, kind) for group in rulebook.groups)


def make_unit_score(
    unit: Unit, period: Period, as_of: datetime, t: Instant, rulebook: Rulebook, counts: Counts,
    position: int = 0,
) -> UnitScore:
    """The score of ``unit`` from the counts of its scope."""
    groups = rulebook_groups(rulebook, counts, str(unit.kind))
    total = sum(g.points for g in groups)
    return UnitScore(
        unit=unit.code, unit_name=unit.name, kind=str(unit.kind), period=period.key,
        as_of=as_of, evaluated_at=to_datetime(t), rulebook_id=rulebook.id,
        rulebook_version=rulebook.version, total=total,
        band=rulebook.band(band_total(total)), groups=groups, position=position,
    )


def with_rank(score: UnitScore, rank: int | None) -> UnitScore:
    """``dataclasses.replace(score, rank=rank)``, without its per-call introspection."""
    return UnitScore(score.unit, score.unit_name, score.kind, score.period, score.as_of,
                     score.evaluated_at, score.rulebook_id, score.rulebook_version, score.total,
                     score.band, score.groups, rank, score.position)


def standard_competition_ranks(totals: Mapping[str, float]) -> dict[str, int]:
    """1 + the number of units with a higher total rounded for display (1, 2, 2, 4)."""
    rounded = {unit: display_round(total) for unit, total in totals.items()}
    ordered = sorted(rounded.values(), reverse=True)
    first_index: dict[Decimal, int] = {}
    for index, value in enumerate(ordered):
        first_index.setdefault(value, index)
    return {unit: first_index[value] + 1 for unit, value in rounded.items()}


Scored = tuple[tuple["GroupScore", ...], float, str]
"""(groups, total, band) of a unit score, without its unit, period and moment."""


class ScoreMemo:
    """:func:`make_unit_score` for the live engine, remembering the groups, total and band of
    each (unit kind, counts) already seen: they depend on nothing else, and counts repeat."""

    LIMIT = 10_000  # entries kept before the memo starts afresh

    def __init__(self, rulebook: Rulebook) -> None:
        self.rulebook = rulebook
        measures = {i.measure for g in rulebook.groups for i in g.indicators}
        self._measures = tuple(sorted(measures | {Measure.DOSSIERS_SYNCED}))
        self._memo: dict[tuple[Any, ...], tuple[tuple[GroupScore, ...], float, str]] = {}
        # a group's score depends on the counts of its own measures (and 1.4's, for 3.3)
        self._group_measures = tuple(
            (index, group, tuple(sorted({i.measure for i in group.indicators}
                                        | {Measure.DOSSIERS_SYNCED})))
            for index, group in enumerate(rulebook.groups))
        self._group_memo: dict[tuple[Any, ...], GroupScore] = {}

    def unit_score(self, unit: Unit, period: Period, as_of: datetime, t: Instant,
                   counts: Counts, position: int = 0) -> UnitScore:
        """Equal to ``make_unit_score(unit, period, as_of, t, rulebook, counts, position)``."""
        return self.issue(unit, period, as_of, t, self.scored(str(unit.kind), counts), position)

    def scored(self, kind: str, counts: Counts) -> Scored:
        """The groups, total and band that ``counts`` give a unit of ``kind``."""
        get = counts.get
        key = (kind, *[get(m, (0, 0)) for m in self._measures])
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= self.LIMIT:
                self._memo.clear()
            groups = self._groups(counts, kind)
            total = sum(g.points for g in groups)
            found = self._memo[key] = (groups, total,
                                       self.rulebook.band(band_total(total)))
        return found

    def issue(self, unit: Unit, period: Period, as_of: datetime, t: Instant, scored: Scored,
              position: int = 0, rank: int | None = None) -> UnitScore:
        """The unit score of what :meth:`scored` gave, as of a moment."""
        groups, total, band = scored
        rulebook = self.rulebook
        return UnitScore(unit.code, unit.name, str(unit.kind), period.key, as_of,
                         to_datetime(t), rulebook.id, rulebook.version, total, band, groups,
                         rank, position)

    def _groups(self, counts: Counts, kind: str) -> tuple[GroupScore, ...]:
        """Equal to ``rulebook_groups(rulebook, counts, kind)``, one group at a time."""
        memo = self._group_memo
        if len(memo) >= self.LIMIT:
            memo.clear()
        get = counts.get
        groups: list[GroupScore] = []
        for index, group, measures in self._group_measures:
            key = (index, kind, *[get(m, (0, 0)) for m in measures])
            found = memo.get(key)
            if found is None:
                found = memo[key] = group_score(group, counts, kind)
            groups.append(found)
        return tuple(groups)
