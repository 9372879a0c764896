"""Server-side DDL for a ClickHouse cluster: each table replicated on every shard
(``<name>_local``, ReplicatedReplacingMergeTree) behind a Distributed table of the same name
the runners and Grafana use. Generated from :mod:`schema`; deploy/clickhouse/cluster/."""

from __future__ import annotations

import re
from pathlib import Path

from projections.clickhouse.schema import (
    CYCLES,
    DEPLOYED,
    DOSSIER_FACTS,
    EVENTS,
    INDICATOR_HISTORY,
    Table,
    indicator_view_ddl,
)

# Rows that replace each other must live on one shard (ReplacingMergeTree merges per shard).
SHARDING_KEYS = {EVENTS: "intHash64(position)", DOSSIER_FACTS: "cityHash64(dossier_id)",
                 CYCLES: "cityHash64(runner)"}
DEFAULT_KEY = "cityHash64({first})"
ZOOKEEPER_PATH = "'/clickhouse/tables/{shard}/{database}/{table}'"


def sharding_key(table: Table) -> str:
    if table.name in SHARDING_KEYS:
        return SHARDING_KEYS[table.name]
    # score_history and rankings_current: by unit, so one unit's rows meet on one shard.
    key = "unit" if "unit" in table.column_names else table.order_by[0]
    return DEFAULT_KEY.format(first=key)


def replicated_engine(engine: str) -> str:
    """``ReplacingMergeTree(v)`` → ``ReplicatedReplacingMergeTree(path, replica, v)``."""
    match = re.fullmatch(r"(\w*MergeTree)(?:\((.*)\))?", engine)
    if match is None:
        raise ValueError(f"not a MergeTree engine: {engine}")
    arguments = [ZOOKEEPER_PATH, "'{replica}'"] + ([match.group(2)] if match.group(2) else [])
    return f"Replicated{match.group(1)}({', '.join(arguments)})"


def local_ddl(table: Table) -> str:
    ddl = table.ddl("_local").replace(
        f"CREATE TABLE IF NOT EXISTS {table.name}_local",
        f"CREATE TABLE IF NOT EXISTS {table.name}_local ON CLUSTER '{{cluster}}'", 1)
    return ddl.replace(f"ENGINE = {table.engine}", f"ENGINE = {replicated_engine(table.engine)}")


def distributed_ddl(table: Table) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {table.name} ON CLUSTER '{{cluster}}'\n"
            f"AS {table.name}_local\n"
            f"ENGINE = Distributed('{{cluster}}', currentDatabase(), {table.name}_local, "
            f"{sharding_key(table)})")


def write_cluster_ddl(directory: Path) -> list[Path]:
    """One file per table: the replicated local table, then the distributed one."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for index, table in enumerate(DEPLOYED, start=1):
        path = directory / f"{index:02d}_{table.name}.sql"
        path.write_text("-- generated from projections/clickhouse/schema.py "
                        "(projections/clickhouse/cluster.py); do not edit\n"
                        f"{local_ddl(table)};\n\n{distributed_ddl(table)};\n", encoding="utf-8")
        written.append(path)
    path = directory / f"{len(DEPLOYED) + 1:02d}_{INDICATOR_HISTORY}.sql"
    path.write_text("-- generated from projections/clickhouse/schema.py "
                    "(projections/clickhouse/cluster.py); do not edit\n"
                    + indicator_view_ddl().replace(
                        f"VIEW IF NOT EXISTS {INDICATOR_HISTORY}",
                        f"VIEW IF NOT EXISTS {INDICATOR_HISTORY} ON CLUSTER '{{cluster}}'", 1)
                    + ";\n", encoding="utf-8")
    written.append(path)
    return written


if __name__ == "__main__":
    import sys

    for written in write_cluster_ddl(Path(sys.argv[1] if len(sys.argv) > 1
                                          else "deploy/clickhouse/cluster")):
        print(f"wrote {written}")
