"""The API in process (a ledger, keys, no live tables) and ``dossier serve`` in a subprocess
(a simulated ledger, the runner and chDB), both on fixed clocks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.keys import KeyStore, Role
from app.api.server import create_app
from app.api.state import ApiState
from ledger.application import DossierLedger
from ledger.config import StoreConfig
from ledger.transfer import export_lines, import_lines
from tests.conftest import EXAMPLE_EVENTS, WORKLOAD_AS_OF

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.fromisoformat("2026-11-20T12:00:00+07:00")
H = dict[str, str]


def bearer(secret: str) -> H:
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class Keys:
    """One key of each kind the checks need (secrets)."""

    admin: str
    agency_22: str  # Quảng Ninh and the units below it
    agency_sxd: str  # 22.SXD only
    agency_01: str  # Hà Nội
    auditor: str
    expired: str
    revoked: str


def make_keys(store: KeyStore, now: datetime) -> Keys:
    made = {
        "admin": store.create(Role.ADMIN, None, now),
        "agency_22": store.create(Role.AGENCY, "22", now),
        "agency_sxd": store.create(Role.AGENCY, "22.SXD", now),
        "agency_01": store.create(Role.AGENCY, "01", now),
        "auditor": store.create(Role.AUDITOR, None, now),
        "expired": store.create(Role.ADMIN, None, now - timedelta(days=2),
                                expires_at=now - timedelta(days=1)),
        "revoked": store.create(Role.ADMIN, None, now),
    }
    store.revoke(made["revoked"][0].key_id, now)
    return Keys(**{name: secret for name, (_, secret) in made.items()})


@dataclass
class InProcess:
    client: TestClient
    ledger: DossierLedger
    keys: Keys
    state: ApiState

    def export(self) -> list[bytes]:
        return list(export_lines(self.ledger))


@pytest.fixture
def api(tmp_path: Path) -> Iterator[InProcess]:
    """The app over a SQLite ledger holding the example events; no live tables."""
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=tmp_path / "ledger.sqlite"),
                           clock=lambda: NOW)
    import_lines(ledger, EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True))
    store = KeyStore(tmp_path / "api-keys.json")
    keys = make_keys(store, NOW)
    state = ApiState(ledger=ledger, keys=store, clock=lambda: NOW)
    with TestClient(create_app(state), raise_server_exceptions=False) as client:
        yield InProcess(client, ledger, keys, state)
    ledger.close()


# -- dossier serve in a subprocess --------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    url: str
    data_dir: Path
    keys: Keys
    process: subprocess.Popen[bytes]

    def export(self) -> list[bytes]:
        ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=self.data_dir /
                                           "ledger.sqlite"))
        try:
            return list(export_lines(ledger))
        finally:
            ledger.close()

    def wait_position(self, position: int, timeout: float = 60) -> None:
        """Until the runner has written the live tables up to ``position``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = httpx.get(f"{self.url}/ready", timeout=10).json()
            runner = ready.get("runner") or {}
            if isinstance(runner, dict) and runner.get("position", 0) >= position:
                return
            time.sleep(0.2)
        raise AssertionError(f"the runner did not reach position {position}: {ready}")


def start_served(data_dir: Path, moment: str = WORKLOAD_AS_OF) -> Served:
    from tests.integration.test_clickhouse_live import env_for, simulate

    head = simulate(data_dir)
    keys = make_keys(KeyStore(data_dir / "api-keys.json"),
                     datetime.fromisoformat(moment))
    port = free_port()
    log = (data_dir / "serve.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "tests.api.served", str(data_dir),
                                str(port), moment], cwd=ROOT, env=env_for(data_dir),
                               stdout=log, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", data_dir, keys, process)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("dossier serve exited:\n" +
                                 (data_dir / "serve.log").read_text(errors="replace"))
        try:
            httpx.get(f"{served.url}/health", timeout=2)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    served.wait_position(head)
    return served


def stop_served(served: Served) -> None:
    served.process.terminate()
    try:
        served.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        served.process.kill()


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``dossier serve`` over a small simulated ledger (Quảng Ninh, Hà Nội), runner and
    chDB in the server's process, clocks fixed at WORKLOAD_AS_OF."""
    server = start_served(tmp_path_factory.mktemp("served"))
    try:
        yield server
    finally:
        stop_served(server)


