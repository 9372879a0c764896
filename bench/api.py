"""Sustained command throughput over HTTP (``dossier serve`` with its runner, on loopback)
from several concurrent clients in another process, beside the in-process command rate
(``DossierLedger.record``, the same commands) measured in the same run; p50 and p99 request
latency. Bounded in count and time.

    python -m bench.api [--dossiers 600] [--clients 8] [--seconds 60]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from app.api.keys import KeyStore, Role
from ledger.application import DossierLedger
from ledger.config import StoreConfig

GOAL = 0.5
PROVINCE = "22"
PROCEDURE = "bench-procedure"
console = Console()


Command = tuple[str, str, dict[str, Any]]  # dossier id, event type, body ({at, data})


def commands(prefix: str, dossiers: int, start: datetime) -> list[Command]:
    """Each dossier submitted, received and appraised."""
    out: list[Command] = []
    for n in range(dossiers):
        key, at = f"{prefix}-{n}", start + timedelta(seconds=n)
        submitted = {"code": f"{prefix.upper()}-{n}", "procedure": PROCEDURE, "unit": PROVINCE,
                     "channel": "online", "applicant_kind": "citizen",
                     "applicant_ref": f"ref-{n}", "vneid_verified": True, "components": []}
        out.append((key, "dossier.submitted", {"at": at.isoformat(), "data": submitted}))
        out.append((key, "dossier.received",
                    {"at": (at + timedelta(minutes=5)).isoformat(), "data": {}}))
        out.append((key, "dossier.appraised",
                    {"at": (at + timedelta(minutes=30)).isoformat(), "data": {"by": "staff"}}))
    return out


def seed(ledger: DossierLedger, at: datetime) -> None:
    ledger.record({"type": "procedure.registered", "id": PROCEDURE, "at": at.isoformat(),
                   "data": {"code": "1.000001", "name": "Thủ tục đo", "unit": PROVINCE,
                            "statutory_days": 10, "fee_vnd": 0,
                            "requires_result_document": True, "full_online_eligible": True,
                            "citizen_target": True, "legal_basis_effective_on": "2026-01-01"}})


def in_process(data_dir: Path, dossiers: int, start: datetime) -> tuple[int, float]:
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data_dir / "ledger.sqlite"))
    try:
        seed(ledger, start - timedelta(days=1))
        work = commands("inproc", dossiers, start)
        began = time.perf_counter()
        for n, (key, kind, body) in enumerate(work):  # with idempotency keys, as over HTTP
            ledger.record({"type": kind, "id": key, "at": body["at"], "data": body["data"]},
                          idempotency_key=f"local-{n}")
        return len(work), time.perf_counter() - began
    finally:
        ledger.close()


def load(url: str, key: str, work: list[Command], clients: int,
         seconds: float, results: Any) -> None:
    """The load generator (its own process): ``clients`` threads, each posting its share of
    the dossiers in order, until done or ``seconds`` pass; puts (done, elapsed, latencies)."""
    by_dossier: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for dossier, kind, body in work:
        path = f"/v1/dossiers/{dossier}/{kind.split('.', 1)[1]}"
        by_dossier.setdefault(dossier, []).append((path, body))
    shares: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in range(clients)]
    for n, steps in enumerate(by_dossier.values()):
        shares[n % clients].extend(steps)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(share: list[tuple[str, dict[str, Any]]], n: int) -> None:
        # http.client on one kept-alive connection: a load generator that costs little CPU
        # (the machine's cores are shared with the server)
        host, port = url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        mine: list[float] = []
        for i, (path, body) in enumerate(share):
            if time.monotonic() > deadline:
                break
            payload = orjson.dumps(body)
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                       "Idempotency-Key": f"bench-{n}-{i}"}
            began = time.perf_counter()
            try:
                connection.request("POST", path, payload, headers)
                answer = connection.getresponse()
                text = answer.read()
            except (OSError, http.client.HTTPException) as error:
                failures.append(f"{path}: {error!r}")
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=60)
                continue
            mine.append(time.perf_counter() - began)
            if answer.status != 201:
                failures.append(f"{path}: {answer.status} {text[:120]!r}")
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(share, n)) for n, share in
               enumerate(shares)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((len(latencies), time.perf_counter() - began, latencies, failures[:5]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def over_http(data_dir: Path, dossiers: int, clients: int, seconds: float, start: datetime
              ) -> tuple[int, float, list[float], list[str]]:
    import httpx

    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data_dir / "ledger.sqlite"))
    seed(ledger, start - timedelta(days=1))
    ledger.close()
    _, key = KeyStore(data_dir / "api-keys.json").create(Role.AGENCY, PROVINCE,
                                                         datetime.now(UTC))
    port = free_port()
    env = os.environ | {"DOSSIER_DATA_DIR": str(data_dir), "DOSSIER_STORE": "sqlite"}
    dossier = Path(sys.executable).with_name("dossier")
    server = subprocess.Popen([str(dossier), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if server.poll() is not None:
                said = server.stderr.read().decode(errors="replace") if server.stderr else ""
                raise SystemExit(f"dossier serve exited: {said[-500:]}")
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        results: Any = multiprocessing.get_context("spawn").Queue()
        generator = multiprocessing.get_context("spawn").Process(
            target=load, args=(url, key, commands("http", dossiers, start), clients, seconds,
                               results))
        generator.start()
        done, elapsed, latencies, failures = results.get(timeout=seconds + 120)
        generator.join(30)
        return done, elapsed, latencies, failures
    finally:
        server.terminate()
        server.wait(30)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=600, help="dossiers (3 commands each)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=60.0, help="most seconds of load")
    args = parser.parse_args()
    start = datetime.now(UTC) - timedelta(days=2)  # the ledger refuses the future
    # in process before and after the HTTP run, on fresh ledgers: the machine's speed drifts,
    # and the faster of the two is the one the ratio is taken against (the strict reading)
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second, \
            tempfile.TemporaryDirectory() as third:
        count, before = in_process(Path(first), args.dossiers, start)
        done, elapsed, latencies, failures = over_http(Path(second), args.dossiers,
                                                       args.clients, args.seconds, start)
        _, after = in_process(Path(third), args.dossiers, start)
    spent = min(before, after)
    local_rate, http_rate = count / spent, done / elapsed if elapsed else 0.0
    ratio = http_rate / local_rate if local_rate else 0.0
    table = Table(title="Commands: HTTP (dossier serve, runner on) vs in process")
    for column in ("path", "commands", "seconds", "commands/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right" if column != "path" else "left")
    for label, seconds in (("in process, before", before), ("in process, after", after)):
        table.add_row(label, str(count), f"{seconds:.2f}", f"{count / seconds:,.0f}", "", "")
    table.add_row(f"HTTP, {args.clients} clients", str(done), f"{elapsed:.2f}",
                  f"{http_rate:,.0f}", f"{percentile(latencies, 0.5) * 1000:.1f}",
                  f"{percentile(latencies, 0.99) * 1000:.1f}")
    console.print(table)
    verdict = "meets" if ratio >= GOAL else "misses"
    console.print(f"ratio HTTP / in process (the faster): {ratio:.2f} ({verdict} the goal ≥ "
                  f"{GOAL})")
    if failures:
        console.print(f"[red]{len(failures)} refused requests, e.g. {failures[0]}[/red]")


if __name__ == "__main__":
    main()
