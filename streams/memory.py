"""The cyclic garbage collector and the runners' large, long-lived, acyclic state."""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def building_state(*, keep: bool) -> Iterator[None]:
    """The cyclic collector off while a large state is built: each full collection would walk
    every fact and counter built so far (a fifth to a quarter of a replay's or a catch-up's
    time). Reference counting still frees what is dropped; cycles made meanwhile are collected
    once the collector is back on. ``keep``: the state outlives the block (a runner's), so it
    is frozen out of later collections' sight."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if keep:
            gc.freeze()
        if was_enabled:
            gc.enable()


def _malloc_trim() -> Callable[[int], object] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc
        return None


_TRIM = _malloc_trim()


def give_back() -> None:
    """Return the C heap's free pages to the system (glibc ``malloc_trim``; nothing
    elsewhere). A long-running process that pickles and drops large states (a worker's
    snapshots, every minute) otherwise keeps the freed pages between live objects, and its
    memory grows with its uptime, not its state."""
    if _TRIM is not None:
        _TRIM(0)
