"""The cyclic garbage collector and the runners' large, long-lived, acyclic state."""

from __future__ import annotations

import gc
from collections.abc import Iterator
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
