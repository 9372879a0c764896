"""Scale bench: what each cost of the live path becomes as the ledger grows.

    python -m bench.scale [--sizes 0.5e6,2.5e6] [--cache DIR] [--rate 1000] [--seconds 20]
                          [--skip verify,rank]

For each size, a ledger of about that many events simulated over all 34 provinces (built
once, kept under ``--cache``, default ``~/.cache/dossier-bench``), copied into a scratch data
directory, then, each in a process of its own (peak RSS is the process's own):

- read: every envelope read and decoded (the baseline every time is divided by);
- catch-up: ``follow --once`` from nothing (fold, score, write every row; a snapshot on stop);
- restart: a few events appended, then a new runner: the time to the commit of the cycle
  holding the first new event (it resumes from the snapshot and folds the tail);
- live: events appended by another process at ``--rate`` for ``--seconds`` while the runner
  follows: freshness p50/p99 (append to the commit of the cycle that wrote its scores), the
  runner's cycles (the fewer, the more changes each coalesces: a loaded machine writes fewer
  rows), the ``rankings_current`` rows written per appended event and
  ``score_history`` rows written per appended event, over the whole window and without the
  first score of each unit in each period new to the window (the appender's clock runs 13
  simulated days in the window, so it opens a month the catch-up never scored: in real time
  a month opens once a month);
- replay: ``dossier replay`` into empty tables;
- verify: ``dossier verify --scores`` on the runner's tables (its second process's peak RSS
  beside its own);
- rank: ``dossier rank`` of the provinces and of every commune (the command line as users
  run it).

Prints a table per size (seconds, ratio to the read baseline, peak RSS) and the goals of
issue 15 beside the figures; no asserts.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

KEY = b"bench-key"
START = datetime(2026, 9, 1, 8, tzinfo=timezone(timedelta(hours=7)))
SCALE = 0.2  # all 34 provinces: about 270,000 events a simulated working day
ROOT = Path(__file__).resolve().parents[1]


# -- the ledgers -------------------------------------------------------------------------
def build(path: Path, events: int) -> int:
    """A ledger of at least ``events`` events (the simulated days it takes), all provinces."""
    from app.simulator.runner import Simulation
    from ledger.application import DossierLedger
    from ledger.config import StoreConfig

    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=partial))
    simulation = Simulation(ledger, seed=1, days=366, scale=SCALE, start=START,
                            end_at_now=False)
    began, written = time.perf_counter(), 0
    for report in simulation.iter_run():
        written += len(report.recorded)
        if written and written % 100_000 < len(report.recorded):
            print(f"  building {path.name}: {written:,} events "
                  f"({written / (time.perf_counter() - began):,.0f}/s)", flush=True)
        if written >= events:
            break
    head = ledger.max_position()
    ledger.close()
    partial.replace(path)
    return head


def as_of_of(path: Path) -> datetime:
    """An hour after the ledger's last event: every score evaluated then."""
    from ledger.application import DossierLedger
    from ledger.config import StoreConfig

    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=path))
    try:
        last = list(ledger.read_envelopes(ledger.max_position()))[-1]
        return datetime.fromisoformat(last["at"]).astimezone(UTC) + timedelta(hours=1)
    finally:
        ledger.close()


