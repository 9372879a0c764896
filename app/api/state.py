"""What every request needs: the ledger, the keys, the clock, the live tables and the runner,
built once by the server (nothing is opened at import)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.api.errors import ApiError
from app.api.keys import KeyStore
from app.api.live import Changes, LiveRunner
from app.api.writer import CommandWriter
from ledger.application import DossierLedger
from projections.engine import ScoringEngine
from projections.rulebook import SHIPPED, load_rulebook

LIVE_WAIT_SECONDS = 15.0  # the longest a read waits for a runner cycle to end
NO_LIVE_TABLES = ("the live tables are not ready: no runner has written them yet (start "
                  "`dossier serve`, or `dossier follow` beside a ClickHouse server)")


@dataclass
class ApiState:
    """The server's shared parts. ``lock`` serialises the runner's cycles with the reads of
    ClickHouse and of the runner's engine."""

    ledger: DossierLedger
    keys: KeyStore
    clock: Callable[[], datetime]
    olap: Any | None = None
    runner: LiveRunner | None = None
    changes: Changes = field(default_factory=Changes)
    lock: threading.RLock = field(default_factory=threading.RLock)
    writes: threading.Lock = field(default_factory=threading.Lock)
    """Commands of this process record one at a time: the store serialises writers anyway,
    and a queue here costs less than writers contending for its lock and retrying."""
    max_import_bytes: int = 64 * 1024 * 1024
    writer: CommandWriter = field(default_factory=CommandWriter)
    units_held: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The units of aggregates commands were checked against (a dossier's holders only grow,
    so a remembered entry can only refuse too much: it is read again before a 403)."""

    # -- units ------------------------------------------------------------------------
    def within(self, unit: str, scope: str) -> bool:
        """True when ``unit`` is ``scope`` or lies below it (units the ledger knows)."""
        if self.ledger.find_unit(unit) is None:
            return False
        return self.ledger.units.is_within(unit, scope)

    # -- the live tables --------------------------------------------------------------
    @contextmanager
    def live(self) -> Iterator[Any]:
        """The ClickHouse client, held alone (503 when there is none, or the tables are
        missing)."""
        if self.olap is None:
            raise ApiError(503, "not_ready", NO_LIVE_TABLES)
        if not self.lock.acquire(timeout=LIVE_WAIT_SECONDS):
            raise ApiError(503, "busy", "the runner is catching up with the ledger (a long "
                           "cycle holds the live tables): try again in a moment")
        try:
            yield self.olap
        except Exception as error:
            if _unknown_table(error):
                raise ApiError(503, "not_ready", NO_LIVE_TABLES) from None
            raise
        finally:
            self.lock.release()

    @contextmanager
    def engine(self, recorded_by: datetime | None = None) -> Iterator[ScoringEngine]:
        """A scoring engine over the ledger: the runner's own (held alone) when it runs in
        this process; otherwise, or for what the ledger had recorded by ``recorded_by``, one
        folded here from the ledger."""
        if recorded_by is None and self.runner is not None and self.runner.resumed:
            with self.lock:
                yield self.runner.follower.projector.engine
            return
        engine = ScoringEngine([load_rulebook(r) for r in SHIPPED])
        stop = None
        if recorded_by is not None:
            stop = self.ledger.last_position_recorded_by(recorded_by)
            if stop == 0:
                raise ApiError(404, "not_found", "the ledger had recorded nothing by "
                               f"{recorded_by.isoformat()}", field="as_recorded")
        for envelope in self.ledger.read_envelopes(1, stop):
            engine.apply(envelope)
        engine.flush()
        yield engine


def _unknown_table(error: Exception) -> bool:
    return getattr(error, "name", None) == "UNKNOWN_TABLE" or getattr(error, "code", None) == 60 \
        or "UNKNOWN_TABLE" in str(error)
