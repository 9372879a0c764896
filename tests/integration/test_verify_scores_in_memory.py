"""``verify --scores`` on a ledger in memory, which its second process could not open: it is
sent the ledger's events by the first (in a subprocess: chDB opens one directory per
process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from app.simulator.runner import Simulation
from ledger.application import DossierLedger
from ledger.config import StoreConfig
from projections.clickhouse.writer import ClickHouseWriter, open_client
from streams.follower import Follower
from streams.verify import verify_scores

olap = Path(sys.argv[1])
ledger = DossierLedger(StoreConfig("memory"))
start = datetime(2026, 9, 1, 8, tzinfo=timezone(timedelta(hours=7)))
for _ in Simulation(ledger, seed=3, days=1, scale=0.002, start=start,
                    end_at_now=False).iter_run():
    pass
client = open_client(None, olap)
follower = Follower(ledger, ClickHouseWriter(client), pseudonym_key=b"k",
                    clock=lambda: start + timedelta(days=2))
follower.resume()
follower.run(once=True)
found = {}
for step in ("as written", "altered"):
    check = verify_scores(ledger, client, pseudonym_key=b"k",
                          connect=lambda: open_client(None, olap))
    found[step] = {"events": check.events, "facts": check.facts, "scores": check.scores,
                   "history": check.history,
                   "named": sorted({(d.table, d.column) for d in check.differences})}
    client.query("ALTER TABLE dossier_facts UPDATE channel = 'x' WHERE 1 "
                 "SETTINGS mutations_sync = 2")
print(json.dumps(found))
"""


def test_a_ledger_in_memory_is_verified_and_an_altered_fact_named(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "olap")],
                            capture_output=True, text=True, timeout=600,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.splitlines()[-1])
    written, altered = found["as written"], found["altered"]
    assert written["named"] == []
    assert min(written["events"], written["facts"], written["scores"], written["history"]) > 0
    assert altered["named"] == [["dossier_facts", "channel"]]
