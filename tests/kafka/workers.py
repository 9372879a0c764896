"""Running ``dossier stream worker`` processes in tests, and the rows two runs must share."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.kafka.conftest import CLI, ROOT, env_for

COMPARED = {
    "events": "SELECT * FROM dossier_events FINAL ORDER BY position",
    "facts": "SELECT * FROM dossier_facts FINAL ORDER BY dossier_id",
    "rankings": "SELECT * EXCEPT (position, computed_at) FROM rankings_current FINAL "
                "ORDER BY ALL",
    "latest_history": "SELECT rulebook_id, unit, period, argMax(tuple(* EXCEPT (position, "
                      "computed_at, rank)), (position, as_of)) FROM score_history FINAL "
                      "GROUP BY ALL ORDER BY ALL",
}
"""What an embedded run and a partitioned one share: every table as FINAL shows it but for
when a row was computed or written, and for the position at which a score that stopped
changing was last written (the embedded runner writes at its cycles, the workers at the
relay's marks), so the score history through its latest row per key, without its rank (the
rank when the score last changed: a peer's change one run coalesced into the same cycle the
other wrote apart moves it; the current rank is compared in ``rankings``)."""

Views = dict[str, list[Any]]


def read_views(client: Any) -> Views:
    return {name: json.loads(json.dumps([list(row) for row in client.query(sql).result_rows],
                                        default=str))
            for name, sql in COMPARED.items()}


def chdb_views(olap: Path) -> Views:
    """The views of an embedded run's chDB directory (read in a process of its own: chDB
    opens one directory per process)."""
    code = ("import json, sys; from pathlib import Path; "
            "from projections.clickhouse.writer import open_client; "
            "from tests.kafka.workers import read_views; "
            "c = open_client(None, Path(sys.argv[1])); print(json.dumps(read_views(c)))")
    done = subprocess.run([sys.executable, "-c", code, str(olap)], cwd=ROOT, check=True,
                          capture_output=True, text=True, timeout=300)
    views: Views = json.loads(done.stdout)
    return views


PSEUDONYM_KEY = "test-key"  # the integration tests' (tests.integration.test_clickhouse_live)


def worker_env(data_dir: Path, broker: str, clickhouse: str, state: Path) -> dict[str, str]:
    return env_for(data_dir, broker) | {"DOSSIER_CLICKHOUSE_URL": clickhouse,
                                        "DOSSIER_WORKER_STATE_DIR": str(state),
                                        "DOSSIER_PSEUDONYM_KEY": PSEUDONYM_KEY}


def spawn_worker(data_dir: Path, broker: str, clickhouse: str, state: Path,
                 log: Path, *args: str) -> subprocess.Popen[bytes]:
    """A worker writing its output to ``log`` (snapshots every half second, a session
    timeout of 2 s: a first join takes about 1 s; tansu's end offsets lag behind its
    records, which faust's recovery check takes for a lost changelog)."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-c", CLI, "stream", "worker", "--snapshot-every", "0.5",
             "--session-timeout", "2", "--no-recovery-check", *args],
            env=worker_env(data_dir, broker, clickhouse, state), cwd=ROOT,
            stdout=output, stderr=subprocess.STDOUT)


def tracked(client: Any) -> dict[str, int]:
    """Each runner's tracked position (worker-p0…, worker-national)."""
    rows = client.query("SELECT runner, max(position) FROM runner_tracking GROUP BY runner"
                        ).result_rows
    return {runner: int(position) for runner, position in rows}


def wait_until_tracked(client: Any, position: int, partitions: int, logs: list[Path],
                       seconds: float = 120) -> dict[str, int]:
    """Wait until every partition and the ranking track ``position``."""
    wanted = {f"worker-p{p}" for p in range(partitions)} | {"worker-national"}
    deadline = time.monotonic() + seconds
    found: dict[str, int] = {}
    while time.monotonic() < deadline:
        made = client.query("SELECT count() FROM system.tables WHERE database = "
                            "currentDatabase() AND name = 'runner_tracking'").result_rows
        found = tracked(client) if made[0][0] else {}
        if wanted <= set(found) and all(found[r] >= position for r in wanted):
            return found
        time.sleep(0.25)
    said = "\n".join(log.read_text(errors="replace")[-1500:] for log in logs if log.exists())
    raise AssertionError(f"not all tracked at {position}: {found}\n{said}")
