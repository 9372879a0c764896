"""The runner inside the API's process (one process owns chDB): it follows the ledger into
ClickHouse in a background thread, and tells the ranking streams when scores changed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ledger.application import DossierLedger
from streams.follower import Cycle, Follower, pause

log = logging.getLogger("dossier.api.runner")


@dataclass
class Changes:
    """A counter of the runner's write cycles that changed something, with the ledger
    position they reached: the ranking streams poll it and re-read when it moves."""

    version: int = 0
    position: int = 0
    cycle_at: float | None = None  # time.monotonic() of the last cycle
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def cycle(self, cycle: Cycle) -> None:
        """Called by the runner after every write cycle."""
        with self._lock:
            self.cycle_at = cycle.committed
            self.position = max(self.position, cycle.position)
            if cycle.events or cycle.scores:
                self.version += 1


class LiveRunner:
    """``Follower`` cycles in a daemon thread; every cycle holds ``lock``, the same lock the
    API holds while it reads ClickHouse or the runner's engine (one chDB client, one engine,
    never used by two threads at once)."""

    def __init__(self, follower: Follower, ledger: DossierLedger, lock: threading.RLock, *,
                 poll_seconds: float = 0.2, refresh_seconds: float = 30.0,
                 cycle_seconds: float = 2.0) -> None:
        self.follower = follower
        self.ledger = ledger
        self.lock = lock
        self.poll_seconds = poll_seconds
        self.refresh_seconds = refresh_seconds
        self.cycle_seconds = cycle_seconds
        self.error: str | None = None
        self.resumed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Resume (rebuild the engine up to the tracked position) and run in the background."""
        self._thread = threading.Thread(target=self._run, name="dossier-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self.resumed and not self._thread.is_alive():
                with self.lock:
                    self.follower.snapshot()  # a restart folds only what comes after

    @property
    def position(self) -> int:
        return self.follower.position

    def lag(self) -> int:
        """Ledger positions not yet folded into the live tables."""
        return max(0, self.ledger.max_position() - self.follower.position)

    def _run(self) -> None:
        try:
            with self.lock:
                self.follower.resume()
            self.resumed = True
        except Exception as error:  # readiness reports it; the API keeps serving the ledger
            log.exception("the runner could not resume")
            self.error = f"resume failed: {type(error).__name__}: {error}"
            return
        next_refresh = time.monotonic() + self.refresh_seconds
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                with self.lock:
                    covered = self.follower.step()
                    if time.monotonic() >= next_refresh:
                        self.follower.refresh()
                        next_refresh = time.monotonic() + self.refresh_seconds
                self.error = None
            except Exception as error:  # logged and retried: a cycle is written again whole
                log.exception("runner cycle failed")
                self.error = f"{type(error).__name__}: {error}"
                self._pause(1.0)
                continue
            if not covered:
                self._pause(self.poll_seconds)
            else:
                # at most one cycle every two seconds while commands keep coming: each cycle
                # rescores its peer groups once, so fewer, larger cycles leave the API the
                # processor
                self._pause(self.cycle_seconds - (time.monotonic() - began))

    def _pause(self, seconds: float) -> None:
        pause(self._stop, seconds)


def fixed_clock(moment: datetime) -> Callable[[], datetime]:
    """A clock that always says ``moment`` (reproducible runs and tests)."""
    return lambda: moment