# -- the measurements, each in a process of its own -------------------------------------
def worker(name: str, data: Path, as_of: str, extra: dict[str, Any]) -> dict[str, Any]:
    from ledger.application import DossierLedger
    from ledger.config import StoreConfig
    from projections.clickhouse.writer import ClickHouseWriter, open_client
    from streams.follower import Follower
    from streams.snapshots import Snapshots

    moment = datetime.fromisoformat(as_of)
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data / "ledger.sqlite"))
    began = time.perf_counter()
    out: dict[str, Any] = {}
    if name == "read":
        out["events"] = sum(1 for _ in ledger.read_envelopes())
    elif name in ("catch-up", "restart"):
        client = open_client(None, data / "olap")
        follower = Follower(ledger, ClickHouseWriter(client), pseudonym_key=KEY,
                            clock=lambda: moment, refresh_seconds=3600,
                            snapshots=Snapshots(data / "runner-state"))
        follower.resume()
        out["resume_seconds"] = time.perf_counter() - began
        out["resumed_at"] = follower.position
        out["snapshot"] = follower.resumed_from.position if follower.resumed_from else 0
        if name == "catch-up":
            follower.run(once=True)  # a snapshot on stop
        else:
            while follower.position < ledger.max_position():
                follower.step()
        client.close()
    elif name == "replay":
        from streams.rebuild import replay

        client = open_client(None, data / "olap-replay")
        replay(ledger, client, pseudonym_key=KEY, as_of=moment,
               state_dir=data / "runner-state")  # as `dossier replay` does
        client.close()
    elif name == "verify":
        from streams.verify import verify_scores

        client = open_client(None, data / "olap")
        check = verify_scores(ledger, client, pseudonym_key=KEY,
                              connect=lambda: open_client(None, data / "olap"))
        out["differences"] = len(check.differences)
        client.close()
        # the recomputing process's own peak (it ended before this line)
        out["child_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    elif name == "live":
        out |= live(ledger, data, extra)
    out["seconds"] = time.perf_counter() - began
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ledger.close()
    return out


def live(ledger: Any, data: Path, extra: dict[str, Any]) -> dict[str, Any]:
    """Freshness and score_history rows per event while another process appends."""
    from bench.live import append_at_rate, drain
    from projections.clickhouse.writer import ClickHouseWriter, open_client
    from streams.follower import Cycle, Follower
    from streams.snapshots import Snapshots

    client = open_client(None, data / "olap")
    follower = Follower(ledger, ClickHouseWriter(client), pseudonym_key=KEY,
                        poll_seconds=0.02, refresh_seconds=3600,
                        snapshots=Snapshots(data / "runner-state"))
    follower.resume()
    while follower.step():
        pass
    before = history_counts(client)
    first = ledger.max_position()
    context = multiprocessing.get_context("spawn")
    queue: Any = context.Queue()
    rate, seconds = extra["rate"], extra["seconds"]
    writer = context.Process(target=append_at_rate, args=(
        data / "ledger.sqlite", rate, int(rate * seconds), 0.02, None, queue))
    appended: dict[int, float] = {}
    committed: list[tuple[int, float]] = []
    ranked: list[int] = []

    def on_cycle(cycle: Cycle) -> None:
        committed.append((cycle.position, cycle.committed))
        ranked.append(cycle.scores)

    follower.on_cycle = on_cycle
    writer.start()
    finished = False
    while not finished or follower.position < ledger.max_position():
        finished = drain(queue, appended) or finished
        if not follower.step():
            time.sleep(follower.poll_seconds)
    writer.join()
    latencies, index = [], 0
    for position in sorted(appended):
        while committed[index][0] < position:
            index += 1
        latencies.append(committed[index][1] - appended[position])
    after = history_counts(client)
    client.close()
    q = statistics.quantiles(latencies, n=100)
    span = max(appended.values()) - min(appended.values()) or 1
    return {"appended": ledger.max_position() - first, "rate": len(appended) / span,
            "p50": q[49], "p99": q[98], "history_rows": after[0] - before[0],
            "first_scores": after[1] - before[1], "cycles": len(committed),
            "ranking_rows": sum(ranked)}


def history_counts(client: Any) -> tuple[int, int]:
    """The ``score_history`` rows, and the unit scores (rulebook, unit, period) they hold:
    the rows a window wrote, and how many of them were the first of their score."""
    found = client.query("SELECT count(), uniqExact(rulebook_id, unit, period) "
                         "FROM score_history").result_rows[0]
    return int(found[0]), int(found[1])


def measure(name: str, data: Path, as_of: str, **extra: Any) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return what it printed."""
    code = ("import json, sys; from pathlib import Path; from bench.scale import worker; "
            "print('RESULT ' + json.dumps(worker(sys.argv[1], Path(sys.argv[2]), sys.argv[3], "
            "json.loads(sys.argv[4]))))")
    result = subprocess.run([sys.executable, "-c", code, name, str(data), as_of,
                             json.dumps(extra)], capture_output=True, text=True, cwd=ROOT,
                            env=os.environ | {"PYTHONPATH": str(ROOT)})
    for line in result.stdout.splitlines():
        if line.startswith("RESULT "):
            found: dict[str, Any] = json.loads(line[7:])
            return found
    raise RuntimeError(f"{name} failed:\n{result.stderr[-3000:]}")


def command(data: Path, *args: str) -> dict[str, Any]:
    """A ``dossier`` command as users run it: seconds and the peak RSS of its process."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        child = subprocess.Popen([str(Path(sys.executable).with_name("dossier")), *args],
                                 stdout=out, stderr=err, cwd=ROOT,
                                 env=os.environ | {"DOSSIER_DATA_DIR": str(data),
                                                   "DOSSIER_STORE": "sqlite",
                                                   "DOSSIER_PSEUDONYM_KEY": KEY.decode()})
        _, status, usage = os.wait4(child.pid, 0)  # its own rusage: peak RSS
        seconds = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise RuntimeError(f"dossier {' '.join(args)}: {err.read()[-2000:].decode()}")
        lines = len(out.read().splitlines())
    return {"seconds": seconds, "rss_mb": usage.ru_maxrss / 1024, "lines": lines}


def append_few(data: Path, count: int = 50) -> int:
    """A few more events (the workload continues): the tail a restart folds."""
    from app.simulator.runner import Simulation
    from ledger.application import DossierLedger
    from ledger.config import StoreConfig

    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data / "ledger.sqlite"))
    simulation = Simulation(ledger, seed=1, days=1, scale=SCALE, batch_size=count,
                            end_at_now=False)  # the same estate: dossiers, no new units
    for _ in simulation.iter_run():
        break
    head = ledger.max_position()
    ledger.close()
    return head


