"""The accelerated clock: paced by --speed, never ahead of the real clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.simulator.pacing import Pacer

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_an_hour_of_simulated_time_takes_a_second_at_speed_3600() -> None:
    clock = FakeClock(T0)
    pacer = Pacer(T0 - timedelta(days=7), speed=3600, clock=clock, sleep=clock.sleep)
    pacer.wait_for(T0 - timedelta(days=7) + timedelta(hours=1))
    assert clock.slept == [1.0]


def test_without_speed_the_past_is_written_at_once() -> None:
    clock = FakeClock(T0)
    pacer = Pacer(T0 - timedelta(days=7), clock=clock, sleep=clock.sleep)
    assert pacer.wait_for(T0 - timedelta(hours=1)) == 0.0
    assert clock.slept == []


def test_the_simulated_clock_never_passes_the_real_clock() -> None:
    clock = FakeClock(T0)
    pacer = Pacer(T0 - timedelta(minutes=1), speed=1_000_000, clock=clock, sleep=clock.sleep)
    pacer.wait_for(T0 + timedelta(minutes=10))
    assert clock.now == T0 + timedelta(minutes=10)
    assert pacer.simulated_now() <= clock.now


def test_a_quiet_weekend_is_paced_as_a_short_gap() -> None:
    clock = FakeClock(T0)
    friday = T0 - timedelta(days=7)
    pacer = Pacer(friday, speed=3600, clock=clock, sleep=clock.sleep,
                  idle_gap=timedelta(hours=2))
    pacer.wait_for(friday + timedelta(hours=1))
    monday = friday + timedelta(days=3)
    pacer.wait_for(monday)
    pacer.wait_for(monday + timedelta(hours=1))
    # an hour, then the weekend as two hours, then an hour
    assert round(sum(clock.slept), 3) == 1.0 + 2.0 + 1.0
