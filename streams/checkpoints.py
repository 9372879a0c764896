"""A worker's local RocksDB stores, rolled back after an unclean stop to the latest state the
broker is proven to hold, instead of restored from the changelogs from their start.

A worker killed may have written to its local stores what never reached their changelogs
(faust writes RocksDB first, and sends the changelog record after), and a worker that took
its partitions over meanwhile went on from the changelogs: the local store then holds writes
that are no one's history, and cannot be read as it is. What can be read is a state every
write of which the changelog holds: a RocksDB checkpoint (hard links to the store's files)
taken right after a partition's snapshot is written, before anything else is, and *proven*
once the producer's flush that followed has returned (every record sent before it is
acknowledged). After an unclean stop each store is replaced by its latest proven checkpoint;
faust's recovery then reads the changelog from the offset the checkpoint records (its last
acknowledged write) to the end — records the checkpoint may already hold are written again,
in their order, to the same values — so the store ends as a restore from the whole changelog
would, having read only what came after the checkpoint. A store with no proven checkpoint is
deleted (restored from its changelog as a new worker's is).

Checkpoints share the store's files (hard links), so they cost disk only for the files the
store compacted away since: at most the store's size again.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path
from typing import Any

DIRECTORY = "checkpoints"
"""Under a worker's table directory."""
PROVEN = ".proven"
PENDING = ".pending-"


class Checkpoints:
    """Checkpoints of a worker's stores, by store name (``<table>-<partition>``)."""

    def __init__(self, tables: Path) -> None:
        self.directory = tables / DIRECTORY
        self._serial = itertools.count(1)

    def take(self, name: str, db: Any) -> Path:
        """A checkpoint of ``db`` (a ``rocksdict.Rdict``) as it is now, not yet proven."""
        from rocksdict import Checkpoint

        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{name}{PENDING}{os.getpid()}-{next(self._serial)}"
        shutil.rmtree(path, ignore_errors=True)
        Checkpoint(db).create_checkpoint(str(path))
        return path

    def prove(self, name: str, path: Path) -> None:
        """Every write of the checkpoint at ``path`` is acknowledged: make it the one a
        restart after an unclean stop rolls back to (in place of the previous one)."""
        proven = self.directory / f"{name}{PROVEN}"
        old = self.directory / f"{name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if proven.exists():
            proven.rename(old)
        path.rename(proven)
        shutil.rmtree(old, ignore_errors=True)

    def drop(self, path: Path) -> None:
        """A checkpoint that will not be proven."""
        shutil.rmtree(path, ignore_errors=True)


def _restore(checkpoint: Path, store: Path) -> None:
    """Make ``store`` from ``checkpoint``, which stays (a second unclean stop before the next
    proven checkpoint goes back to it again, rather than to the whole changelog): its table
    files linked, as RocksDB never changes one once written, the rest (manifest, logs,
    options, which an open store rewrites) copied. A stop midway leaves a partial store,
    replaced again at the next start (which is still unclean)."""
    store.mkdir()
    for item in checkpoint.iterdir():
        if item.is_dir():
            shutil.copytree(item, store / item.name)
        elif item.suffix == ".sst":
            os.link(item, store / item.name)
        else:
            shutil.copy2(item, store / item.name)


def roll_back(tables: Path) -> tuple[list[str], list[str]]:
    """Replace every store (``<name>.db``) under ``tables`` by its proven checkpoint (kept),
    or delete it when it has none; delete the checkpoints not proven. Returns the names of the
    stores rolled back and of those deleted."""
    checkpoints = tables / DIRECTORY
    rolled, deleted = [], []
    for store in sorted(tables.glob("*.db")):
        name = store.name[:-len(".db")]
        proven = checkpoints / f"{name}{PROVEN}"
        shutil.rmtree(store)
        if proven.is_dir():
            _restore(proven, store)
            rolled.append(name)
        else:
            deleted.append(name)
    if checkpoints.is_dir():
        for leftover in checkpoints.iterdir():
            if not leftover.name.endswith(PROVEN):
                shutil.rmtree(leftover, ignore_errors=True)
    return rolled, deleted
