"""A worker's state in keyed tables (faust Tables on RocksDB with changelog topics; any
mutable mapping of str to bytes in tests): each partition's snapshot, in chunks, and its
dossiers, in one table (one changelog partition keeps them in the order they were written:
a worker restoring the table from it, wherever the broker's sends stopped, finds a
snapshot only with the dossiers written before it).

**Snapshots** are written at a mark, chunk by chunk under a new generation, then the head that
names the generation (so a worker killed half-way still finds the previous whole one), then
the previous generation's chunks are deleted. A chunk stays well under a Kafka record's size.

**Dossiers** are written through: at every mark a partition writes the latest state of each
dossier that changed since the previous one (``ScoringEngine.peek``), under ``~d/<id>``
with the position of its latest event. So a snapshot leaves the dossiers out (it names those
held in memory, read back when it is loaded): its size and time are bounded by the counters
and the registry, not by the open dossiers, which a national year counts in millions; and a
dossier that ended a while ago is only dropped from memory (``ScoringEngine.drop``), read
back if an event of it comes. A worker killed after a snapshot resumes from it; records
written since may then be newer than the state it loads. So a record keeps the version
current at the latest snapshot beside the newest, and a read takes the latest version whose
position is not after what the worker has folded: a dossier changed after the snapshot it
resumes from is read as it was then, and its later events fold onto that. Each dossier also
has an empty entry under ``~u/<unit>/<dossier id>``: the scans of a unit's dossiers (a
score at a moment before the latest event's: the counters are ahead of it) read a range of
keys, not the whole table.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

from projections.engine import record_facts

CHUNK = 256 * 1024
"""Bytes per snapshot chunk (Kafka's default record limit is 1 MB)."""
Versions = list[tuple[int, str, bytes]]
"""(position of the dossier's latest event, unit, record), oldest first."""

Table = MutableMapping[str, bytes]
Scan = Callable[[str], Iterable[str]]
"""The keys of a table after a prefix (without it), in order."""
DOSSIER = "~d/"
"""Before a dossier's id: the key of its record."""
UNIT_INDEX = "~u/"
"""Before ``<unit>/<dossier id>``: the unit's index entries."""
SNAPSHOT = "~s/p"
"""Before a partition's number: the name of its snapshot in its table (beside its dossiers;
keys unique across partitions, as faust's store finds the partition of a key it deletes by
the last partition that wrote it)."""


def scan_mapping(table: Table) -> Scan:
    """A prefix scan of any mapping (reads every key: tests)."""
    def scan(prefix: str) -> Iterator[str]:
        return (key[len(prefix):] for key in sorted(table) if key.startswith(prefix))
    return scan


def save_snapshot(table: Table, name: str, state: Any) -> int:
    """Write ``state`` under ``name`` as a new generation; returns its size in bytes."""
    data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    head = table.get(f"{name}/head")
    old_generation, old_chunks = pickle.loads(head)[:2] if head is not None else (0, 0)
    generation = old_generation + 1
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    for index, chunk in enumerate(chunks):
        table[f"{name}/{generation}/{index}"] = chunk
    table[f"{name}/head"] = pickle.dumps((generation, len(chunks),
                                          hashlib.sha256(data).hexdigest()))
    for index in range(old_chunks):
        table.pop(f"{name}/{old_generation}/{index}", None)
    return len(data)


def load_snapshot(table: Table, name: str) -> Any | None:
    """The latest whole snapshot under ``name`` (None: none). Raises ValueError when its
    chunks do not match its head (the table lost some)."""
    head = table.get(f"{name}/head")
    if head is None:
        return None
    generation, count, digest = pickle.loads(head)
    parts = [table.get(f"{name}/{generation}/{index}") for index in range(count)]
    if any(part is None for part in parts):
        raise ValueError(f"snapshot {name}: chunks of generation {generation} are missing")
    data = b"".join(part for part in parts if part is not None)
    if hashlib.sha256(data).hexdigest() != digest:
        raise ValueError(f"snapshot {name}: its chunks do not match their digest")
    return pickle.loads(data)


class TableCold:
    """The dossiers of one partition (``ColdDossiers``), in a table.

    ``folded()``: the latest position the partition has folded (see the module's docstring);
    ``committed``: the position of the latest snapshot written (the latest version up to it
    is kept when a newer one is written; :meth:`saved` moves it)."""

    def __init__(self, table: Table, folded: Callable[[], int], committed: int,
                 scan: Scan | None = None) -> None:
        self.table = table
        self.folded = folded
        self.committed = committed
        self.scan = scan or scan_mapping(table)
        self.staged: dict[str, tuple[int, str, bytes]] = {}

    def stage(self, records: Iterable[tuple[str, str, bytes]]) -> int:
        """Hold records (dossier id, unit, record) until :meth:`commit`."""
        n = 0
        for dossier_id, unit, record in records:
            self.staged[dossier_id] = (pickle.loads(record)[1], unit, record)
            n += 1
        return n

    def write(self, records: Iterable[tuple[str, str, int, bytes]]) -> int:
        """Write records (dossier id, unit, position, record: ``ScoringEngine.peek``) now;
        returns how many."""
        staged = self.staged
        n = 0
        for dossier_id, unit, position, record in records:
            staged[dossier_id] = (position, unit, record)
            n += 1
        self.commit()
        return n

    def commit(self) -> int:
        """Write the staged records; returns how many."""
        table, committed = self.table, self.committed
        dumps, loads = pickle.dumps, pickle.loads
        for dossier_id, version in self.staged.items():
            key = DOSSIER + dossier_id
            old = table.get(key)
            versions: Versions = loads(old) if old is not None else []
            kept = [v for v in versions if v[0] <= committed][-1:]
            table[key] = dumps([*kept, version], protocol=pickle.HIGHEST_PROTOCOL)
            if not versions or versions[-1][1] != version[1]:  # a new dossier, or moved
                table[f"{UNIT_INDEX}{version[1]}/{dossier_id}"] = b""
        n = len(self.staged)
        self.staged = {}
        return n

    def saved(self, snapshot_position: int) -> None:
        """A snapshot at ``snapshot_position`` is written: the versions it reads are kept
        from now on (those of the one before it may go)."""
        self.committed = snapshot_position

    def _version(self, dossier_id: str) -> tuple[int, str, bytes] | None:
        value = self.table.get(DOSSIER + dossier_id)
        if value is None:
            return None
        folded = self.folded()
        usable = [v for v in pickle.loads(value) if v[0] <= folded]
        return usable[-1] if usable else None

    # -- ColdDossiers -------------------------------------------------------------------------
    def recall(self, dossier_id: str) -> bytes | None:
        staged = self.staged.pop(dossier_id, None)
        if staged is not None:
            return staged[2]
        found = self._version(dossier_id)
        return None if found is None else found[2]

    def facts(self, dossier_id: str) -> Any | None:
        staged = self.staged.get(dossier_id) or self._version(dossier_id)
        return None if staged is None else record_facts(staged[2])

    def facts_of_unit(self, unit: str) -> Iterator[tuple[str, Any]]:
        """The unit's dossiers, through its index entries (an entry left by a version since
        replaced is checked against the version read)."""
        ids = {dossier_id for dossier_id, held in self.staged.items() if held[1] == unit}
        ids.update(self.scan(f"{UNIT_INDEX}{unit}/"))
        for dossier_id in sorted(ids):
            found = self.staged.get(dossier_id) or self._version(dossier_id)
            if found is not None and found[1] == unit:
                yield dossier_id, record_facts(found[2])

    def units(self) -> Iterable[str]:
        return sorted({found[1] for dossier_id in self._ids()
                       if (found := self.staged.get(dossier_id) or self._version(dossier_id))})

    def _ids(self) -> list[str]:
        return sorted({*self.staged, *self.scan(DOSSIER)})
