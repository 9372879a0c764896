"""Shared fixtures: ledgers on every backend, a real PostgreSQL database per test session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ledger.application import DossierLedger
from ledger.config import StoreConfig

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE_EVENTS = FIXTURES / "example-events.jsonl"
# Every workload a test makes starts at a fixed moment (a Monday with no holiday in its week),
# and every score a test compares is evaluated at a fixed moment after it: nothing depends on
# the day or hour the suite runs.
WORKLOAD_START = datetime(2026, 10, 5, 8, 0, tzinfo=timezone(timedelta(hours=7)))
WORKLOAD_AS_OF = "2026-10-12T12:00:00+07:00"
PG_DSN = os.environ.get("DOSSIER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    """A missing service skips its tests and says why; under CI=true that is a failure."""
    if IN_CI:
        pytest.fail(f"required service missing under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A fresh PostgreSQL database on the server of DOSSIER_TEST_PG_DSN, dropped at the end."""
    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except Exception as error:  # any connection failure means: no server here
        skip_or_fail(f"PostgreSQL not reachable at {PG_DSN}: {error}")
        return
    name = f"dossier_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    parts = conninfo_to_dict(PG_DSN)
    parts["dbname"] = name
    try:
        yield make_conninfo(**parts)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def pg_dsn(pg_server: str) -> Iterator[str]:
    """An empty schema-less database: the ledger tables are dropped after each test."""
    import psycopg

    yield pg_server
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")


class FrozenClock:
    """The ledger's clock in tests: fixed, and moved on explicitly."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreConfig:
    if request.param == "memory":
        return StoreConfig("memory")
    if request.param == "sqlite":
        return StoreConfig("sqlite", sqlite_path=tmp_path / "ledger.sqlite")
    dsn = request.getfixturevalue("pg_dsn")
    return StoreConfig("postgres", pg_dsn=dsn)


@pytest.fixture
def ledger(store: StoreConfig, clock: FrozenClock) -> Iterator[DossierLedger]:
    app = DossierLedger(store, clock=clock)
    yield app
    app.close()


@pytest.fixture
def memory_ledger(clock: FrozenClock) -> Iterator[DossierLedger]:
    app = DossierLedger(StoreConfig("memory"), clock=clock)
    yield app
    app.close()


@pytest.fixture(params=["compiled", "python"])
def compiled_or_python(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on the compiled projections and on their pure-Python reference."""
    from projections.native import missing

    if request.param == "compiled" and missing():
        skip_or_fail(f"compiled projections not built (run `make setup`): {missing()}")
    monkeypatch.setenv("DOSSIER_PURE_PYTHON", "1" if request.param == "python" else "0")
    return str(request.param)
