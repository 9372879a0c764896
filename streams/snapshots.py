"""Snapshots of the runner's state: a restart loads the latest one and folds only the tail.

A snapshot is one file, ``state-<position>.snapshot`` in the runner's state directory: a JSON
header line (format, the fingerprint of the code that wrote it, the ledger position folded,
the log chain's hash at that position, the payload's size and SHA-256), then the pickled
:class:`~streams.projector.Projector` (engine facts and counters, the rows it last wrote).
It is written by a forked child (the runner goes on: the child sees the state as it was at
the fork, copy-on-write), to a temporary name, synced, then renamed into place; the two latest
are kept. A snapshot is used only when its header and payload check out, its code fingerprint
is this code's, its position is at most the tracked position of the rows, and the ledger's
log hash at that position is still the one it was folded from; otherwise the next older one,
or a fold from the start. The state directory is as trusted as the ledger beside it (pickle).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ledger.application import DossierLedger
from streams.coldstore import COLD, ColdStore
from streams.projector import Projector

FORMAT = 1
RUNNER_STATE = "runner-state"
"""The live runner's state directory, under the data directory."""
PREFIX, SUFFIX = "state-", ".snapshot"
_ROOT = Path(__file__).resolve().parents[1]


def code_fingerprint() -> str:
    """SHA-256 over the sources whose classes a snapshot pickles (domain, projections, the
    projector): a snapshot written by other code is not loaded."""
    digest = hashlib.sha256()
    files = [_ROOT / "streams" / "projector.py"]
    for package in ("domain", "projections"):
        files += sorted(p for p in (_ROOT / package).rglob("*")
                        if p.suffix in (".py", ".pyx", ".pxd") and p.is_file())
    for path in files:
        digest.update(str(path.relative_to(_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Snapshot:
    path: Path
    position: int
    log_hash: str


class SnapshotError(Exception):
    """A snapshot that cannot be used; the message says why."""


class Snapshots:
    """The snapshots of one runner, in ``directory``."""

    def __init__(self, directory: Path, keep: int = 2) -> None:
        self.directory = directory
        self.keep = keep
        self._fingerprint: str | None = None
        self._child: int | None = None
        self._flushing: ColdStore | None = None  # whose records the child commits

    @property
    def cold_path(self) -> Path:
        """The store of the dossiers taken out of memory (see :mod:`streams.coldstore`)."""
        return self.directory / COLD

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = code_fingerprint()
        return self._fingerprint

    # -- writing ---------------------------------------------------------------------------
    def save(self, projector: Projector, position: int, log_hash: str) -> Path:
        """Write a snapshot of ``projector`` folded up to ``position`` (in this process):
        first the records of the dossiers taken out of memory since the last one (those
        ``ColdStore.begin_flush`` gave), versioned by ``position``, then the snapshot."""
        self.directory.mkdir(parents=True, exist_ok=True)
        cold = projector.engine.cold
        if isinstance(cold, ColdStore) and cold.flushing:
            cold.commit(position, cold.flushing)
        payload = pickle.dumps(projector, protocol=pickle.HIGHEST_PROTOCOL)
        header = orjson.dumps({
            "format": FORMAT, "code": self.fingerprint, "position": position,
            "log_hash": log_hash, "bytes": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest()})
        final = self.directory / f"{PREFIX}{position:012d}{SUFFIX}"
        partial = final.with_name(final.name + ".partial")
        with open(partial, "wb") as file:
            file.write(header + b"\n")
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(final)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self._prune()
        return final

    def save_in_background(self, projector: Projector, position: int, log_hash: str) -> bool:
        """Fork a child that writes the snapshot while the runner goes on (one at a time:
        False when the previous one is still being written)."""
        if self.busy():
            return False
        self.fingerprint  # noqa: B018  (computed before the fork, once)
        cold = projector.engine.cold
        self._flushing = cold if isinstance(cold, ColdStore) else None
        pid = os.fork()
        if pid == 0:  # the child: write, then leave without running the parent's exit code
            status = 1
            try:
                self.save(projector, position, log_hash)
                status = 0
            finally:
                os._exit(status)
        self._child = pid
        return True

    def busy(self) -> bool:
        """Whether a background snapshot is still being written."""
        if self._child is None:
            return False
        try:
            pid, status = os.waitpid(self._child, os.WNOHANG)
        except ChildProcessError:
            pid, status = self._child, 1
        if pid == 0:
            return True
        self._done(status)
        return False

    def wait(self) -> None:
        """Wait for a background snapshot to be written."""
        if self._child is not None:
            status = 1
            with contextlib.suppress(ChildProcessError):
                _, status = os.waitpid(self._child, 0)
            self._done(status)

    def _done(self, status: int) -> None:
        """The child ended: the records it committed are on disk, or staged again."""
        self._child = None
        if self._flushing is not None:
            self._flushing.end_flush(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0)
            self._flushing = None

    def _prune(self) -> None:
        for old in self.listed()[self.keep:]:
            old.path.unlink(missing_ok=True)
        for stale in self.directory.glob(f"{PREFIX}*{SUFFIX}.partial"):
            with contextlib.suppress(OSError):
                if stale.stat().st_mtime < os.path.getmtime(self.directory) - 3600:
                    stale.unlink()

    # -- reading ---------------------------------------------------------------------------
    def listed(self) -> list[Snapshot]:
        """The snapshots present, latest first (headers read, payloads not checked)."""
        found = []
        for path in self.directory.glob(f"{PREFIX}*{SUFFIX}"):
            try:
                header = _header(path)
                found.append(Snapshot(path, int(header["position"]), str(header["log_hash"])))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return sorted(found, key=lambda s: s.position, reverse=True)

    def load(self, snapshot: Snapshot) -> Projector:
        """The projector a snapshot holds, after checking its header and payload."""
        with open(snapshot.path, "rb") as file:
            header = orjson.loads(file.readline())
            payload = file.read()
        if header.get("format") != FORMAT:
            raise SnapshotError(f"format {header.get('format')}, this code reads {FORMAT}")
        if header.get("code") != self.fingerprint:
            raise SnapshotError("written by another version of the code")
        if len(payload) != header.get("bytes") or \
                hashlib.sha256(payload).hexdigest() != header.get("sha256"):
            raise SnapshotError("its payload does not match its header (torn or altered)")
        projector = pickle.loads(payload)
        if not isinstance(projector, Projector):
            raise SnapshotError("it holds no runner state")
        if projector.engine.taken:
            if not self.cold_path.exists():
                raise SnapshotError(f"the dossiers it took out of memory are not there "
                                    f"({COLD} is missing)")
            projector.engine.attach(ColdStore(self.cold_path, bound=snapshot.position))
        return projector


def latest_usable(snapshots: Snapshots, ledger: DossierLedger, at_most: int
                  ) -> tuple[Snapshot | None, Projector | None, list[str]]:
    """The latest snapshot at or before position ``at_most`` that checks out (its ledger
    prefix unchanged, its header and payload sound), the projector it holds, and why each
    later one was passed over."""
    skipped: list[str] = []
    for snapshot in snapshots.listed():
        name = snapshot.path.name
        if snapshot.position > at_most:
            skipped.append(f"{name}: beyond position {at_most}")
            continue
        if ledger.log_hash_at(snapshot.position) != snapshot.log_hash:
            skipped.append(f"{name}: the ledger's log at position {snapshot.position} is not "
                           "the one it was folded from")
            continue
        try:
            return snapshot, snapshots.load(snapshot), skipped
        except (SnapshotError, OSError, ValueError, EOFError, pickle.UnpicklingError,
                AttributeError, ImportError, TypeError) as error:
            skipped.append(f"{name}: {error}")
    return None, None, skipped


def _header(path: Path) -> dict[str, Any]:
    with open(path, "rb") as file:
        header: dict[str, Any] = orjson.loads(file.readline())
    return header
