"""``Simulation``: runs the workload engine against a ledger — continuing what earlier runs
left, writing through the ledger's commands, paced by the accelerated clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.simulator.calibration import DEFAULT_SCALE
from app.simulator.engine import EngineStats, Estate, Existing, WorkloadEngine, build_estate
from app.simulator.pacing import Pacer, utc_now
from app.simulator.plans import Offer
from app.simulator.timing import second
from domain.base import LedgerRuleError
from domain.calendar import LOCAL_TZ
from ledger.application import DossierLedger
from ledger.errors import LedgerError
from ledger.unit_of_work import RecordedEvent
from ledger.wire import WireError

REFUSALS = (LedgerRuleError, LedgerError, WireError)
MAX_ERRORS_KEPT = 20


@dataclass
class BatchReport:
    """One batch written: its events (wire form), where they landed, and what was refused."""

    sim_time: datetime
    events: list[dict[str, Any]]
    recorded: list[RecordedEvent]
    rejected: list[tuple[dict[str, Any], str]]
    stats: EngineStats


@dataclass
class SimulationSummary:
    """What a run wrote: events by type, dossiers by status and province, speed."""

    seed: int
    scale: float
    marker: str
    start: datetime
    end: datetime
    events_written: int = 0
    events_rejected: int = 0
    seconds: float = 0.0
    first_position: int | None = None
    last_position: int | None = None
    errors: list[str] = field(default_factory=list)
    stats: EngineStats = field(default_factory=EngineStats)

    @property
    def events_per_second(self) -> float:
        return self.events_written / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        provinces = sorted(set(self.stats.events_by_province) | set(
            self.stats.dossiers_by_province))
        return {
            "seed": self.seed, "scale": self.scale, "run_marker": self.marker,
            "start": self.start.astimezone(LOCAL_TZ).isoformat(),
            "end": self.end.astimezone(LOCAL_TZ).isoformat(),
            "events_written": self.events_written, "events_rejected": self.events_rejected,
            "dossiers": self.stats.dossiers, "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            "positions": [self.first_position, self.last_position],
            "events_by_type": dict(sorted(self.stats.by_type.items())),
            "dossiers_by_status": dict(sorted(self.stats.statuses().items())),
            "provinces": {p: {"dossiers": self.stats.dossiers_by_province[p],
                              "events": self.stats.events_by_province[p]} for p in provinces},
            "errors": self.errors,
        }


class LedgerWriter:
    """Records batches with ``record_many`` (atomic); when a batch is refused, records its
    events one by one so that one bad step costs only itself."""

    def __init__(self, ledger: DossierLedger) -> None:
        self.ledger = ledger

    def write(self, events: list[dict[str, Any]]
              ) -> tuple[list[RecordedEvent], list[tuple[dict[str, Any], str]]]:
        try:
            return self.ledger.record_many(events), []
        except REFUSALS:
            pass
        recorded: list[RecordedEvent] = []
        rejected: list[tuple[dict[str, Any], str]] = []
        for event in events:
            try:
                recorded.append(self.ledger.record(event))
            except REFUSALS as error:
                rejected.append((event, str(error)))
        return recorded, rejected


class Simulation:
    """A seeded workload written into ``ledger``.

    The simulated clock runs from ``start`` (default: ``days`` before now) for ``days``; it
    starts after the ledger's latest event when an earlier run went further, and (with
    ``end_at_now``) stops at the real clock. ``run`` writes everything; ``iter_run`` yields a
    ``BatchReport`` after each batch so that a caller can do other work in between.
    """

    def __init__(self, ledger: DossierLedger, *, seed: int = 0, days: float = 7.0,
                 scale: float = DEFAULT_SCALE, start: datetime | None = None,
                 provinces: list[str] | None = None, batch_size: int = 500,
                 end_at_now: bool = True, clock: Callable[[], datetime] = utc_now) -> None:
        if days <= 0 or scale <= 0:
            raise ValueError("days and scale must be positive")
        self.ledger, self.seed, self.scale = ledger, seed, scale
        self.batch_size, self.clock = batch_size, clock
        now = clock()
        requested = start or now - timedelta(days=days)
        if requested.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        estate = build_estate(seed, provinces)
        existing, latest = inspect_ledger(ledger, estate)
        begin = max(requested, latest + timedelta(seconds=1)) if latest else requested
        self.start = second(begin)
        self.end = self.start + timedelta(days=days)
        if end_at_now:
            self.end = min(self.end, second(now))
        self.shortened = begin > requested  # an earlier run already went past ``start``
        self.marker = _base36(ledger.max_position())
        self.engine = WorkloadEngine(
            seed=seed, start=self.start, end=max(self.end, self.start), scale=scale,
            provinces=provinces, marker=self.marker, existing=existing,
            calendar=ledger.calendar)
        self.summary = SimulationSummary(seed, scale, self.marker, self.start, self.end,
                                         stats=self.engine.stats)

    def iter_run(self, speed: float | None = None,
                 idle_gap: timedelta | None = None) -> Iterator[BatchReport]:
        """Write the workload batch by batch (paced when ``speed`` is given; quiet stretches
        longer than ``idle_gap`` are paced as if they lasted ``idle_gap``)."""
        if self.end <= self.start:
            return
        pacer = Pacer(self.start, speed, clock=self.clock, idle_gap=idle_gap)
        writer = LedgerWriter(self.ledger)
        summary = self.summary
        for steps in self.engine.batches(self.batch_size, Pacer.batch_span(speed)):
            pacer.wait_for(steps[-1].at)
            began = time.perf_counter()
            events = [step.wire() for step in steps]
            recorded, rejected = writer.write(events)
            summary.seconds += time.perf_counter() - began
            summary.events_written += len(recorded)
            summary.events_rejected += len(rejected)
            if recorded:
                if summary.first_position is None:
                    summary.first_position = recorded[0].position
                summary.last_position = recorded[-1].position
            for _, message in rejected[: MAX_ERRORS_KEPT - len(summary.errors)]:
                summary.errors.append(message)
            yield BatchReport(steps[-1].at, events, recorded, rejected, self.engine.stats)

    def run(self, speed: float | None = None,
            on_batch: Callable[[BatchReport], None] | None = None) -> SimulationSummary:
        """Write the whole workload; call ``on_batch`` after each batch."""
        for report in self.iter_run(speed):
            if on_batch is not None:
                on_batch(report)
        return self.summary


def inspect_ledger(ledger: DossierLedger, estate: Estate) -> tuple[Existing, datetime | None]:
    """What earlier runs registered, and the latest ``at`` among the events this run must
    follow (the log's last events and every procedure version it will touch)."""
    existing = Existing()
    ats: list[str] = [e["at"] for e in ledger.read_envelopes(max(1, ledger.max_position() - 20))]
    for codes in estate.departments.values():
        existing.units.update(code for code in codes if ledger.find_unit(code) is not None)
    for communes in estate.all_communes.values():
        for code in communes:
            events = ledger.stream_envelopes("unit", code)
            if events:
                existing.profiled.add(code)
                ats.append(events[-1]["at"])
    for slot in estate.slots:
        offer, version, key = None, 1, slot.base
        while events := ledger.stream_envelopes("procedure", key):
            ats.append(events[-1]["at"])
            if any(e["type"] == "procedure.published" for e in events) or offer is None:
                offer = _offer_from(key, version, events)
            version += 1
            key = f"{slot.base}.v{version}"
        if offer is not None:
            existing.offers[slot.base] = offer
    latest = max((datetime.fromisoformat(at) for at in ats), default=None)
    return existing, latest


def _offer_from(key: str, version: int, events: list[dict[str, Any]]) -> Offer:
    offer = Offer(key, version=version)
    for event in events:
        if event["type"] == "procedure.online_level_set":
            offer.level = event["data"]["level"]
        elif event["type"] == "procedure.payment_integrated":
            offer.integrated = event["data"]["integrated"]
    return offer


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out
