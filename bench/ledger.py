"""Import throughput on SQLite and PostgreSQL, beside bare eventsourcing ``Application.save``
of equivalent events in batches, beside the same import without the Merkle tree (the
recorders with ``keeps_tree`` off, defined here only), and with the personal data sealed
(ledger.personal: a key per applicant, made, wrapped and stored as the import goes), measured
in the same run.

    python -m bench.ledger [--events 100000] [--repeat 2] [--pg-dsn postgresql://…/postgres]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from rich.console import Console
from rich.table import Table

from bench.workload import STEPS, workload_lines
from ledger.application import DossierLedger
from ledger.config import StoreConfig, postgres_environment
from ledger.personal import KeyStore, Sealer
from ledger.recorders import SealedPostgresApplicationRecorder, SealedSQLiteApplicationRecorder
from ledger.transfer import import_lines

BATCH = 500  # aggregates per save in the bare baseline


class TreelessSQLiteRecorder(SealedSQLiteApplicationRecorder):
    """The ledger's SQLite recorder without the Merkle tree: the baseline of its cost."""

    keeps_tree = False


class TreelessPostgresRecorder(SealedPostgresApplicationRecorder):
    keeps_tree = False


TREELESS = {"sqlite": "bench.ledger:TreelessSQLiteRecorder",
            "postgres": "bench.ledger:TreelessPostgresRecorder"}


class TreelessStore(StoreConfig):
    def environment(self) -> dict[str, str]:
        return super().environment() | {"APPLICATION_RECORDER_TOPIC": TREELESS[self.kind]}


class BareDossier(Aggregate):
    """The same events without rules, chain or wire format: the library's own cost."""

    @event("Submitted")
    def __init__(self, at: datetime, code: str, procedure: str, unit: str, channel: str,
                 applicant_kind: str, applicant_ref: str, vneid_verified: bool,
                 components: list[dict[str, Any]]) -> None:
        self.at = at

    @event("Stepped")
    def step(self, at: datetime, kind: str, data: dict[str, Any]) -> None:
        self.at = at


def bare_save(env: dict[str, str], lines: list[bytes]) -> float:
    import orjson

    events = [orjson.loads(x) for x in lines if b'"dossier.' in x]
    app: Application[Any] = Application(env=env)
    started = time.perf_counter()
    pending: list[BareDossier] = []
    current: BareDossier | None = None
    for e in events:
        at = datetime.fromisoformat(e["at"])
        if e["type"] == "dossier.submitted":
            if current is not None:
                pending.append(current)
            if len(pending) >= BATCH:
                app.save(*pending)
                pending = []
            current = BareDossier(at=at, **e["data"])
        else:
            assert current is not None
            current.step(at=at, kind=e["type"], data=e["data"])
    if current is not None:
        pending.append(current)
    app.save(*pending)
    elapsed = time.perf_counter() - started
    app.close()
    return len(events) / elapsed


def ledger_import(store: StoreConfig, lines: list[bytes], keys: Path | None = None) -> float:
    """Events per second of one import; with ``keys`` (a fresh key store file), personal
    data sealed."""
    sealer = None if keys is None else Sealer(os.urandom(32), KeyStore(keys))
    ledger = DossierLedger(store, sealer=sealer)
    started = time.perf_counter()
    result = import_lines(ledger, lines)
    elapsed = time.perf_counter() - started
    ledger.close()
    return result.events / elapsed


VARIANTS = ("treeless", "tree", "sealed")
"""Without the Merkle tree; as shipped (with it); with it and personal data sealed."""


def variant_rates(run: Callable[[str, str], float], repeat: int) -> dict[str, float]:
    """The best import rate of each variant, alternating runs on fresh stores
    (``run(variant, tag)``)."""
    best = dict.fromkeys(VARIANTS, 0.0)
    for n in range(repeat):
        for variant in VARIANTS:
            best[variant] = max(best[variant], run(variant, f"{variant}{n}"))
    return best


def pg_store(dsn: str, tree: bool) -> StoreConfig:
    return StoreConfig("postgres", pg_dsn=dsn) if tree else TreelessStore("postgres", pg_dsn=dsn)


def with_pg_database(dsn: str, run: Callable[[str], float]) -> float:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = f"dossier_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        return run(make_conninfo(**(conninfo_to_dict(dsn) | {"dbname": name})))
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bare_postgres_environment(dsn: str) -> dict[str, str]:
    env = postgres_environment(dsn)
    env.pop("APPLICATION_RECORDER_TOPIC")  # the library's own recorder
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs with and without the tree (the best of each is shown)")
    parser.add_argument("--pg-dsn", default=os.environ.get(
        "DOSSIER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    lines = workload_lines(args.events)
    console = Console()
    console.print(f"workload: {len(lines)} events, {len(lines) // (len(STEPS) + 1)} dossiers; "
                  f"baseline: bare Application.save in batches of {BATCH} aggregates")
    table = Table(title="ledger import throughput (events/s)")
    for column in ("store", "dossier import", "bare save", "ratio", "without Merkle tree",
                   "with/without (goal ≥ 0.80)", "personal data sealed",
                   "sealed/plain (goal ≥ 0.80)"):
        table.add_column(column, justify="right")

    def row(store: str, rates: dict[str, float], bare: float) -> None:
        ours = rates["tree"]
        table.add_row(store, f"{ours:,.0f}", f"{bare:,.0f}", f"{ours / bare:.2f}",
                      f"{rates['treeless']:,.0f}", f"{ours / rates['treeless']:.2f}",
                      f"{rates['sealed']:,.0f}", f"{rates['sealed'] / ours:.2f}")

    with tempfile.TemporaryDirectory() as tmp:
        sqlite_env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                      "SQLITE_DBNAME": str(Path(tmp) / "bare.sqlite")}
        bare = bare_save(sqlite_env, lines)

        def sqlite_run(variant: str, tag: str) -> float:
            path = Path(tmp) / f"ledger-{tag}.sqlite"
            store = TreelessStore("sqlite", sqlite_path=path) if variant == "treeless" else \
                StoreConfig("sqlite", sqlite_path=path)
            keys = Path(tmp) / f"keys-{tag}.sqlite" if variant == "sealed" else None
            return ledger_import(store, lines, keys)

        row("SQLite", variant_rates(sqlite_run, args.repeat), bare)
        try:
            bare = with_pg_database(args.pg_dsn, lambda dsn: bare_save(
                bare_postgres_environment(dsn), lines))

            def pg_run(variant: str, tag: str) -> float:
                keys = Path(tmp) / f"pg-keys-{tag}.sqlite" if variant == "sealed" else None
                return with_pg_database(args.pg_dsn, lambda dsn: ledger_import(
                    pg_store(dsn, variant != "treeless"), lines, keys))

            row("PostgreSQL", variant_rates(pg_run, args.repeat), bare)
        except Exception as error:  # a missing server is reported, not hidden
            console.print(f"[yellow]PostgreSQL skipped: {error}[/yellow]")
    console.print(table)


if __name__ == "__main__":
    main()
