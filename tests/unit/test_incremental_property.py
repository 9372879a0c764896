"""Property: incremental counters after every event equal scores recomputed from scratch."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from projections.engine import ScoringEngine
from projections.periods import parse_period, to_datetime, to_instant
from projections.recompute import facts_as_of, recompute_counts
from projections.rulebook import load_rulebook
from projections.synthetic import Envelope, random_history

pytestmark = pytest.mark.usefixtures("compiled_or_python")
# compiled_or_python only sets the implementation for the whole test: no per-example state
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]

UNITS = ("22", "22.S0", "22.S1")
PERIODS = ("2026-09", "2026-10", "2026-Q4", "2026-11", "2026")
RULEBOOKS = ("vn-766", "vn-766-online12")


def _scratch(events: list[Envelope], unit: str, period: str, as_of: datetime,
             rulebook: str) -> dict[str, tuple[int, int]]:
    p = parse_period(period)
    t = p.evaluation_time(to_instant(as_of))
    counts = recompute_counts(facts_as_of(events, t), unit, p, t, load_rulebook(rulebook))
    return {k: v for k, v in counts.items() if v != (0, 0)}


def _live(engine: ScoringEngine, unit: str, period: str, as_of: datetime,
          rulebook: str) -> dict[str, tuple[int, int]]:
    return {k: v for k, v in engine.counts(unit, period, as_of, rulebook).items() if v != (0, 0)}


@settings(max_examples=12, deadline=None, suppress_health_check=SUPPRESSED)
@given(seed=st.integers(0, 10_000), dossiers=st.integers(1, 14), petitions=st.integers(0, 4))
def test_incremental_counts_equal_recomputed_after_every_event(
    seed: int, dossiers: int, petitions: int
) -> None:
    events = random_history(seed, dossiers, petitions=petitions, departments=2, communes=1,
                            procedures=3)
    engine = ScoringEngine([load_rulebook(r) for r in RULEBOOKS])
    rng = random.Random(seed)
    for i, event in enumerate(events):
        engine.apply(event)
        engine.flush()
        if i < 8 and i != len(events) - 1:
            continue
        now = to_datetime(engine.facts.watermark)
        for rulebook in RULEBOOKS:
            unit, period = rng.choice(UNITS), rng.choice(PERIODS)
            for as_of in (now, now + timedelta(days=rng.randint(0, 40))):
                assert _live(engine, unit, period, as_of, rulebook) == _scratch(
                    events[: i + 1], unit, period, as_of, rulebook), (i, unit, period, as_of)


@settings(max_examples=10, deadline=None, suppress_health_check=SUPPRESSED)
@given(seed=st.integers(0, 10_000), dossiers=st.integers(1, 20), petitions=st.integers(0, 5),
       days_back=st.integers(0, 50))
def test_past_as_of_inside_a_period_matches_recomputation(
    seed: int, dossiers: int, petitions: int, days_back: int
) -> None:
    events = random_history(seed, dossiers, petitions=petitions, departments=2, communes=1)
    engine = ScoringEngine()
    engine.apply_all(events)
    as_of = to_datetime(engine.facts.watermark) - timedelta(days=days_back)
    for unit in UNITS:
        for period in PERIODS:
            t = parse_period(period).evaluation_time(to_instant(as_of))
            if not engine.facts.unit_exists_at(unit, t):
                continue  # registered after t: the recomputation has no such unit
            assert _live(engine, unit, period, as_of, "vn-766") == _scratch(
                events, unit, period, as_of, "vn-766")


@settings(max_examples=10, deadline=None, suppress_health_check=SUPPRESSED)
@given(seed=st.integers(0, 10_000), dossiers=st.integers(2, 20), petitions=st.integers(0, 5),
       shuffle_seed=st.integers(0, 1000))
@example(seed=0, dossiers=2, petitions=1, shuffle_seed=0)  # a petition folded before its dossier
def test_order_of_independent_aggregates_does_not_change_scores(
    seed: int, dossiers: int, petitions: int, shuffle_seed: int
) -> None:
    events = random_history(seed, dossiers, petitions=petitions, departments=2, communes=1)
    head = [e for e in events if e["stream"] in ("unit", "procedure")]
    streams: dict[str, list[Envelope]] = {}
    for event in events:
        if event["stream"] not in ("unit", "procedure"):
            streams.setdefault(f'{event["stream"]}/{event["id"]}', []).append(event)
    # Interleave the aggregates at random, keeping each aggregate's own order.
    rng = random.Random(shuffle_seed)
    queues = list(streams.values())
    shuffled: list[Envelope] = []
    while queues:
        queue = rng.choice(queues)
        shuffled.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    as_of = datetime.fromisoformat("2027-03-01T00:00:00+07:00")
    ordered, mixed = ScoringEngine(), ScoringEngine()
    ordered.apply_all(events)
    mixed.apply_all(head + shuffled)
    for unit in UNITS:
        for period in PERIODS:
            a = ordered.score(unit, period, as_of)
            b = mixed.score(unit, period, as_of)
            assert a.to_json() == b.to_json()


@settings(max_examples=10, deadline=None, suppress_health_check=SUPPRESSED)
@given(seed=st.integers(0, 10_000), dossiers=st.integers(1, 10),
       steps=st.lists(st.integers(0, 20), min_size=1, max_size=4))
def test_catalogue_counts_kept_between_queries_equal_recomputed(
    seed: int, dossiers: int, steps: list[int]
) -> None:
    """Catalogue counts are kept from one query to the next while nothing relevant changes:
    asked again after every event, and at later and later times (publications awaited turn
    late with no event), they equal a recomputation."""
    events = random_history(seed, dossiers, departments=2, communes=1, procedures=8)
    engine = ScoringEngine()
    for i, event in enumerate(events):
        engine.apply(event)
        now = to_datetime(engine.facts.watermark)
        period = rng_period(seed + i, now)
        as_of = now
        for days in steps:
            as_of += timedelta(days=days)
            t = parse_period(period).evaluation_time(to_instant(as_of))
            for unit in ("22", "22.S1"):
                if not engine.facts.unit_exists_at(unit, t):
                    continue  # not registered yet
                assert _live(engine, unit, period, as_of, "vn-766") == _scratch(
                    events[: i + 1], unit, period, as_of, "vn-766"), (i, unit, period, as_of)


def rng_period(seed: int, moment: datetime) -> str:
    """The month, quarter or year containing ``moment``, chosen by ``seed``."""
    month, quarter, year = (moment.strftime("%Y-%m"), f"{moment.year}-Q{(moment.month + 2) // 3}",
                            str(moment.year))
    return (month, quarter, year)[seed % 3]
