"""Scoring throughput beside the raw rate of reading and decoding the same events from a SQLite
ledger, measured in one run.

    python -m bench.scoring [--dossiers N] [--batch N ...] [--ledger PATH] [--gc]

The synthetic history (:func:`projections.synthetic.random_history`) is adapted to the ledger's
rules (each dossier is filed at its procedure's unit or below, refused transitions are dropped,
``seq`` renumbered), imported with :func:`ledger.transfer.import_lines`, then read back with
``DossierLedger.read_envelopes()`` (pages of 1000 rows, one ``orjson.loads`` per row):

- baseline: ``for e in ledger.read_envelopes(): pass``;
- live: the same stream fed to a :class:`ScoringEngine`, flushed every ``--batch`` events, and
  every touched (unit, period) rescored as of the watermark, as the live runner does (its
  cycles: up to 50,000 events while catching up, 5,000 when live). The first ``--batch`` is the
  scoring throughput compared with the goal (≥ 0.5 of the raw rate); finer cadences show what
  rescoring more often costs.

Prints a table of rates (best of ``--repeat`` runs) and ratios to the baseline: each run of a
path is paired with a baseline run just before it, and the ratio shown is the median of the
pairs' ratios (the cores are shared: the machine's speed drifts between runs minutes apart).
Also where the live path spends its time per event; no asserts.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from ledger.application import DossierLedger
from ledger.config import StoreConfig
from ledger.errors import LedgerRuleError
from ledger.transfer import import_lines
from projections.engine import ScoringEngine
from projections.periods import to_datetime
from projections.synthetic import random_history


def ledger_lines(seed: int, dossiers: int, petitions: int) -> list[bytes]:
    """The synthetic history as wire lines a fresh ledger accepts."""
    events = random_history(seed, dossiers, start="2026-01-05T08:00", departments=6,
                            communes=30, procedures=60, petitions=petitions)
    scratch = DossierLedger(StoreConfig("memory"))
    work = scratch.unit_of_work(assume_empty=True)
    procedure_unit: dict[str, str] = {}
    seq: dict[tuple[str, str], int] = {}
    lines: list[bytes] = []
    for event in events:
        wire = {k: v for k, v in event.items() if k != "position"}
        if wire["type"] == "procedure.registered":
            procedure_unit[wire["id"]] = wire["data"]["unit"]
        elif wire["type"] == "dossier.submitted":
            unit = procedure_unit[wire["data"]["procedure"]]
            if "." in unit:  # a department's procedure: file it there (communes sit under "22")
                wire["data"] = {**wire["data"], "unit": unit}
        key = (wire["stream"], wire["id"])
        wire["seq"] = seq.get(key, 0) + 1
        try:
            work.apply(wire, require_seq=True)
        except LedgerRuleError:
            continue  # the generator's lives are looser than the ledger's lifecycle
        seq[key] = wire["seq"]
        lines.append(orjson.dumps(wire))
    scratch.close()
    return lines


def open_ledger(path: Path | None, args: argparse.Namespace) -> tuple[DossierLedger, int]:
    """A SQLite ledger holding the history (reused when ``path`` already holds one)."""
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="bench-scoring-")) / "ledger.sqlite"
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=path))
    if ledger.max_position() == 0:
        import_lines(ledger, ledger_lines(args.seed, args.dossiers, args.petitions))
    return ledger, sum(1 for _ in ledger.read_envelopes())


def read_only(ledger: DossierLedger) -> int:
    n = 0
    for _ in ledger.read_envelopes():
        n += 1
    return n


def fold_only(ledger: DossierLedger) -> int:
    engine = ScoringEngine()
    for envelope in ledger.read_envelopes():
        engine.apply(envelope)
    return 0


def fold_and_count(ledger: DossierLedger) -> int:
    engine = ScoringEngine()
    for envelope in ledger.read_envelopes():
        engine.apply(envelope)
    engine.flush()
    return 0


def live(batch: int) -> Callable[[DossierLedger], int]:
    """Fold, flush every ``batch`` events and rescore every touched (unit, period)."""

    def run(ledger: DossierLedger) -> int:
        engine = ScoringEngine()
        scored = pending = 0
        for envelope in ledger.read_envelopes():
            engine.apply(envelope)
            pending += 1
            if pending == batch:
                scored += rescore(engine, engine.flush())
                pending = 0
        return scored + rescore(engine, engine.flush())

    return run


def phases(ledger: DossierLedger, batch: int, repeat: int) -> tuple[float, float, float]:
    """Microseconds per event spent folding, flushing and rescoring at a flush cadence (best
    of ``repeat``; the events are read beforehand, so reading is not in any phase)."""
    envelopes = list(ledger.read_envelopes())
    best = (float("inf"),) * 3
    for _ in range(repeat):
        gc.collect()
        engine = ScoringEngine()
        spent = [0.0, 0.0, 0.0]
        for start in range(0, len(envelopes), batch):
            began = time.perf_counter()
            for envelope in envelopes[start:start + batch]:
                engine.apply(envelope)
            folded = time.perf_counter()
            touched = engine.flush()
            flushed = time.perf_counter()
            rescore(engine, touched)
            spent[0] += folded - began
            spent[1] += flushed - folded
            spent[2] += time.perf_counter() - flushed
        best = (min(best[0], spent[0]), min(best[1], spent[1]), min(best[2], spent[2]))
    return (best[0] * 1e6 / len(envelopes), best[1] * 1e6 / len(envelopes),
            best[2] * 1e6 / len(envelopes))


def rescore(engine: ScoringEngine, touched: set[tuple[str, str]]) -> int:
    """The touched keys' scores as of just after the watermark (unranked, as the runner writes
    them; ranks are computed at read time)."""
    if not touched or not engine.facts.watermark:
        return 0
    as_of = to_datetime(engine.facts.watermark) + timedelta(seconds=1)
    engine.score_many(touched, as_of)
    return len(touched)


def timed(work: Callable[[DossierLedger], int], ledger: DossierLedger) -> tuple[float, int]:
    gc.collect()
    started = time.perf_counter()
    result = work(ledger)
    return time.perf_counter() - started, result


def paired(repeat: int, work: Callable[[DossierLedger], int],
           ledger: DossierLedger) -> tuple[float, float, int]:
    """(median ratio, best seconds, result): ``repeat`` times, the baseline read then the work,
    back to back; each ratio is baseline time / work time of one pair, so that a machine
    whose speed drifts (shared cores) affects both sides of a ratio alike."""
    ratios: list[float] = []
    best = float("inf")
    result = 0
    for _ in range(repeat):
        base_s, _ = timed(read_only, ledger)
        seconds, result = timed(work, ledger)
        ratios.append(base_s / seconds)
        best = min(best, seconds)
    return statistics.median(ratios), best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=24_000)
    parser.add_argument("--petitions", type=int, default=2_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[50_000, 5_000, 1_000],
                        help="events between flushes, one live row per value (the runner's: "
                             "50,000 while catching up, 5,000 when live); the first value is "
                             "the throughput compared with the goal")
    parser.add_argument("--seed", type=int, default=766)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ledger", type=Path, help="SQLite file to build once and reuse")
    parser.add_argument("--gc", action="store_true",
                        help="leave the cyclic GC on (both sides); default: off for both")
    args = parser.parse_args()

    ledger, n = open_ledger(args.ledger, args)
    if not args.gc:
        gc.disable()
    base_s = min(timed(read_only, ledger)[0] for _ in range(args.repeat))
    base = n / base_s
    rows: list[tuple[str, str, str]] = [
        ("events", f"{n:,}", ""),
        ("read_envelopes() (baseline, best)", f"{base:,.0f} ev/s", "1.00")]

    def row(name: str, work: Callable[[DossierLedger], int]) -> tuple[float, int]:
        ratio, seconds, result = paired(args.repeat, work, ledger)
        rows.append((name, f"{n / seconds:,.0f} ev/s", f"{ratio:.2f}"))
        return ratio, result

    row("read + fold into facts", fold_only)
    row("read + fold + counters (one flush)", fold_and_count)
    scored: list[tuple[int, int]] = []
    throughput = 0.0
    for batch in args.batch:
        ratio, keys = row(f"live: read + fold + flush/{batch:,} + rescore", live(batch))
        scored.append((batch, keys))
        if batch == args.batch[0]:
            throughput = ratio
    for batch, keys in scored:
        rows.append((f"(unit, period) scores recomputed, flush/{batch:,}", f"{keys:,}", ""))
    fold_us, flush_us, rescore_us = phases(ledger, args.batch[0], args.repeat)
    rows.append((f"per event at flush/{args.batch[0]:,}: fold / flush / rescore",
                 f"{fold_us:.1f} / {flush_us:.1f} / {rescore_us:.1f} µs",
                 f"(read+decode {1e6 / base:.1f} µs)"))
    ledger.close()
    _print(rows)
    print(f"\nscoring throughput (flush/{args.batch[0]:,} + rescore of the touched units): "
          f"{throughput:.2f} of the read-and-decode rate (goal ≥ 0.5); counters: "
          f"{'compiled' if ScoringEngine().compiled else 'pure Python'}")


def _print(rows: list[tuple[str, Any, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value (best)':>16}  ratio to read_envelopes() "
          "(median of paired runs)")
    for name, value, ratio in rows:
        print(f"{name:<{width}}  {value!s:>16}  {ratio}")


if __name__ == "__main__":
    main()
