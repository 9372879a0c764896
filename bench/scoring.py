"""Scoring throughput against the raw rate of decoding the same events, measured in one run.

Run: ``python bench/scoring.py [--dossiers N] [--batch N]``. Prints a small table; no asserts.
"""

from __future__ import annotations

import argparse
import gc
import time
from datetime import timedelta
from typing import Any

import orjson

from projections.engine import ScoringEngine
from projections.periods import parse_period, to_datetime
from projections.synthetic import random_history


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=24_000)
    parser.add_argument("--petitions", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=2_000, help="events between flushes")
    parser.add_argument("--seed", type=int, default=766)
    args = parser.parse_args()

    events = random_history(args.seed, args.dossiers, start="2026-01-05T08:00", departments=6,
                            communes=30, procedures=60, petitions=args.petitions)
    lines = [orjson.dumps(e) for e in events]
    n = len(lines)
    del events
    gc.collect()
    gc.disable()  # the same for both sides: cyclic GC pauses would otherwise dominate both

    started = time.perf_counter()
    decoded = [orjson.loads(line) for line in lines]
    decode_s = time.perf_counter() - started

    engine = ScoringEngine()
    started = time.perf_counter()
    for envelope in decoded:
        engine.apply(envelope)
    fold_s = time.perf_counter() - started
    started = time.perf_counter()
    engine.flush()
    counters_s = time.perf_counter() - started

    engine = ScoringEngine()
    scored = 0
    started = time.perf_counter()
    for offset in range(0, n, args.batch):
        for envelope in decoded[offset:offset + args.batch]:
            engine.apply(envelope)
        scored += _score_touched(engine, engine.flush())
    live_s = time.perf_counter() - started

    decode_rate = _rate(n, decode_s)
    rows: list[tuple[str, Any, str]] = [
        ("events", n, ""),
        ("orjson.loads (baseline)", f"{decode_rate:,.0f} ev/s", "1.00"),
        ("fold into facts", f"{_rate(n, fold_s):,.0f} ev/s",
         f"{_rate(n, fold_s) / decode_rate:.2f}"),
        ("fold + counters (one flush)", f"{_rate(n, fold_s + counters_s):,.0f} ev/s",
         f"{_rate(n, fold_s + counters_s) / decode_rate:.2f}"),
        (f"live: fold + counters + scores (flush every {args.batch})",
         f"{_rate(n, live_s):,.0f} ev/s", f"{_rate(n, live_s) / decode_rate:.2f}"),
        ("unit scores recomputed (live)", scored, ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>18}  ratio to decode")
    for name, value, ratio in rows:
        print(f"{name:<{width}}  {value!s:>18}  {ratio}")


def _score_touched(engine: ScoringEngine, touched: set[tuple[str, str]]) -> int:
    """Recompute, as the live runner does, the touched units' scores of the current month."""
    now = engine.facts.watermark
    if not now:
        return 0
    as_of = to_datetime(now) + timedelta(seconds=1)
    month = parse_period(to_datetime(now).strftime("%Y-%m"))
    units = {unit for unit, key in touched if key == month.key}
    for unit in units:
        engine.score(unit, month, as_of, ranked=False)
    return len(units)


if __name__ == "__main__":
    main()
