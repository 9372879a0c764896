"""Every table of a ClickHouse database as sorted rows, for comparing two runs:

    python -m tests.clickhouse_server.tables OLAP_DIR   # chDB: one directory per process
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from projections.clickhouse.writer import open_client

WALL_CLOCK = frozenset({"computed_at", "written_at", "started_at", "seconds"})
"""The columns (projections/clickhouse/schema.py) that record when a row was computed or
written, or how long its cycle took, by the wall clock: they differ between any two runs."""


def read_tables(client: Any) -> dict[str, list[list[Any]]]:
    """Each table and view of the client's database: its rows as FINAL shows them (the
    replacing tables), without the :data:`WALL_CLOCK` columns, sorted; values as JSON."""
    tables = client.query("SELECT name, engine FROM system.tables "
                          "WHERE database = currentDatabase() ORDER BY name").result_rows
    found: dict[str, list[list[Any]]] = {}
    for name, engine in tables:
        columns = [column for column, in client.query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() "
            "AND table = {table:String} ORDER BY position",
            parameters={"table": name}).result_rows if column not in WALL_CLOCK]
        final = " FINAL" if engine.startswith("Replacing") else ""
        rows = client.query(f"SELECT {', '.join(columns)} FROM {name}{final} "
                            "ORDER BY ALL").result_rows
        found[name] = json.loads(json.dumps([list(row) for row in rows], default=str))
    return found


if __name__ == "__main__":
    chdb = open_client(None, Path(sys.argv[1]))
    try:
        print(json.dumps(read_tables(chdb)))
    finally:
        chdb.close()