# -- the run ------------------------------------------------------------------------------
def run_size(size: int, cache: Path, scratch: Path, args: argparse.Namespace
             ) -> dict[str, Any]:
    cached = cache / f"ledger-{size}.sqlite"
    if not cached.exists():
        print(f"building a ledger of {size:,} events (all 34 provinces) into {cached}",
              flush=True)
        build(cached, size)
    data = scratch / f"data-{size}"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    shutil.copyfile(cached, data / "ledger.sqlite")
    as_of = as_of_of(data / "ledger.sqlite").isoformat()
    skip = set(args.skip.split(",")) if args.skip else set()
    period = as_of[:7]
    found: dict[str, Any] = {}

    def step(name: str, work: Any) -> None:
        print(f"  {size:,}: {name} …", flush=True)
        found[name] = work()

    step("read", lambda: measure("read", data, as_of))
    step("catch-up", lambda: measure("catch-up", data, as_of))
    found["events"] = found["read"]["events"]
    append_few(data)
    # now: after the events appended (an earlier moment inside the period is a past
    # question, which scans the facts instead of reading the counters)
    as_of = as_of_of(data / "ledger.sqlite").isoformat()
    step("restart", lambda: measure("restart", data, as_of))
    if "rank" not in skip:
        step("rank provinces", lambda: command(data, "rank", "--period", period,
                                               "--as-of", as_of, "--json"))
        step("rank communes", lambda: command(data, "rank", "--period", period, "--kind",
                                              "commune", "--as-of", as_of, "--json"))
    if "live" not in skip:
        step("live", lambda: measure("live", data, as_of, rate=args.rate,
                                     seconds=args.seconds))
    if "replay" not in skip:
        step("replay", lambda: measure("replay", data, as_of))
    if "verify" not in skip:
        step("verify", lambda: measure("verify", data, as_of))
    return found


def report(size: int, found: dict[str, Any]) -> None:
    read = found["read"]["seconds"]
    print(f"\n{found['events']:,} events (target {size:,}); read and decode: "
          f"{read:.1f} s ({found['events'] / read:,.0f} events/s)")
    print(f"{'what':<22}{'seconds':>10}{'× read':>9}{'peak RSS MB':>13}  note")
    for name in ("catch-up", "restart", "replay", "verify", "rank provinces",
                 "rank communes"):
        if name not in found:
            continue
        r = found[name]
        note = ""
        if name == "restart":
            note = (f"resume {r['resume_seconds']:.1f} s from the snapshot at "
                    f"{r['snapshot']:,}")
        if name == "verify":
            note = (f"{r['differences']} differences; recomputing process's peak RSS "
                    f"{r.get('child_rss_mb', 0):,.0f} MB")
        print(f"{name:<22}{r['seconds']:>10.1f}{r['seconds'] / read:>9.2f}"
              f"{r['rss_mb']:>13,.0f}  {note}")
    if "live" in found:
        r = found["live"]
        print(f"live: {r['rate']:,.0f} events/s appended ({r['appended']:,} events): "
              f"freshness p50 {r['p50'] * 1000:,.0f} ms, p99 {r['p99'] * 1000:,.0f} ms "
              f"over {r['cycles']:,} cycles; "
              f"score_history {r['history_rows'] / max(r['appended'], 1):.2f} rows "
              f"per appended event ({r['history_rows']:,} rows); "
              f"{r['first_scores']:,} of them first scores of a unit in a period, "
              f"{(r['history_rows'] - r['first_scores']) / max(r['appended'], 1):.2f} rows "
              "per event without them; rankings_current "
              f"{r['ranking_rows'] / max(r['appended'], 1):.2f} rows per event (a history "
              "row each before history rows were left out for rank-only changes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sizes", default="0.5e6,2.5e6")
    parser.add_argument("--cache", type=Path,
                        default=Path.home() / ".cache" / "dossier-bench")
    parser.add_argument("--scratch", type=Path, default=None,
                        help="where the data directories go (default: under --cache)")
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--skip", default="", help="e.g. verify,rank,replay,live")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    scratch = args.scratch or args.cache / "scratch"
    results = {}
    for size in (int(float(s)) for s in args.sizes.split(",")):
        results[size] = run_size(size, args.cache, scratch, args)
        report(size, results[size])
    if len(results) >= 2:
        (_, a), (_, b) = sorted(results.items())[:2]
        print("\nat the larger size beside the smaller (goals of issue 15 in brackets):")
        print(f"  runner peak RSS ×{b['catch-up']['rss_mb'] / a['catch-up']['rss_mb']:.2f} "
              "[≤ 1.5]; restart "
              f"{b['restart']['seconds']:.1f} s [≤ 3 s]")
    print()


if __name__ == "__main__":
    main()
