"""Where the Merkle tree and the checkpoints live beside the log: table names, reading the
stored tree through a recorder's cursor (SQLite, PostgreSQL), keeping the frontier between
inserts, and planting the tree of a ledger made before it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg.sql import SQL

from ledger.checkpoints import StoredCheckpoint
from ledger.log_chain import GENESIS, LOG_TABLE, LogRow
from ledger.merkle import STORED_LEVEL, Frontier, Node, TreeSource, TreeView, log_leaf

TREE_TABLE = "merkle_nodes"
CHECKPOINT_TABLE = "checkpoints"
# What a checkpoint is made from, under the write lock: the tree, the log's head, the latest
# checkpoint; it returns the checkpoint to keep (the latest one again when nothing changed).
MakeCheckpoint = Callable[[TreeView, LogRow | None, StoredCheckpoint | None], StoredCheckpoint]


class TreeKeeper:
    """The frontier after the last insert, keyed by the log's head (its position and log hash,
    which fix every leaf before it): an insert by another writer makes it read back from the
    stored tree."""

    def __init__(self) -> None:
        self._known: tuple[int, str, Frontier] | None = None

    def grow(self, source: TreeSource, previous: LogRow | None, rows: list[LogRow]
             ) -> list[Node]:
        size = previous.position if previous else 0
        head = previous.log_hash if previous else GENESIS
        known = self._known
        if known is not None and known[:2] == (size, head):
            frontier = known[2].copy()
        else:
            frontier = TreeView(source).frontier(size)
        nodes = frontier.extend(log_leaf(r.log_hash) for r in rows)
        if rows:
            self._known = (frontier.size, rows[-1].log_hash, frontier)
        return nodes


def plant(source: TreeSource, covered: int, head: int,
          read_log: Callable[[int], list[LogRow]], store: Callable[[list[Node]], None]) -> None:
    """Store the subtrees of the leaves after ``covered`` (a ledger made before the tree)."""
    if head - covered < 1 << STORED_LEVEL:
        return
    frontier = TreeView(source).frontier(covered)
    while frontier.size < head and (rows := read_log(frontier.size + 1)):
        store(frontier.extend(log_leaf(r.log_hash) for r in rows))


class SQLiteTree:
    """The stored tree read through one SQLite cursor."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def stored_nodes(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found = {}
        for key in keys:
            self.cursor.execute(f"SELECT hash FROM {TREE_TABLE} WHERE level = ? AND idx = ?",
                                key)
            row = self.cursor.fetchone()
            if row is not None:
                found[key] = bytes(row[0])
        return found

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        self.cursor.execute(f"SELECT log_hash FROM {LOG_TABLE} WHERE position > ? AND "
                            "position <= ? ORDER BY position", (start, end))
        return [log_leaf(row[0]) for row in self.cursor.fetchall()]

    def covered(self) -> int:
        self.cursor.execute(f"SELECT MAX(idx) FROM {TREE_TABLE} WHERE level = ?",
                            (STORED_LEVEL,))
        last = self.cursor.fetchone()[0]
        return 0 if last is None else (int(last) + 1) << STORED_LEVEL


class PostgresTree:
    """The stored tree read through one PostgreSQL cursor (dict rows)."""

    def __init__(self, curs: Any, nodes: tuple[Any, Any], log: tuple[Any, Any]) -> None:
        self.curs, self.nodes, self.log = curs, nodes, log

    def stored_nodes(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found = {}
        for key in keys:
            self.curs.execute(SQL("SELECT hash FROM {0}.{1} WHERE level = %s AND idx = %s"
                                  ).format(*self.nodes), key)
            row = self.curs.fetchone()
            if row is not None:
                found[key] = bytes(row["hash"])
        return found

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        self.curs.execute(SQL("SELECT log_hash FROM {0}.{1} WHERE position > %s AND "
                              "position <= %s ORDER BY position").format(*self.log),
                          (start, end))
        return [log_leaf(row["log_hash"]) for row in self.curs.fetchall()]

    def covered(self) -> int:
        self.curs.execute(SQL("SELECT MAX(idx) AS last FROM {0}.{1} WHERE level = %s"
                              ).format(*self.nodes), (STORED_LEVEL,))
        last = self.curs.fetchone()["last"]
        return 0 if last is None else (int(last) + 1) << STORED_LEVEL
