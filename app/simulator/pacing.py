"""The accelerated clock: simulated time advances ``speed`` times faster than real time, and
never passes the real clock (the ledger refuses actions from the future)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    return datetime.now(UTC)


class Pacer:
    """Sleeps until a simulated moment may be written.

    With ``speed`` (simulated seconds per real second) the simulated clock starts at
    ``sim_start`` when the pacer is created and runs ``speed`` times faster; without it, steps
    go as fast as possible. Either way a moment later than the real clock waits for it.
    """

    def __init__(self, sim_start: datetime, speed: float | None = None, *,
                 clock: Callable[[], datetime] = utc_now,
                 sleep: Callable[[float], None] = time.sleep,
                 idle_gap: timedelta | None = None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.sim_start = sim_start
        self.speed = speed
        self.clock = clock
        self.sleep = sleep
        self.real_start = clock()
        # With ``idle_gap``, a quiet stretch (a night, a weekend, a holiday) longer than it
        # is paced as if it lasted ``idle_gap``: a paced run spends its time where things
        # happen.
        self.idle_gap = idle_gap
        self._last: datetime | None = None

    def release_time(self, moment: datetime) -> datetime:
        """The real moment from which ``moment`` may be written."""
        release = moment
        if self.speed is not None:
            paced = self.real_start + (moment - self.sim_start) / self.speed
            release = max(release, paced)
        return release

    def wait_for(self, moment: datetime) -> float:
        """Sleep until ``moment`` may be written; return the seconds slept."""
        if self.idle_gap is not None and self._last is not None:
            quiet = moment - self._last
            if quiet > self.idle_gap:
                self.sim_start += quiet - self.idle_gap
        self._last = max(moment, self._last) if self._last else moment
        delay = (self.release_time(moment) - self.clock()).total_seconds()
        if delay > 0:
            self.sleep(delay)
            return delay
        return 0.0

    def simulated_now(self) -> datetime:
        """Where the simulated clock stands now (paced runs only)."""
        if self.speed is None:
            return self.clock()
        elapsed = self.clock() - self.real_start
        return min(self.sim_start + elapsed * self.speed, self.clock())

    @staticmethod
    def batch_span(speed: float | None, tick_seconds: float = 0.25) -> timedelta | None:
        """How much simulated time one batch may span so that a paced run writes about every
        ``tick_seconds`` of real time."""
        if speed is None:
            return None
        return timedelta(seconds=speed * tick_seconds)
