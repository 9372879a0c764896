"""Live analytics bench: rebuild throughput, event-to-score freshness, 10M-fact ranking query.

    python -m bench.live [--rebuild-scale 0.1] [--days 7] [--scale 0.02] [--rate 1000]
                         [--seconds 20] [--facts 10e6] [--skip abc]

(a) rebuild: ``streams.rebuild.replay`` of a simulated ledger into chDB, in events/s, beside
    ``for e in ledger.read_envelopes(): pass`` on the same log just before it (goal ≥ 0.3);
    the median of ``--repeat`` such pairs (the machine's speed drifts);
(b) freshness: a writer process (as one-stop systems are) appends simulated events with
    ``record_many`` at ``--rate`` events/s to the same SQLite ledger while a ``Follower`` polls
    in this process; for every event, the time from its append to the commit of the cycle that
    wrote its scores (p50, p99; goal p99 < 1 s);
(c) a ranking query over ``--facts`` dossier facts generated inside chDB with
    ``INSERT … SELECT FROM numbers()`` (median of runs; goal < 100 ms), as loaded, merged, and
    with FINAL beside a live tail of superseding inserts.
Prints figures and ratios; no asserts.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Empty
from typing import Any

from app.simulator.runner import Simulation
from ledger.application import DossierLedger
from ledger.config import StoreConfig
from projections.clickhouse import schema
from projections.clickhouse.writer import ClickHouseWriter, open_client
from streams.follower import Cycle, Follower
from streams.rebuild import replay

KEY = b"bench-key"


def ledger_at(path: Path) -> DossierLedger:
    return DossierLedger(StoreConfig("sqlite", sqlite_path=path))


def rebuild(root: Path, client: Any, scale: float, days: float, repeat: int) -> None:
    """``repeat`` pairs of (read and decode the log, replay it); the ratio of each pair is
    taken back to back, so that the shared machine's drifting speed affects both sides alike,
    and the median pair is shown."""
    ledger = ledger_at(root / "rebuild.sqlite")
    Simulation(ledger, seed=1, days=days, scale=scale, provinces=["22", "01"]).run()
    sum(1 for _ in ledger.read_envelopes())  # warm: the replay reads a warm file too
    pairs = []
    for _ in range(repeat):
        began = time.perf_counter()
        count = sum(1 for _ in ledger.read_envelopes())
        read_rate = count / (time.perf_counter() - began)
        result = replay(ledger, client, pseudonym_key=KEY)
        rate = result.events / result.seconds
        pairs.append((rate / read_rate, rate, read_rate, result))
    pairs.sort(key=lambda pair: pair[0])
    ratio, rate, read_rate, result = pairs[len(pairs) // 2]
    print(f"(a) rebuild: {result.events:,} events, {result.scores:,} scores, "
          f"{result.rows:,} rows in {result.seconds:.2f} s = {rate:,.0f} events/s; "
          f"read+decode alone {read_rate:,.0f} events/s; ratio {ratio:.2f} (goal ≥ 0.3; "
          f"median of {repeat} pairs: " + ", ".join(f"{p[0]:.2f}" for p in pairs) + ")")
    print("    where the time went: " + ", ".join(
        f"{stage} {seconds:.2f} s" for stage, seconds in result.stages.items()))
    ledger.close()


def freshness(root: Path, client: Any, rate: float, seconds: float, scale: float,
              provinces: list[str] | None) -> None:
    for table in schema.TABLES:
        client.command(f"DROP TABLE IF EXISTS {table.name}")
    path = root / "fresh.sqlite"
    ledger = ledger_at(path)
    start = datetime.now(UTC) - timedelta(days=15)
    # Warm-up, not measured: the catalogue (units, procedures) and a first day of dossiers.
    Simulation(ledger, seed=2, days=1, scale=scale * 4, provinces=provinces,
               start=start, end_at_now=False).run()
    follower = Follower(ledger, ClickHouseWriter(client), pseudonym_key=KEY,
                        poll_seconds=0.02, refresh_seconds=3600)
    follower.resume()
    while follower.step():
        pass
    # The one-stop systems are other processes: a writer process appends at `rate`.
    context = multiprocessing.get_context("spawn")
    queue: Any = context.Queue()
    writer = context.Process(target=append_at_rate,
                             args=(path, rate, int(rate * seconds), scale, provinces, queue))
    appended: dict[int, float] = {}
    committed: list[tuple[int, float]] = []
    cycles: list[Cycle] = []

    def on_cycle(cycle: Cycle) -> None:
        committed.append((cycle.position, cycle.committed))
        cycles.append(cycle)

    follower.on_cycle = on_cycle
    writer.start()
    finished = False
    while not finished or follower.position < ledger.max_position():
        finished = drain(queue, appended) or finished
        if not follower.step():
            time.sleep(follower.poll_seconds)
    writer.join()
    latencies = []
    cycle_index = 0
    for position in sorted(appended):
        while committed[cycle_index][0] < position:
            cycle_index += 1
        latencies.append(committed[cycle_index][1] - appended[position])
    achieved = len(appended) / (max(appended.values()) - min(appended.values()) or 1)
    q = statistics.quantiles(latencies, n=100)
    print(f"(b) freshness at {achieved:,.0f} events/s appended by another process "
          f"({len(appended):,} events, {len(cycles)} cycles, mean cycle "
          f"{statistics.mean(c.seconds for c in cycles):.3f} s): p50 {q[49] * 1000:.0f} ms, "
          f"p99 {q[98] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
          "(goal p99 < 1000 ms at 1,000 events/s)")
    ledger.close()


def drain(queue: Any, appended: dict[int, float]) -> bool:
    """Take what the appender reported so far into ``appended`` (position → time); whether
    it said it has finished."""
    finished = False
    while True:
        try:
            item = queue.get_nowait()
        except Empty:
            return finished
        if item is None:
            finished = True
        else:
            appended.update(item)


def append_at_rate(path: Path, rate: float, total: int, scale: float,
                   provinces: list[str] | None, queue: Any, seed: int = 3) -> None:
    """The writer process: continue the simulation, appending about ``rate`` events/s, and
    report (position, monotonic time of the append) — CLOCK_MONOTONIC is system-wide (a
    second window on the same ledger takes another ``seed``: other dossiers)."""
    ledger = ledger_at(path)
    simulation = Simulation(ledger, seed=seed, days=13, scale=scale * 4, batch_size=25,
                            provinces=provinces, end_at_now=True)
    began = time.monotonic()
    written = 0
    for report in simulation.iter_run():
        now = time.monotonic()
        queue.put([(r.position, now) for r in report.recorded if r.position is not None])
        written += len(report.recorded)
        if written >= total:
            break
        delay = began + written / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    queue.put(None)
    ledger.close()


FACT_COLUMNS = ("dossier_id, code, procedure, unit, province, channel, received_at, due_at, "
                "status, on_time, synced, digitized, paid_online, evaluated_at, position")


def _facts_select(first: int, count: int, position: int, statuses: str) -> str:
    """Rows of dossiers ``first`` … ``first + count - 1`` across 34 provinces, as at
    ``position`` (a later position supersedes an earlier row of the same dossier)."""
    return f"""
        SELECT toString(number), concat('HS', toString(number)),
               concat('P', toString(number % 400)),
               concat(leftPad(toString(number % 34 + 1), 2, '0'), '.U', toString(number % 50)),
               leftPad(toString(number % 34 + 1), 2, '0'),
               ['direct', 'online', 'postal'][number % 3 + 1],
               now64(6) - toIntervalSecond(number % 2592000), now64(6), {statuses},
               number % 13 != 0, number % 5 != 0, number % 7 = 0, now64(6), {position} + number
        FROM numbers({first}, {count})"""


def ranking_query(client: Any, facts: int, runs: int = 9, updates: int = 20) -> None:
    """The ranking over ``facts`` facts as loaded (the goal), once the parts are merged, and
    with a live tail: ``updates`` small inserts superseding rows, as the runner writes them."""
    table = f"{schema.DOSSIER_FACTS}_bench"
    client.command(f"DROP TABLE IF EXISTS {table}")
    client.command(schema.DOSSIER_FACTS_TABLE.ddl("_bench"))
    began = time.perf_counter()
    client.command(f"INSERT INTO {table} ({FACT_COLUMNS}) " + _facts_select(
        0, facts, 0, "if(number % 11 = 0, 'late', 'on_time'), number % 11 != 0"))
    load = time.perf_counter() - began
    query = f"""
        SELECT province, count() AS dossiers,
               20 * avg(on_time) + 6 * avg(synced) + 4 * avg(digitized)
                 + 6 * least(1, avg(channel = 'online') * avg(synced) / 0.5) AS points,
               rank() OVER (ORDER BY round(points, 2) DESC) AS rank
        FROM {table} GROUP BY province ORDER BY rank, province"""
    final = query.replace(f"{table} GROUP", f"{table} FINAL GROUP")

    def median_ms(sql: str) -> float:
        runs_ms = []
        for _ in range(runs):
            began = time.perf_counter()
            rows = client.query(sql).result_rows
            runs_ms.append((time.perf_counter() - began) * 1000)
            assert len(rows) == 34
        return statistics.median(runs_ms)

    def parts() -> int:
        return int(client.query("SELECT count() FROM system.parts WHERE active AND "
                                "table = {t:String}", parameters={"t": table}).result_rows[0][0])

    loaded = (parts(), median_ms(query), median_ms(final))
    client.command(f"OPTIMIZE TABLE {table} FINAL")
    merged = median_ms(query)
    step = max(1, facts // updates)
    for i in range(updates):
        client.command(f"INSERT INTO {table} ({FACT_COLUMNS}) " + _facts_select(
            i * step, min(5_000, facts), facts, "'on_time', true"))
    tail = (parts(), median_ms(query), median_ms(final))
    print(f"(c) ranking over {facts:,} dossier facts (generated in {load:.1f} s): median "
          f"{loaded[1]:.0f} ms as loaded ({loaded[0]} parts; goal < 100 ms), "
          f"{merged:.0f} ms merged into one part; with FINAL (exact while superseded rows are "
          f"not merged away yet) {loaded[2]:.0f} ms as loaded, {tail[2]:.0f} ms with a live "
          f"tail of {updates} small inserts ({tail[0]} parts; {tail[1]:.0f} ms without FINAL)")
    client.command(f"DROP TABLE IF EXISTS {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rebuild-scale", type=float, default=0.1,
                        help="(a) population scale of the simulated ledger (two provinces)")
    parser.add_argument("--days", type=float, default=7, help="(a) simulated days")
    parser.add_argument("--repeat", type=int, default=5, help="(a) pairs of read and rebuild")
    parser.add_argument("--scale", type=float, default=0.02,
                        help="(b) population scale of the appended workload")
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--provinces", default="",
                        help="(b) comma-separated province codes (default: all 34)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--facts", type=float, default=10e6)
    parser.add_argument("--skip", default="", help="parts to skip, e.g. 'c' or 'ab'")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-live-") as scratch:
        root = Path(scratch)
        client = open_client(None, root / "olap")
        if "a" not in args.skip:
            rebuild(root, client, args.rebuild_scale, args.days, args.repeat)
        if "b" not in args.skip:
            provinces = args.provinces.split(",") if args.provinces else None
            freshness(root, client, args.rate, args.seconds, args.scale, provinces)
        if "c" not in args.skip:
            ranking_query(client, int(args.facts))
        client.close()


if __name__ == "__main__":
    main()
