"""Where the relay puts each record on the topic, and the marks it puts between them.

**Partitions by unit tree.** Every count and score of a unit depends only on the events of
its own tree: a department's or a commune's scope is itself and its province, a dossier's
procedure belongs to its unit or a unit above it, the communes counted for a province are
below it, and departments and communes are ranked within their province. So the relay
sends each event to the partition of its tree's root (the province, or the ministry, or a
unit with no parent), chosen as Kafka's default partitioner would choose it for that key:
all of a tree's events are on one partition in position order, and one worker folding that
partition computes the exact scores of its units. Only the provinces' national ranking needs
every partition (see ``streams.worker``). The record's key stays the aggregate id.

**Marks.** After each acknowledged batch the relay sends, to every partition, a mark: "every
event up to position P has been sent, and scores are due as of time T" (T: the relay's clock,
or a fixed moment). A worker that reads the mark on a partition has read all of that
partition's events up to P and none after, so the rows it writes there are those of the log
at P for its units, evaluated at T: the same cut on every partition, which the national
ranking joins and ``verify --scores`` recomputes. With no new events the relay still sends
a mark every ``tick`` seconds: scores move with time (a dossier turns late when its due date
passes with no event).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from aiokafka.partitioner import murmur2

from ledger.chain import canonical_json

if TYPE_CHECKING:
    from ledger.application import DossierLedger

MARK_KEY = b"~mark"
"""The key of a mark record (no aggregate id starts with ``~``)."""
REMEMBERED = 200_000
"""Aggregates whose tree the relay keeps in memory (the others are read back)."""


def partition_for(root: str, partitions: int) -> int:
    """The partition of a tree: Kafka's default partitioner on the root's code."""
    return (murmur2(root.encode()) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class Mark:
    """Every event up to ``position`` sent; scores due as of ``at``; the topic has
    ``partitions`` partitions (a mark on each); the ledger's head was ``head`` when it was
    sent (what the pipeline's lag is measured against); every record of the log up to
    ``through`` is on the topic before it (``position`` is the last of them the scores fold:
    the rows are the same through ``through``; 0: ``position``)."""

    position: int
    at: datetime
    partitions: int
    head: int = 0
    through: int = 0

    def line(self) -> bytes:
        return canonical_json({"mark": self.position, "at": self.at.isoformat(),
                               "partitions": self.partitions, "head": self.head,
                               "through": max(self.through, self.position)})

    @property
    def covered(self) -> int:
        """The last position of the log the rows at this mark stand for."""
        return max(self.through, self.position)


def read_record(value: bytes) -> dict[str, Any] | Mark:
    """A record's value: an event envelope (with ``position``), or a :class:`Mark`.
    Raises ValueError on anything else."""
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(decoded, dict):
        raise ValueError("not a JSON object")
    if "mark" in decoded:
        try:
            return Mark(int(decoded["mark"]), datetime.fromisoformat(decoded["at"]),
                        int(decoded["partitions"]), int(decoded.get("head") or decoded["mark"]),
                        int(decoded.get("through") or decoded["mark"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"a malformed mark: {error}") from None
    if not isinstance(decoded.get("position"), int) or "stream" not in decoded:
        raise ValueError("neither an event with a position nor a mark")
    return decoded


class Trees:
    """The root unit of each event's tree, from the ledger: a unit's own chain, the unit a
    procedure, dossier or petition names in its first event (remembered for the most recent
    aggregates, read back for the others)."""

    def __init__(self, ledger: DossierLedger, remembered: int = REMEMBERED) -> None:
        self.ledger = ledger
        self.remembered = remembered
        self._units: OrderedDict[str, str] = OrderedDict()  # "stream:id" -> unit
        self._roots: dict[str, str] = {}  # unit -> root (units are never moved)

    def root_of(self, envelope: dict[str, Any]) -> str:
        stream, key = str(envelope["stream"]), str(envelope["id"])
        data = envelope.get("data")
        unit = data.get("unit") if isinstance(data, dict) else None
        if stream == "unit":
            unit = key
        elif not isinstance(unit, str):
            unit = self._unit_of(stream, key)
        elif stream in ("dossier", "petition"):
            self._remember(f"{stream}:{key}", unit)
        return self._root(unit) if unit is not None else key

    def _unit_of(self, stream: str, key: str) -> str | None:
        oid = f"{stream}:{key}"
        found = self._units.get(oid)
        if found is not None:
            self._units.move_to_end(oid)
            return found
        found = self.ledger.unit_named_by(stream, key)
        if found is not None and stream in ("dossier", "petition"):
            self._remember(oid, found)
        return found

    def _remember(self, oid: str, unit: str) -> None:
        self._units[oid] = unit
        if len(self._units) > self.remembered:
            self._units.popitem(last=False)

    def _root(self, unit: str) -> str:
        found = self._roots.get(unit)
        if found is None:
            if self.ledger.find_unit(unit) is None:
                return unit
            chain = self.ledger.units.ancestors(unit)
            found = self._roots[unit] = chain[-1] if chain else unit
        return found
