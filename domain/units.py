"""Administrative units: the 34 provinces and 3,321 communes of the post-2025 two-level
government (official codes from ``vietnam-provinces``) plus units registered by events
(departments — sở, ban, ngành —, ministries, agencies), with parent/child queries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from vietnam_provinces import Province, Ward


class UnitKind(StrEnum):
    PROVINCE = "province"
    DEPARTMENT = "department"
    COMMUNE = "commune"
    MINISTRY = "ministry"
    AGENCY = "agency"


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    kind: UnitKind
    parent: str | None
    builtin: bool = False

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled as its fields (a slotted dataclass's own __getstate__ calls fields())
        return (Unit, (self.code, self.name, self.kind, self.parent, self.builtin))


def province_code(code: int) -> str:
    """Official 2-digit province code as text (Quảng Ninh: ``"22"``)."""
    return f"{int(code):02d}"


def commune_code(code: int) -> str:
    """Official 5-digit commune (xã, phường, đặc khu) code as text."""
    return f"{int(code):05d}"


@lru_cache(maxsize=1)
def builtin_units() -> dict[str, Unit]:
    """The provinces and communes of ``vietnam-provinces``, keyed by official code."""
    units: dict[str, Unit] = {}
    for province in Province.iter_all():
        pcode = province_code(province.code)
        units[pcode] = Unit(pcode, province.name, UnitKind.PROVINCE, None, builtin=True)
        for ward in Ward.iter_by_province(province.code):
            wcode = commune_code(ward.code)
            units[wcode] = Unit(wcode, ward.name, UnitKind.COMMUNE, pcode, builtin=True)
    return units


class UnitRegistry:
    """Built-in units plus registered ones. Lookups are O(1); ancestry walks parent links."""

    def __init__(self) -> None:
        self._units: dict[str, Unit] = dict(builtin_units())
        self._children: dict[str, list[str]] = {}
        # (kind, province) -> units, in registration order; rebuilt after a registration
        self._peer_groups: dict[tuple[UnitKind, str | None], list[Unit]] | None = None
        for unit in self._units.values():
            if unit.parent is not None:
                self._children.setdefault(unit.parent, []).append(unit.code)

    def __contains__(self, code: object) -> bool:
        return code in self._units

    def __len__(self) -> int:
        return len(self._units)

    def __iter__(self) -> Iterator[Unit]:
        return iter(self._units.values())

    def get(self, code: str) -> Unit:
        try:
            return self._units[code]
        except KeyError:
            raise UnknownUnit(code) from None

    def find(self, code: str) -> Unit | None:
        return self._units.get(code)

    def register(self, code: str, name: str, kind: str, parent: str | None) -> Unit:
        """Add a unit named by a ``unit.registered`` event (parent must be known)."""
        check_registration(self, code, kind, parent)
        unit = Unit(code, name, UnitKind(kind), parent or None)
        self._units[code] = unit
        if unit.parent is not None:
            self._children.setdefault(unit.parent, []).append(code)
        self._peer_groups = None
        return unit

    def children(self, code: str) -> list[Unit]:
        return [self._units[c] for c in self._children.get(code, ())]

    def descendants(self, code: str) -> Iterator[Unit]:
        """Every unit below ``code`` (not ``code`` itself), depth first."""
        stack = list(reversed(self._children.get(code, ())))
        while stack:
            child = stack.pop()
            yield self._units[child]
            stack.extend(reversed(self._children.get(child, ())))

    def ancestors(self, code: str) -> list[str]:
        """Codes from ``code``'s parent up to the root."""
        chain: list[str] = []
        parent = self.get(code).parent
        while parent is not None and parent not in chain:
            chain.append(parent)
            parent = self._units[parent].parent if parent in self._units else None
        return chain

    def scope(self, code: str) -> list[str]:
        """``code`` and its ancestors: the units whose scores an event at ``code`` touches."""
        return [code, *self.ancestors(code)]

    def is_within(self, code: str, ancestor: str) -> bool:
        """True when ``code`` is ``ancestor`` or lies below it."""
        return code == ancestor or ancestor in self.ancestors(code)

    def province_of(self, code: str) -> str | None:
        """The province a unit belongs to (itself for a province)."""
        for candidate in self.scope(code):
            if self._units[candidate].kind is UnitKind.PROVINCE:
                return candidate
        return None

    def of_kind(self, kind: str) -> list[Unit]:
        wanted = UnitKind(kind)
        return [u for u in self._units.values() if u.kind is wanted]

    def peers(self, code: str) -> list[Unit]:
        """Units ranked against ``code``: all provinces for a province; units of the same
        kind in the same province for a department or a commune; nobody for others."""
        unit = self.get(code)
        if unit.kind is UnitKind.PROVINCE:
            return self.of_kind(UnitKind.PROVINCE)
        if unit.kind in (UnitKind.DEPARTMENT, UnitKind.COMMUNE):
            if self._peer_groups is None:  # one pass for every group, not one per call
                groups: dict[tuple[UnitKind, str | None], list[Unit]] = {}
                for u in self._units.values():
                    groups.setdefault((u.kind, self.province_of(u.code)), []).append(u)
                self._peer_groups = groups
            return list(self._peer_groups.get((unit.kind, self.province_of(code)), ()))
        return []


def check_registration(registry: UnitRegistry, code: str, kind: str, parent: str | None) -> None:
    """Raise unless a unit with this code, kind and parent may be registered."""
    if code in registry:
        raise DuplicateUnit(code)
    try:
        unit_kind = UnitKind(kind)
    except ValueError:
        raise InvalidUnit(code, f"unknown unit kind {kind!r}") from None
    if parent:
        if parent not in registry:
            raise UnknownUnit(parent)
    elif unit_kind not in (UnitKind.MINISTRY, UnitKind.AGENCY):
        raise InvalidUnit(code, f"a {unit_kind} needs a parent unit")


class UnitError(Exception):
    """A unit was unknown, duplicated or ill-formed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class UnknownUnit(UnitError):
    def __init__(self, code: str) -> None:
        super().__init__(code, f"unknown unit {code!r} (not an official province/commune code "
                         "and not registered by a unit.registered event)")


class DuplicateUnit(UnitError):
    def __init__(self, code: str) -> None:
        super().__init__(code, f"unit {code!r} is already registered")


class InvalidUnit(UnitError):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(code, f"unit {code!r}: {reason}")
