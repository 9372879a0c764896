"""A worker's state in keyed tables (faust Tables on RocksDB with changelog topics; any
mutable mapping of str to bytes in tests): each partition's snapshot, in chunks, and the
dossiers taken out of its memory.

**Snapshots** are written at a mark, chunk by chunk under a new generation, then the head that
names the generation (so a worker killed half-way still finds the previous whole one), then
the previous generation's chunks are deleted. A chunk stays well under a Kafka record's size.

**Dossiers taken out** (ended a while ago: ``ScoringEngine.take``) are staged in memory and
written with the next snapshot, each under its id with the position of its latest event. A
worker killed before that snapshot's head was written resumes from the previous snapshot;
records written for the unfinished one may then be newer than the state it loads. So a
record keeps the previous version beside the new one, and a read takes the latest version
whose position is not after what the worker has folded: a dossier recalled and changed after
the snapshot it resumes from is read as it was then, and its later events fold onto that.
Each record also has an empty entry under ``~u/<unit>/<dossier id>``: the scans of a unit's
dossiers (a score at a moment before the latest event's: the counters are ahead of it) read
a range of keys, not the whole table.
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
UNIT_INDEX = "~u/"


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
    """The dossiers taken out of one partition's memory (``ColdDossiers``), in a table.

    ``folded()``: the latest position the partition has folded (see the module's docstring);
    ``committed``: the position of the latest snapshot written (versions up to it are kept
    when a newer one is written)."""

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

    def commit(self, snapshot_position: int) -> int:
        """Write the staged records (before the snapshot at ``snapshot_position``); returns
        how many."""
        table, committed = self.table, self.committed
        for dossier_id, version in self.staged.items():
            old = table.get(dossier_id)
            kept: Versions = [v for v in pickle.loads(old) if v[0] <= committed][-1:] \
                if old is not None else []
            table[dossier_id] = pickle.dumps([*kept, version], protocol=pickle.HIGHEST_PROTOCOL)
            table[f"{UNIT_INDEX}{version[1]}/{dossier_id}"] = b""
        n = len(self.staged)
        self.staged = {}
        self.committed = snapshot_position
        return n

    def _version(self, dossier_id: str) -> tuple[int, str, bytes] | None:
        value = self.table.get(dossier_id)
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
        return sorted({*self.staged, *(k for k in self.table if not k.startswith(UNIT_INDEX))})
