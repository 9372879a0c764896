"""The events a unit of work has staged for its commit: held in memory up to one chunk, spilled
to a temporary file beyond it, and handed to the recorder chunk by chunk — so that a whole
imported file waits for its one transaction without being held in memory."""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from eventsourcing.persistence import StoredEvent

# Events held in memory before they are spilled, and handed to the recorder at once (one
# statement on PostgreSQL: keep it near ledger.recorders.CHUNK).
CHUNK = 2000
_HEADER = struct.Struct(">IQII")  # originator id length, version, topic length, state length


class StagedEvents:
    """Stored events in the order staged. A small unit of work (a command) never touches the
    disk; a large one (an import) keeps at most ``chunk`` events in memory."""

    def __init__(self, spill_directory: Path | None = None, chunk: int | None = None) -> None:
        self.spill_directory = spill_directory
        self.chunk = chunk or CHUNK
        self._held: list[StoredEvent] = []
        self._spill: IO[bytes] | None = None
        self._spilled = 0

    def __len__(self) -> int:
        return self._spilled + len(self._held)

    def append(self, event: StoredEvent) -> None:
        self._held.append(event)
        if len(self._held) >= self.chunk:
            self._write_out()

    def chunks(self) -> Iterator[list[StoredEvent]]:
        """Everything staged, in order, as lists of at most ``chunk`` events (read back from
        the spill file first; each call starts again from the first event)."""
        if self._spill is not None:
            self._spill.flush()
            self._spill.seek(0)
            left = self._spilled
            while left:
                count = min(left, self.chunk)
                yield [_read_one(self._spill) for _ in range(count)]
                left -= count
            self._spill.seek(0, 2)
        for start in range(0, len(self._held), self.chunk):
            yield self._held[start:start + self.chunk]

    def close(self) -> None:
        """Drop the spill file (the staged events are gone)."""
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        self._held, self._spilled = [], 0

    def _write_out(self) -> None:
        if self._spill is None:
            # Unlinked at once: nothing is left behind, whatever ends the process. Open across
            # appends until the commit, so no context manager.
            self._spill = tempfile.TemporaryFile(  # noqa: SIM115
                prefix="dossier-staged-", dir=self.spill_directory)
        write = self._spill.write
        for event in self._held:
            oid, topic = str(event.originator_id).encode(), event.topic.encode()
            write(_HEADER.pack(len(oid), int(event.originator_version), len(topic),
                               len(event.state)))
            write(oid)
            write(topic)
            write(event.state)
        self._spilled += len(self._held)
        self._held = []


def _read_one(spill: IO[bytes]) -> StoredEvent:
    oid_length, version, topic_length, state_length = _HEADER.unpack(spill.read(_HEADER.size))
    oid = spill.read(oid_length).decode()
    topic = spill.read(topic_length).decode()
    state = spill.read(state_length)
    if len(state) != state_length:
        raise OSError("the staged events' spill file ended early")
    return StoredEvent(originator_id=oid, originator_version=version, topic=topic, state=state)
