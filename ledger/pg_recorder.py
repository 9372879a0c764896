"""PostgreSQL recorder for large atomic appends (a whole imported file in one transaction).

The library's recorder sends a batch as one pipelined statement; with tens of thousands of
events that pipeline stalls. This one keeps the same table lock (insert order = commit order,
so followers never pass a gap that fills later) and sends the batch in chunks inside one
transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder

CHUNK = 2000


class ChunkedPostgresApplicationRecorder(PostgresApplicationRecorder):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if len(stored_events) <= CHUNK:
            return super().insert_events(stored_events, **kwargs)
        positions: list[int] = []
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            for start in range(0, len(stored_events), CHUNK):
                chunk = stored_events[start : start + CHUNK]
                PostgresAggregateRecorder._insert_stored_events(self, curs, chunk)
                ids = self._fetch_ids_after_insert_events(curs, chunk)
                positions.extend(ids or ())
        return positions
