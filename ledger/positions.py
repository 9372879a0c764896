"""Where a stored event sits in the total order: a lookup the eventsourcing recorders lack
(used to answer a replayed idempotent request, and by the audit history)."""

from __future__ import annotations

from typing import Any

from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder


def position_of(recorder: Any, originator_id: str, version: int) -> int | None:
    """The notification id (ledger position) of one stored event, or None if absent."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT rowid FROM {recorder.events_table_name} "
                "WHERE originator_id = ? AND originator_version = ?",
                (originator_id, version),
            )
            row = cursor.fetchone()
            return int(row[0]) if row else None
    if isinstance(recorder, PostgresApplicationRecorder):
        from psycopg.sql import SQL, Identifier

        statement = SQL(
            "SELECT notification_id FROM {}.{} WHERE originator_id = %s AND originator_version = %s"
        ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (originator_id, version))
            found = cursor.fetchone()
            return int(found["notification_id"]) if found else None
    if isinstance(recorder, POPOApplicationRecorder):
        index = recorder._stored_events_index.get(originator_id, {}).get(version)
        return None if index is None else index + 1
    return None
