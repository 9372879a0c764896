"""``dossier demo``: the simulator, the live scoring and a live ranking of the 34 provinces,
together in one process on the embedded default."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from app.simulator.runner import BatchReport, Simulation
from domain.calendar import LOCAL_TZ
from ledger.application import DossierLedger
from projections.engine import ScoringEngine
from projections.periods import period_of_kind, to_instant
from projections.scores import UnitScore
from streams.follower import Follower

GROUP_CODES = ("G1", "G2", "G3a", "G3b", "G4", "G5")
REFRESH_SECONDS = 0.5


class LiveScores(Protocol):
    """What the demo needs from the live scoring: catch up with the ledger, rank provinces."""

    def catch_up(self) -> int: ...

    def ranking(self, period: str, as_of: datetime) -> list[UnitScore]: ...

    def close(self) -> None: ...


class EngineScores:
    """Live scores in memory: folds the ledger's new events into a ScoringEngine."""

    def __init__(self, ledger: DossierLedger, engine: ScoringEngine | None = None) -> None:
        self.ledger = ledger
        self.engine = engine or ScoringEngine()
        self.position = 0

    def catch_up(self) -> int:
        folded = 0
        for envelope in self.ledger.read_envelopes(self.position + 1):
            self.engine.apply(envelope)
            self.position = envelope["position"]
            folded += 1
        self.position = max(self.position, self.ledger.max_position())
        self.engine.flush()
        return folded

    def ranking(self, period: str, as_of: datetime) -> list[UnitScore]:
        return self.engine.rank("province", period, as_of)

    def close(self) -> None:
        pass


class FollowerScores:
    """Live scores written to ClickHouse: the runner's cycles run between the simulator's
    batches (one process owns the chDB directory), and the table reads the runner's engine,
    whose rows are the ones written."""

    def __init__(self, follower: Follower, close_client: Callable[[], None],
                 lock: threading.RLock | None = None) -> None:
        self.follower = follower
        self._close_client = close_client
        # held by every cycle; the live page's reads of ClickHouse hold it too
        self.lock = lock or threading.RLock()
        with self.lock:
            follower.resume()

    def catch_up(self) -> int:
        covered = 0
        with self.lock:
            while (step := self.follower.step()) > 0:
                covered += step
        return covered

    def ranking(self, period: str, as_of: datetime) -> list[UnitScore]:
        with self.lock:
            return self.follower.projector.engine.rank("province", period, as_of)

    def close(self) -> None:
        try:
            with self.lock:
                self.follower.refresh()
        finally:
            self._close_client()


@dataclass
class DemoState:
    """What the live table shows, refreshed as events arrive."""

    period: str = ""
    sim_time: datetime | None = None
    events: int = 0
    dossiers: int = 0
    ranking: list[UnitScore] = field(default_factory=list)
    previous_ranks: dict[str, int] = field(default_factory=dict)

    def update(self, ranking: list[UnitScore]) -> None:
        if self.ranking:
            self.previous_ranks = {s.unit: s.rank or 0 for s in self.ranking}
        self.ranking = ranking


def run_demo(
    simulation: Simulation,
    scores: LiveScores,
    *,
    speed: float | None,
    on_refresh: Callable[[DemoState], None],
    idle_gap: timedelta | None = None,
) -> DemoState:
    """Run the simulation paced, fold what it writes, and refresh the ranking on a timer."""
    state = DemoState()
    scores.catch_up()
    last_refresh = 0.0
    report: BatchReport | None = None
    for report in simulation.iter_run(speed=speed, idle_gap=idle_gap):
        state.events += len(report.recorded)
        state.dossiers = report.stats.dossiers
        state.sim_time = report.sim_time
        if time.monotonic() - last_refresh >= REFRESH_SECONDS:
            _refresh(state, scores, report.sim_time)
            on_refresh(state)
            last_refresh = time.monotonic()
    final_time = report.sim_time if report is not None else simulation.end
    state.sim_time = final_time
    _refresh(state, scores, final_time)
    on_refresh(state)
    return state


def _refresh(state: DemoState, scores: LiveScores, sim_time: datetime) -> None:
    scores.catch_up()
    period = period_of_kind("month", to_instant(sim_time)).key
    state.period = period
    state.update(scores.ranking(period, sim_time))


def ranking_table(state: DemoState, top: int | None = None, dossier: str = "dossier") -> Group:
    """The live ranking: rank, province, total, band, the six groups, and movement (the
    ``top`` rows only, when given), with the groups' legend."""
    when = state.sim_time.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M %z") \
        if state.sim_time else "—"
    shown = state.ranking if top is None else state.ranking[:top]
    more = len(state.ranking) - len(shown)
    table = Table(title="Bảng xếp hạng chỉ số phục vụ người dân, doanh nghiệp\n"
                  f"kỳ {state.period} · tính đến {when}",
                  caption=f"{state.events:,} sự kiện ghi sổ"
                  + (f" · {more} tỉnh khác: {dossier} live-rank -p {state.period}" if more
                     else ""),
                  expand=False, box=box.SIMPLE_HEAD, padding=(0, 0), show_edge=False)
    # 76 columns wide: it fits an 80-column terminal with no column squeezed to nothing.
    table.add_column("Hạng", justify="right", no_wrap=True, min_width=4)
    table.add_column("", justify="center", no_wrap=True)
    table.add_column("Tỉnh, thành phố", no_wrap=True, max_width=16, overflow="ellipsis")
    table.add_column("Tổng", justify="right", no_wrap=True, min_width=6)
    table.add_column("Xếp loại", no_wrap=True, min_width=10)
    for code in GROUP_CODES:
        table.add_column(code, justify="right", no_wrap=True, min_width=5)
    for score in shown:
        groups = {g.code: g.points for g in score.groups}
        table.add_row(str(score.rank), _movement(state, score), _short_name(score.unit_name),
                      f"{score.rounded_total:.2f}", _band(score.band),
                      *(f"{groups.get(code, 0.0):.2f}" for code in GROUP_CODES))
    return Group(table, Text(LEGEND, style="dim"))


LEGEND = ("G1 Công khai, minh bạch · G2 Tiến độ giải quyết · G3a Dịch vụ công trực tuyến\n"
          "G3b Thanh toán trực tuyến · G4 Số hóa hồ sơ · G5 Mức độ hài lòng")


def _short_name(name: str) -> str:
    return name.replace("Thành phố ", "TP ")


def _movement(state: DemoState, score: UnitScore) -> Text:
    before = state.previous_ranks.get(score.unit)
    if before is None or score.rank is None or before == score.rank:
        return Text("•", style="dim")
    if score.rank < before:
        return Text("▲", style="green")
    return Text("▼", style="red")


def _band(band: str) -> Text:
    style = {"Xuất sắc": "bold green", "Tốt": "green", "Khá": "yellow",
             "Trung bình": "orange3", "Yếu": "red"}.get(band, "")
    return Text(band, style=style)


def ranking_json(state: DemoState) -> list[dict[str, Any]]:
    return [score.to_json() for score in state.ranking]
